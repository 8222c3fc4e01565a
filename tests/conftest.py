"""Fixtures shared by every test: state is built through the real services."""

import pytest
from django.contrib.auth import get_user_model

from apikeys import keycache, usage
from apikeys.provisioning import workspace_provision
from core import limiter, rejections
from core.actors import SYSTEM, Actor
from metrics import cache as metrics_cache
from metrics import fairshare
from userflux_site.sharedcache import breakers_reset
from workspaces.models import Membership
from workspaces.services import membership_add

# Fixtures shared across apps: the Integration API's keys, signed-in page clients, Metrics data.
pytest_plugins = [
    "tests.support.isolation",
    "tests.support.keys",
    "tests.support.web",
    "tests.support.metrics",
]


def _forget_everything():
    from tests.support.isolation import forget_own_keys  # a plugin: imported once registered

    breakers_reset()  # a slow moment of the shared Redis must not spill into the next test
    forget_own_keys()
    keycache.key_config_changed()
    limiter.limiter_reset()
    rejections.rejections_reset()
    usage.usage_reset()
    metrics_cache.local_reset()
    fairshare.local_reset()


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Each test starts with none of the suite's cache keys, no key snapshots, blocks or samples."""
    _forget_everything()
    yield
    _forget_everything()


@pytest.fixture
def created(db):
    """A workspace made by `workspace_provision`, with its secrets (shown once) at hand."""
    return workspace_provision(name="Acme", slug="acme", by=SYSTEM)


@pytest.fixture
def workspace(created):
    return created.workspace


@pytest.fixture
def other_created(db):
    """A second workspace, to prove that nothing crosses between workspaces."""
    return workspace_provision(name="Globex", slug="globex", by=SYSTEM)


@pytest.fixture
def ws_admin(workspace):
    """A user who is an admin of the workspace."""
    user = get_user_model().objects.create_user("alice", password="alice-password-1")
    membership_add(workspace=workspace, user=user, role=Membership.Role.ADMIN, by=SYSTEM)
    return user


@pytest.fixture
def ws_member(workspace):
    """A user who is a plain member of the workspace."""
    user = get_user_model().objects.create_user("bob", password="bob-password-1")
    membership_add(workspace=workspace, user=user, role=Membership.Role.MEMBER, by=SYSTEM)
    return user


@pytest.fixture
def actor(ws_admin):
    return Actor.for_user(ws_admin, ip="198.51.100.7")


def pytest_configure(config):
    """A fast password hasher: tests make many users, and PBKDF2 is slow on purpose.

    The test process's own Redis client waits longer than production's: on a busy CI machine a
    slow answer would open its breaker and turn a cross-process test into a local one. The
    production timeouts are what the real-process tests (tests/apikeys/test_staleness_live.py)
    run with.
    """
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    options = settings.CACHES["default"].get("OPTIONS", {})
    if "SOCKET_TIMEOUT" in options:
        options.update({"SOCKET_TIMEOUT": 2.0, "SOCKET_CONNECT_TIMEOUT": 2.0})


CHROMIUM = "/usr/bin/chromium"


def pytest_collection_modifyitems(config, items):
    """Browser tests need Debian's chromium: skipped without it, except where CI requires it."""
    import os

    if os.path.exists(CHROMIUM) or os.environ.get("REQUIRE_BROWSER"):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)
