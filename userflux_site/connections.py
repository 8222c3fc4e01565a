"""Kept database connections that the server has closed are replaced before a request uses them.

With CONN_MAX_AGE each worker keeps its PostgreSQL connection between requests. When the
server restarts (or a pooler or failover drops the connection), PostgreSQL says so and closes
the socket; the client learns of it only at its next query, which then fails. Asking
`SELECT 1` before every request (CONN_HEALTH_CHECKS) costs every call a round trip. Instead,
before each request, the kept connection's socket is polled without waiting: an idle
connection has nothing to read, so anything readable (the server's goodbye, or end of file)
means the connection is gone, and it is closed; Django opens a new one when it is next used.
One system call, no round trip. docs/operations.md says what this does not cover.
"""

import select

from django.db import connections


def connections_drop_closed() -> None:
    """Close this thread's idle PostgreSQL connections that the server has already closed."""
    for connection in connections.all(initialized_only=True):
        raw = connection.connection
        if raw is None or connection.vendor != "postgresql" or connection.in_atomic_block:
            continue
        try:
            descriptor = raw.fileno()
        except Exception:  # psycopg raises once it knows the connection is closed
            connection.close()
            continue
        poller = select.poll()
        poller.register(descriptor, select.POLLIN | select.POLLERR | select.POLLHUP)
        if poller.poll(0):
            connection.close()
