"""Exit 0 when `make run` can listen on HOST (host:port or a port), else say why and exit 1.

Used by the Makefile before `runserver`, so that a taken port is said plainly, with the fix.
"""

import errno
import socket
import sys


def split(address: str) -> tuple[str, int]:
    """`runserver`'s address forms: "8000", "127.0.0.1:8000", "[::1]:8000"."""
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def main(address: str) -> int:
    try:
        host, port = split(address)
    except ValueError:
        print(f"HOST={address} is not host:port (e.g. HOST=127.0.0.1:8001).", file=sys.stderr)
        return 1
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                print(
                    f"Port {port} on {host} is already in use (another `make run`?). "
                    f"Stop it, or choose another port: make run HOST={host}:{port + 1}",
                    file=sys.stderr,
                )
            else:
                print(f"Cannot listen on {host}:{port}: {error.strerror}.", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8000"))
