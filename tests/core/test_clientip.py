"""Who is calling: X-Forwarded-For only from trusted proxies, read from the right."""

import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured

from apikeys import services
from core import clientip
from core.actors import SYSTEM
from core.clientip import address_from, client_address
from tests.support.api import NOTHING, event, stored

PROXIES = clientip._proxies_parse(("10.0.0.0/8", "2001:db8:ffff::/48"))


def ip(text):
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        # No trusted proxy in the path: the header is the client's own words, ignored.
        ("198.51.100.7", "203.0.113.9", "198.51.100.7"),
        ("198.51.100.7", "203.0.113.9, 10.0.0.1", "198.51.100.7"),
        ("198.51.100.7", "garbage", "198.51.100.7"),
        # A trusted proxy: the first untrusted entry from the right is the client.
        ("10.0.0.1", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.1", "  203.0.113.9  ", "203.0.113.9"),
        ("10.0.0.1", "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # spoofed left entry
        ("10.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),  # two proxies
        ("10.0.0.1", "garbage, 203.0.113.9", "203.0.113.9"),  # left of the client: unread
        # Several X-Forwarded-For headers arrive joined by a comma (WSGI, gunicorn).
        ("10.0.0.1", "6.6.6.6,203.0.113.9,10.0.0.3", "203.0.113.9"),
        # Every hop is a trusted proxy: the farthest one.
        ("10.0.0.1", "10.0.0.7, 10.0.0.2", "10.0.0.7"),
        ("10.0.0.1", None, "10.0.0.1"),
        ("10.0.0.1", "", "10.0.0.1"),
        # IPv4-mapped IPv6 is its IPv4 address, as peer, proxy and client.
        ("::ffff:198.51.100.7", None, "198.51.100.7"),
        ("::ffff:10.0.0.1", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.1", "::ffff:203.0.113.9", "203.0.113.9"),
        ("10.0.0.1", "::ffff:10.0.0.9, 10.0.0.2", "10.0.0.9"),
        ("2001:db8:ffff::1", "2001:db8:1::5", "2001:db8:1::5"),
    ],
)
def test_client_address(remote, forwarded, expected):
    assert address_from(remote, forwarded, PROXIES) == ip(expected)


@pytest.mark.parametrize(
    "forwarded",
    [
        "203.0.113.9:443",  # a port
        "[2001:db8::1]:443",
        "fe80::1%eth0",  # a zone
        "unknown",
        "example.com",
        "203.0.113.9, ",  # an empty slot where the client should be
        ",",
        "203.0.113.256",
        "203.0.113.9/32",
        "0x7f.1",
        "1" * 200,
    ],
)
def test_malformed_entry_from_a_trusted_proxy_fails_closed(forwarded):
    assert address_from("10.0.0.1", forwarded, PROXIES) is None


@pytest.mark.parametrize("remote", [None, "", "garbage", "fe80::1%eth0", "10.0.0.1:80"])
def test_malformed_peer_is_no_address(remote):
    assert address_from(remote, "203.0.113.9", PROXIES) is None


def test_trusted_proxies_follow_the_setting(rf, settings):
    settings.TRUSTED_PROXIES = []
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert client_address(request) == ip("10.0.0.1")
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert client_address(request) == ip("203.0.113.9")


def test_client_address_is_worked_out_once_per_request(rf, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert client_address(request) == ip("203.0.113.9")
    request.META["HTTP_X_FORWARDED_FOR"] = "198.51.100.1"
    assert client_address(request) == ip("203.0.113.9")


def test_invalid_trusted_proxy_setting_is_a_configuration_error(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "not-a-network"]
    with pytest.raises(ImproperlyConfigured, match="not-a-network"):
        clientip.trusted_proxies()


@pytest.fixture
def limited(wo_key, django_capture_on_commit_callbacks, settings):
    """The Write-Only key, usable only from 203.0.113.7; 10.0.0.0/8 are trusted proxies."""
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    with django_capture_on_commit_callbacks(execute=True):
        services.ip_rule_add(key=wo_key, network="203.0.113.7", by=SYSTEM)
        services.api_key_set_access_mode(key=wo_key, mode="specific", by=SYSTEM)
    return wo_key


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("remote", "forwarded"),
    [
        ("203.0.113.7", None),
        ("::ffff:203.0.113.7", None),  # mapped IPv6 matches its IPv4 rule
        ("10.0.0.1", "203.0.113.7"),
        ("10.0.0.1", "6.6.6.6, 203.0.113.7"),
        ("10.0.0.1", "198.51.100.1,203.0.113.7,10.0.0.2"),  # several headers, joined
        ("::ffff:10.0.0.1", "::ffff:203.0.113.7"),
    ],
)
def test_allowed_address_may_call(api, secrets, limited, remote, forwarded):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    assert api.post("/event/ingest", event(), key=secrets["writeOnly"], **extra).status_code == 204


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("remote", "forwarded"),
    [
        ("198.51.100.1", "203.0.113.7"),  # spoofed header from an untrusted peer
        ("198.51.100.1", "10.0.0.1, 203.0.113.7"),
        ("10.0.0.1", "203.0.113.7, 198.51.100.1"),  # a trusted proxy, spoofed left entry
        ("10.0.0.1", "203.0.113.7:443"),  # a port: fails closed
        ("10.0.0.1", "fe80::1%eth0"),  # a zone: fails closed
        ("10.0.0.1", "203.0.113.7, unknown"),
        ("10.0.0.1", None),  # the proxy itself
        ("203.0.113.8", None),
        ("::ffff:203.0.113.8", None),
        ("2001:db8::203.0.113.7", None),  # an IPv6 address is not its IPv4 look-alike
    ],
)
def test_address_off_the_list_is_403_and_stores_nothing(api, secrets, limited, remote, forwarded):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    response = api.post("/event/ingest", event(), key=secrets["writeOnly"], **extra)
    assert response.status_code == 403
    assert response.json()["code"] == "ip_not_allowed"
    assert stored() == NOTHING


@pytest.mark.django_db
def test_ipv6_rules_are_per_family(api, secrets, wo_key, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.ip_rule_add(key=wo_key, network="2001:db8::/32", by=SYSTEM)
        services.api_key_set_access_mode(key=wo_key, mode="specific", by=SYSTEM)
    key = secrets["writeOnly"]
    assert (
        api.post("/event/ingest", event(), key=key, REMOTE_ADDR="2001:db8:5::1").status_code == 204
    )
    assert api.post("/event/ingest", event(), key=key, REMOTE_ADDR="2001:db9::1").status_code == 403
    assert api.post("/event/ingest", event(), key=key, REMOTE_ADDR="32.1.13.184").status_code == 403


def test_remembered_answers_follow_the_headers(rf, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    long_chain = ", ".join(["198.51.100.1"] * 40 + ["203.0.113.9"])
    for forwarded, expected in [
        ("203.0.113.9", "203.0.113.9"),
        ("203.0.113.8", "203.0.113.8"),
        ("203.0.113.9", "203.0.113.9"),
        (long_chain, "203.0.113.9"),
        ("bad", None),
    ]:
        request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
        assert client_address(request) == (ip(expected) if expected else None)
    settings.TRUSTED_PROXIES = []
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert client_address(request) == ip("10.0.0.1")
