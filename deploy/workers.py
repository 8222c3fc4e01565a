"""The web pool's worker: gunicorn's sync worker, freed as soon as its answer is sent.

gunicorn's sync worker ends every connection with `close_graceful`: it half-closes, then reads
from the socket until the client closes too (up to 2 s), so that bytes the application never
read cannot make the kernel answer with a reset that destroys the response in flight. The worker
serves nobody meanwhile. On two cores that wait cost ingestion 13 % of its batch throughput
(docs/performance.md), and a client that never closes holds a worker for the full 2 s.

This worker lingers only when it must, as nginx's `lingering_close on` does: when the application
left part of the request body unread (an early 401, 413 or 415), or more bytes already wait
(a pipelined request). When the body was read to its end and nothing waits, it closes at once:
the kernel sends the answer, then FIN, and no reset can follow.
"""

import socket

from gunicorn import util
from gunicorn.http.body import ChunkedReader, EOFReader, LengthReader
from gunicorn.workers.sync import SyncWorker


def body_read_to_end(request) -> bool:
    """Whether gunicorn's request `request` had its whole body read (no body counts as read)."""
    body = getattr(request, "body", None)
    if body is None or body.buf.tell():
        return False
    reader = body.reader
    if isinstance(reader, LengthReader):
        return reader.length == 0
    if isinstance(reader, ChunkedReader):
        return reader.parser is None and not reader.buf.tell()
    if isinstance(reader, EOFReader):
        return reader.finished
    return False


def nothing_waiting(sock) -> bool:
    """Whether the socket holds no unread byte now (a closed peer holds none)."""
    try:
        return not sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    except OSError:
        return True  # the connection is gone: nothing left to protect
    except ValueError:
        return False  # a socket that cannot peek (TLS inside gunicorn): linger, as gunicorn does


class PromptCloseSyncWorker(SyncWorker):
    """A sync worker that closes at once when nothing is left unread (see the module's text)."""

    _read_to_end = False  # of the connection being served

    def init_process(self) -> None:
        linger = util.close_graceful

        def close(sock, *args, **kwargs) -> None:
            if self._read_to_end and nothing_waiting(sock):
                util.close(sock)
            else:
                linger(sock, *args, **kwargs)

        # The sync worker calls `util.close_graceful` by name when a connection ends; this
        # process serves only this worker, so the name is rebound here, before it serves.
        util.close_graceful = close
        super().init_process()

    def handle(self, listener, client, addr) -> None:
        self._read_to_end = False  # a request that fails to parse is never read to its end
        super().handle(listener, client, addr)

    def handle_request(self, listener, req, client, addr):
        try:
            return super().handle_request(listener, req, client, addr)
        finally:
            self._read_to_end = body_read_to_end(req)
