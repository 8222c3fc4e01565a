"""The production stack, started once for this folder's tests, against the test database."""

import pytest
from django.conf import settings
from django.db import connection

from tests.site.stack import require_nginx, start_stack
from tests.support.processes import live_database_url


@pytest.fixture(scope="package")
def stack(django_db_setup, tmp_path_factory):
    """nginx and both pools (deploy/serve.py) on free ports, on PostgreSQL and Redis.

    One stack for every test of this folder that asks for it. Metrics queries end after 6 s,
    so that a slow query of test_stack_isolation.py is slow for seconds, not minutes.
    """
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    require_nginx()
    running = start_stack(
        tmp_path_factory.mktemp("stack"),
        live_database_url(),
        METRICS_STATEMENT_TIMEOUT="6",
        # Usage counts are flushed after the answers have gone, which would race the flush of
        # the test database between tests (a deadlock with its TRUNCATE); they are not tested here.
        USAGE_RECORDING="false",
    )
    yield running
    assert running.stop() == 0, running.log_text()
