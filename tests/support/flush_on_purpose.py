"""A plugin for `tests/site/test_isolation.py` only: the old habit of wiping the whole cache store
after each test, to show that the suite's own check then fails the run. Never loaded otherwise."""

from django.core.cache import cache


def pytest_runtest_teardown(item):
    cache.clear()
