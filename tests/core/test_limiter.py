"""Key guessing is limited per address before the key check; a key's own rate, when set."""

import ipaddress
import time

import pytest

from core import limiter
from tests.support.api import NOTHING, event, stored, unknown_key

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


def test_guessing_past_the_limit_is_429_even_with_a_right_key(api, secrets, limit_3):
    for _ in range(3):
        assert _guess(api).status_code == 401
    _assert_too_many(_guess(api))
    # Blocked means blocked: a right key from that address learns nothing either.
    _assert_too_many(api.post("/event/ingest", event(), key=secrets["writeOnly"]))
    assert stored() == NOTHING
    # Another address is not affected.
    other = {"REMOTE_ADDR": "198.51.100.20"}
    assert api.post("/event/ingest", event(), key=secrets["writeOnly"], **other).status_code == 204


def test_a_spoofed_forwarded_for_gives_no_fresh_bucket(api, limit_3):
    for n in range(3):
        assert _guess(api, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code == 401
    _assert_too_many(_guess(api, HTTP_X_FORWARDED_FOR="198.51.100.99"))


def test_ipv6_addresses_are_counted_per_64(api, limit_3):
    for n in range(3):
        assert _guess(api, REMOTE_ADDR=f"2001:db8:1:2::{n + 1}").status_code == 401
    _assert_too_many(_guess(api, REMOTE_ADDR="2001:db8:1:2:ffff::9"))
    assert _guess(api, REMOTE_ADDR="2001:db8:1:3::1").status_code == 401


def test_unknown_addresses_share_one_bucket(api, limit_3, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    for forwarded in ("garbage", "1.2.3.4:80", "unknown"):
        assert (
            _guess(api, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded).status_code == 401
        )
    _assert_too_many(_guess(api, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="x"))
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
    _assert_too_many(api.post("/event/ingest", event(), key=secrets["writeOnly"]))


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
    assert api.post("/event/ingest", event(), key=key).status_code == 204
    assert api.post("/event/ingest", event(), key=key).status_code == 204
    response = api.post("/event/ingest", event(), key=key)
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
    _assert_too_many(api.post("/event/ingest", event(), key=secrets["writeOnly"]))
    bucket = limiter.address_bucket(ipaddress.ip_address("203.0.113.10"))
    limiter._state.blocked[bucket] = time.time() - 1  # as when the window has passed
    assert api.post("/event/ingest", event(), key=secrets["writeOnly"]).status_code == 204
