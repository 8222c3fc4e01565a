"""gunicorn's configuration for either pool of the production stack (deploy/pools.py).

    USERFLUX_POOL=web gunicorn -c deploy/gunicorn.conf.py        # or USERFLUX_POOL=metrics

deploy/serve.py starts both this way, each with `--bind` on a port of its choosing. Everything
else comes from the site's settings (the environment or `.env`), read when gunicorn starts.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "userflux_site.settings")

from deploy import pools  # noqa: E402 (after the path is set)

_pool = pools.pool(os.environ.get("USERFLUX_POOL", "web"))

wsgi_app = "userflux_site.wsgi:application"
chdir = str(ROOT)
proc_name = f"userflux-{_pool.name}"
bind = [_pool.bind]
worker_class = _pool.worker_class
workers = _pool.workers
threads = _pool.threads
timeout = _pool.timeout
# On SIGTERM a worker finishes the requests it holds, for at most this long.
graceful_timeout = _pool.graceful_timeout
# nginx keeps connections to the pools short; an idle one is closed soon.
keepalive = 5
# A worker is replaced now and then, so that memory a rare large answer took is given back.
max_requests = 20_000
max_requests_jitter = 2_000
# nginx forwards no request line longer than it accepted (large_client_header_buffers).
limit_request_line = 8190
# serve.py manages the pools by signals; no control socket (its default path is one per user,
# which the two pools, or two stacks, would fight over).
control_socket_disable = True

# Both logs to the standard streams, which serve.py redacts again and writes where asked; the
# access log leaves out the query string, as nginx's does. The client is nginx's X-Forwarded-For.
errorlog = "-"
accesslog = "-"
access_log_format = '%({x-forwarded-for}i)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
loglevel = "info"
logconfig_dict = pools.logconfig()


def worker_exit(server, worker) -> None:
    """A worker going away (stop, reload, max_requests) writes its last key-usage counts first.

    `atexit` would too; this runs earlier, while the worker is still whole.
    """
    from apikeys.usage import usage_flush

    usage_flush()
