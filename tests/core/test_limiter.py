"""Key guessing is limited per address, never a valid key; a key's own rate, when set."""

import ipaddress
import time

import pytest

from core import limiter
from tests.support.api import event, stored, unknown_key
from tests.support.isolation import forget_own_keys

pytestmark = pytest.mark.django_db


@pytest.fixture
def limit_3(settings):
    settings.AUTH_FAILURE_LIMIT = 3
    settings.AUTH_FAILURE_WINDOW_SECONDS = 60


def _guess(api, **extra):
    return api.post("/event/ingest", event(), key=unknown_key(), **extra)


def _assert_too_many(response) -> None:
    assert response.status_code == 429
    assert response.json()["code"] == "too_many_attempts"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_guessing_past_the_limit_is_429_but_a_right_key_still_passes(api, secrets, limit_3):
    for _ in range(3):
        assert _guess(api).status_code == 401
    _assert_too_many(_guess(api))
    # A live, valid key is never refused for what others did from its address (a NAT).
    assert api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code == 204
    assert stored()["events"] == 1
    _assert_too_many(_guess(api))  # the guesser is still blocked
    # Another address is not affected.
    assert _guess(api, REMOTE_ADDR="198.51.100.20").status_code == 401


def test_25_bad_keys_then_a_valid_key_from_the_same_address(api, secrets, settings):
    """The issue's case, with the default limit (20 failures a minute)."""
    statuses = [_guess(api).status_code for _ in range(25)]
    assert statuses == [401] * 20 + [429] * 5
    assert api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code == 204


def test_revoked_keys_count_as_failures_but_never_block_live_ones(api, secrets, limit_3, wo_key):
    from apikeys.services import api_key_revoke
    from core.actors import SYSTEM

    api_key_revoke(key=wo_key, by=SYSTEM)
    from apikeys import keycache

    keycache.key_config_changed()
    statuses = [
        api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]
    assert api.post("/event/ingest", event(), key=secrets["readWrite"]).status_code == 204


def test_a_spoofed_forwarded_for_gives_no_fresh_bucket(api, limit_3):
    for n in range(3):
        assert _guess(api, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code == 401
    _assert_too_many(_guess(api, HTTP_X_FORWARDED_FOR="198.51.100.99"))


def test_ipv6_addresses_are_counted_per_64(api, limit_3):
    for n in range(3):
        assert _guess(api, REMOTE_ADDR=f"2001:db8:1:2::{n + 1}").status_code == 401
    _assert_too_many(_guess(api, REMOTE_ADDR="2001:db8:1:2:ffff::9"))
    assert _guess(api, REMOTE_ADDR="2001:db8:1:3::1").status_code == 401


def test_calls_without_an_address_share_a_bucket_that_blocks_only_guessers(
    api, secrets, limit_3, settings
):
    """Behind a unix socket (no REMOTE_ADDR) every caller is in one bucket: a guesser there
    must not block the others, whose keys are valid."""
    no_address = {"REMOTE_ADDR": ""}
    for _ in range(3):
        assert _guess(api, **no_address).status_code == 401
    _assert_too_many(_guess(api, **no_address))
    assert (
        api.post("/event/ingest", event(), key=secrets["writeOnly"], **no_address).status_code
        == 204
    )
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    _assert_too_many(_guess(api, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="unknown"))
    assert limiter.address_bucket(None) == "unknown"


def test_malformed_keys_do_not_count_and_touch_no_shared_counter(api, secrets, limit_3):
    bad = secrets["writeOnly"][:-1] + ("A" if secrets["writeOnly"][-1] != "A" else "B")
    for _ in range(10):
        assert api.post("/event/ingest", event(), key=bad).status_code == 401
    assert api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code == 204


def test_a_block_reaches_other_processes_through_the_shared_cache(api, secrets, limit_3):
    for _ in range(4):
        _guess(api)
    limiter.limiter_reset()  # this process now knows as little as a fresh one
    assert limiter.blocked_for(ipaddress.ip_address("203.0.113.10")) is not None
    _assert_too_many(_guess(api))
    assert api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code == 204


def test_the_limiter_can_be_switched_off(api, settings):
    settings.AUTH_FAILURE_LIMIT = 0
    for _ in range(30):
        assert _guess(api).status_code == 401


def test_success_path_asks_the_shared_cache_nothing(api, secrets, monkeypatch):
    assert api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code == 204
    calls = []
    monkeypatch.setattr(limiter, "cache", _Spy(calls))
    monkeypatch.setattr(limiter, "REFRESH_SECONDS", 3600)
    for _ in range(5):
        assert api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code == 204
    assert calls == []


class _Spy:
    def __init__(self, calls):
        self.calls = calls

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append(name)

        return call


def test_address_buckets():
    assert limiter.address_bucket(ipaddress.ip_address("203.0.113.5")) == "203.0.113.5"
    assert limiter.address_bucket(ipaddress.ip_address("2001:db8::1")) == "2001:db8::/64"


def test_key_rate_limit_when_set(api, secrets, settings):
    settings.KEY_RATE_LIMIT_PER_MINUTE = 2
    key = secrets["writeOnly"]
    assert api.post("/event/ingest", event("one"), key=key).status_code == 204
    assert api.post("/event/ingest", event("two"), key=key).status_code == 204
    response = api.post("/event/ingest", event("three"), key=key)
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert stored()["events"] == 2
    # The rate is per key: the other key is not limited by it.
    assert api.post("/event/ingest", event(), key=secrets["readWrite"]).status_code == 204


def test_key_rate_limit_is_off_by_default(api, secrets):
    for _ in range(20):
        assert api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code == 204


def test_a_block_ends_with_its_window(api, secrets, limit_3):
    for _ in range(4):
        _guess(api)
    _assert_too_many(_guess(api))
    bucket = limiter.address_bucket(ipaddress.ip_address("203.0.113.10"))
    limiter._state.blocked[bucket] = time.time() - 1  # as when the window has passed
    limiter.limiter_reset()
    forget_own_keys()  # and its shared count (only the suite's own keys)
    assert _guess(api).status_code == 401
