"""The production stack in the foreground: nginx in front of the web pool and the Metrics pool.

    .venv/bin/python deploy/serve.py 127.0.0.1:8080       # make serve HOST=127.0.0.1:8080
    .venv/bin/python deploy/serve.py --pools-only          # a host whose pools another nginx uses
    .venv/bin/python deploy/serve.py --print-nginx-config  # the nginx configuration, and exit

Settings come from the environment or `.env`, as the site's do. Ctrl-C or SIGTERM stops all of
it: nginx first (it finishes the requests it holds), then both pools (each worker finishes its
request). When any process of the stack dies, serve.py stops the others and exits with 1.
"""

import argparse
import grp
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "userflux_site.settings")

from django.conf import settings  # noqa: E402 (after the path is set)

from deploy import pools  # noqa: E402
from deploy.logs import Sink, funnel, say  # noqa: E402

TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
NGINX = os.environ.get("NGINX", "nginx")
# Local nginx talks to the local pools over TCP on loopback, so the pools trust this address.
LOCAL_PROXY = "127.0.0.1/32"
START_SECONDS = 60
ADDRESS = re.compile(r"^[\w.\-]*:?\d+$|^\[[0-9A-Fa-f:.]+\]:\d+$")


@dataclass
class Child:
    """One process of the stack, and the threads that carry its output to the logs."""

    name: str
    process: subprocess.Popen
    sinks: list[Sink] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host.strip("[]"), 0))
        return sock.getsockname()[1]


def _with_port(bind: str) -> str:
    """`host:port`, a free port of this host's in place of port 0."""
    host, _, port = bind.rpartition(":")
    if not ADDRESS.match(bind) or not host:
        raise SystemExit(f"serve: {bind!r} is not host:port.")
    return f"{host}:{port}" if int(port) else f"{host}:{_free_port(host)}"


def _accepts(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=1):
            return True
    except OSError:
        return False


def nginx_config(listen: str, web: list[str], metrics: list[str], runtime_dir: Path) -> str:
    """The nginx configuration of the stack, from the template and the site's settings."""
    user = ""
    if os.geteuid() == 0:  # nginx's workers must not run as root
        group = "nogroup" if _group_exists("nogroup") else "nobody"
        user = f"user nobody {group};"
    tls, tls_directives = "", ""
    if settings.SERVE_TLS_CERTIFICATE or settings.SERVE_TLS_KEY:
        if not (settings.SERVE_TLS_CERTIFICATE and settings.SERVE_TLS_KEY):
            raise SystemExit("serve: set both SERVE_TLS_CERTIFICATE and SERVE_TLS_KEY, or neither.")
        tls = " ssl"
        tls_directives = (
            f"        ssl_certificate {_path(settings.SERVE_TLS_CERTIFICATE)};\n"
            f"        ssl_certificate_key {_path(settings.SERVE_TLS_KEY)};\n"
            "        ssl_protocols TLSv1.2 TLSv1.3;\n"
        )
    values = {
        "listen_tls": tls,
        "tls_directives": tls_directives,
        "worker_processes": "auto",
        "user_directive": user,
        "runtime_dir": str(runtime_dir),
        "max_body_bytes": str(settings.INGEST_MAX_BODY_BYTES),
        "listen": listen,
        "web_servers": "\n".join(f"        server {address};" for address in web),
        "metrics_servers": "\n".join(f"        server {address};" for address in metrics),
        "web_timeout": str(pools.WEB_TIMEOUT_SECONDS),
        "metrics_timeout": str(pools.metrics_timeout()),
        "shutdown_timeout": str(pools.metrics_timeout()),
        "retry_after": str(settings.UNAVAILABLE_RETRY_AFTER_SECONDS),
    }
    for address in [listen, *web, *metrics]:
        if not ADDRESS.match(address):
            raise SystemExit(f"serve: {address!r} is not an address nginx can use (host:port).")

    def fill(match: re.Match) -> str:
        return values[match.group(1)]

    return re.sub(r"\{\{(\w+)\}\}", fill, TEMPLATE.read_text())


def _path(text: str) -> str:
    path = Path(text).resolve()
    if not path.is_file() or re.search(r"[\s;{}'\"]", str(path)):
        raise SystemExit(f"serve: {text!r} is not a file nginx can be given.")
    return str(path)


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _start(name: str, argv: list[str], env: dict, log_dir: Path | None) -> Child:
    # A process group of its own: Ctrl-C reaches serve.py alone, which stops the stack in order.
    # setpriv ties the child's life to ours, should serve.py itself be killed.
    setpriv = shutil.which("setpriv")
    if setpriv:
        argv = [setpriv, "--pdeathsig", "TERM", "--", *argv]
    process = subprocess.Popen(  # noqa: S603 (our own programs, no shell)
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        process_group=0,
    )
    # Each process writes its access log to stdout and everything else to stderr.
    out = Sink.for_stream(log_dir, f"{name}-access.log", sys.stdout, f"[{name}] ")
    err = Sink.for_stream(log_dir, f"{name}-error.log", sys.stderr, f"[{name}] ")
    child = Child(name, process, [out, err])
    child.threads = [funnel(process.stdout, out), funnel(process.stderr, err)]
    return child


