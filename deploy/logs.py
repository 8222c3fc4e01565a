"""Every line the stack's processes write passes the secret redactor on its way to a log.

nginx writes request lines verbatim in its error log (an upstream error, a refused body, a
malformed line); gunicorn and Python write tracebacks to stderr outside any logger. So serve.py
reads each child's stdout and stderr through a pipe and writes them, redacted, to a file in the
log directory or to its own streams. gunicorn's and Django's loggers redact as well: a secret
must get past both to reach a log.
"""

import contextlib
import re
import sys
import threading
from pathlib import Path
from typing import IO
from urllib.parse import unquote

from core.redaction import redact

# A line longer than this is written in pieces (a secret split across two is not recognised,
# but no process of the stack writes such lines: nginx caps its own at 2 KB).
MAX_LINE_BYTES = 64 * 1024
_ESCAPED = re.compile(r"%[0-9A-Fa-f]{2}|\\x[0-9A-Fa-f]{2}")


def scrub(text: str) -> str:
    """The line with every secret redacted, also one written percent- or \\x-escaped."""
    cleaned = redact(text)
    if _ESCAPED.search(cleaned):
        decoded = unquote(cleaned.replace("\\x", "%"))
        if redact(decoded) != decoded:
            return redact(decoded)
    return cleaned


class Sink:
    """Where the lines of one stream go: a file in the log directory, or one of our streams."""

    def __init__(self, stream: IO[str], prefix: str = "", owned: bool = False):
        self.stream = stream
        self.prefix = prefix
        self.owned = owned
        self.lock = threading.Lock()

    @classmethod
    def for_stream(cls, log_dir: Path | None, filename: str, fallback: IO[str], prefix: str):
        if log_dir is None:
            return cls(fallback, prefix)
        return cls(open(log_dir / filename, "a", encoding="utf-8"), owned=True)

    def write(self, line: str) -> None:
        with self.lock:
            self.stream.write(self.prefix + line)
            self.stream.flush()

    def close(self) -> None:
        if self.owned:
            self.stream.close()


def funnel(pipe: IO[bytes], sink: Sink) -> threading.Thread:
    """Copy `pipe` to `sink` line by line, redacted, in a thread that ends with the pipe."""

    def copy() -> None:
        with pipe:
            for raw in iter(lambda: pipe.readline(MAX_LINE_BYTES), b""):
                line = raw.decode("utf-8", "replace")
                if not line.endswith("\n"):
                    line += "\n"
                # Should our own stream be gone, keep draining the pipe all the same.
                with contextlib.suppress(OSError, ValueError):
                    sink.write(scrub(line))

    thread = threading.Thread(target=copy, name=f"log-{sink.prefix or 'file'}", daemon=True)
    thread.start()
    return thread


def say(message: str) -> None:
    """serve.py's own messages, on its stderr."""
    print(f"[serve] {message}", file=sys.stderr, flush=True)
