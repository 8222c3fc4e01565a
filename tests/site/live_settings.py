"""Settings of the server processes started by `test_live_processes.py`: the site's, plus a
test-only URL that changes keys through the real services (there is no settings page yet)."""

from userflux_site.settings import *  # noqa: F403

ROOT_URLCONF = "tests.site.live_urls"

# Each answer names the worker that gave it, so that a test can show every worker obeys.
MIDDLEWARE = [*MIDDLEWARE, "tests.support.processes.worker_pid_middleware"]  # noqa: F405