def _wait_until(check, child: Child, what: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not check():
        if child.process.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.process.returncode} {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{child.name} did not start in {START_SECONDS} s")
        time.sleep(0.05)


def _stop(children: list[Child], deadline_seconds: float) -> None:
    """nginx first, gracefully (SIGQUIT), then the pools (SIGTERM); SIGKILL past the deadline."""
    nginx = [child for child in children if child.name == "nginx"]
    others = [child for child in children if child.name != "nginx"]
    for group, stop_signal in ((nginx, signal.SIGQUIT), (others, signal.SIGTERM)):
        for child in group:
            if child.process.poll() is None:
                child.process.send_signal(stop_signal)
        for child in group:
            try:
                child.process.wait(timeout=deadline_seconds)
            except subprocess.TimeoutExpired:
                say(f"{child.name} did not stop in {deadline_seconds:g} s: killed")
                child.process.kill()
                child.process.wait()
    for child in children:
        for thread in child.threads:
            thread.join(timeout=5)
        for sink in child.sinks:
            sink.close()


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("listen", nargs="?", default="127.0.0.1:8080", help="nginx's host:port")
    parser.add_argument("--pools-only", action="store_true", help="the two pools, no nginx")
    parser.add_argument("--log-dir", default=None, help="default: SERVE_LOG_DIR")
    parser.add_argument("--runtime-dir", default=None, help="default: a new temporary directory")
    parser.add_argument("--print-nginx-config", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    web_bind = _with_port(settings.SERVE_WEB_BIND)
    metrics_bind = _with_port(settings.SERVE_METRICS_BIND)
    web = [web_bind, *settings.SERVE_WEB_UPSTREAMS]
    metrics = [metrics_bind, *settings.SERVE_METRICS_UPSTREAMS]
    if args.print_nginx_config:
        runtime_dir = Path(args.runtime_dir or "/run/userflux")
        print(nginx_config(args.listen, web, metrics, runtime_dir), end="")
        return 0
    runtime_dir = Path(args.runtime_dir or tempfile.mkdtemp(prefix="userflux-serve-"))
    runtime_dir.mkdir(parents=True, exist_ok=True)
    runtime_dir.chmod(0o755)  # nginx's workers (nobody, when started as root) create files here
    config = nginx_config(args.listen, web, metrics, runtime_dir)
    log_dir_text = args.log_dir if args.log_dir is not None else settings.SERVE_LOG_DIR
    log_dir = Path(log_dir_text) if log_dir_text else None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
    if not settings.DEBUG and not (Path(settings.STATIC_ROOT) / "staticfiles.json").is_file():
        say("static files are not collected: run `manage.py collectstatic --noinput` first")

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())

    env = dict(os.environ)
    proxies = [*settings.TRUSTED_PROXIES, *([] if args.pools_only else [LOCAL_PROXY])]
    env["TRUSTED_PROXIES"] = ",".join(dict.fromkeys(proxies))
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
    children: list[Child] = []
    try:
        for name, bind in (("web", web_bind), ("metrics", metrics_bind)):
            pool_env = {**env, "USERFLUX_POOL": name}
            children.append(_start(name, [*gunicorn, "--bind", bind], pool_env, log_dir))
        for child, bind in zip(children, (web_bind, metrics_bind), strict=True):
            _wait_until(lambda bind=bind: _accepts(bind), child, f"before listening on {bind}")
        say(f"web pool on {web_bind}, Metrics pool on {metrics_bind}")
        if not args.pools_only:
            (runtime_dir / "nginx.conf").write_text(config)
            nginx = [NGINX, "-p", str(runtime_dir), "-c", str(runtime_dir / "nginx.conf")]
            children.append(_start("nginx", [*nginx, "-e", "stderr"], env, log_dir))
            _wait_until(lambda: _accepts(args.listen), children[-1], "before listening")
            say(f"serving on http://{args.listen}/ (Ctrl-C stops)")
        while not stopping.wait(0.2):
            dead = [child for child in children if child.process.poll() is not None]
            if dead:
                say(f"{dead[0].name} exited with {dead[0].process.returncode}: stopping")
                return 1
        say("stopping")
        return 0
    except RuntimeError as error:
        say(f"{error}: stopping")
        return 1
    finally:
        _stop(children, deadline_seconds=pools.metrics_timeout() + 5)
        if args.runtime_dir is None:
            shutil.rmtree(runtime_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
