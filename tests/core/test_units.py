"""Pure parts of the key check and the error rendering."""

import ipaddress
import random

import pytest
from rest_framework import exceptions, serializers

from apikeys.permissions import _NetworkIndex
from core import eventnames, jsonbody, networks
from core.exceptions import EventNotAllowed, InvalidBody, api_exception_handler


def _random_network(rng: random.Random):
    if rng.random() < 0.5:
        prefix = rng.randint(1, 32)
        address = ipaddress.IPv4Address(rng.getrandbits(32))
    else:
        prefix = rng.randint(1, 128)
        address = ipaddress.IPv6Address(rng.getrandbits(128))
    return ipaddress.ip_network(f"{address}/{prefix}", strict=False)


def test_the_network_index_matches_exactly_as_address_in_networks():
    rng = random.Random(7)
    for _ in range(200):
        rules = [_random_network(rng) for _ in range(rng.randint(1, 8))]
        index = _NetworkIndex(rules)
        for _ in range(20):
            if rng.random() < 0.5:
                base = rng.choice(rules)
                address = base.network_address + rng.randint(0, base.num_addresses - 1)
            else:
                address = ipaddress.ip_address(rng.getrandbits(32 if rng.random() < 0.5 else 128))
            assert index.matches(address) == networks.address_in_networks(address, rules)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("page_view", True),
        ("Checkout.Completed", True),
        ("café", True),
        ("x" * 200, True),
        ("x" * 201, False),
        ("", False),
        ("a b", False),
        ("a\u3000b", False),
        ("a\x7fb", False),
        ("a\u0085b", False),
        (None, False),
        (1, False),
    ],
)
def test_event_names_one_rule_for_ingestion_and_allow_lists(name, valid):
    assert eventnames.event_name_valid(name) is valid
    assert (eventnames.event_name_problem(name) is None) is valid


def test_nesting_is_bounded_and_brackets_in_strings_do_not_count():
    assert jsonbody.json_parse(("[" * 32 + "]" * 32).encode()) is not None
    assert jsonbody.json_parse(('{"a": "' + "[" * 100 + '"}').encode()) == {"a": "[" * 100}
    with pytest.raises(InvalidBody, match="nested"):
        jsonbody.json_parse(("[" * 33 + "]" * 33).encode())
    with pytest.raises(InvalidBody, match="nested"):
        jsonbody.json_parse(("[" * 100_000 + "]" * 100_000).encode())


def _render(exc, view=None):
    return api_exception_handler(exc, {"view": view, "request": None})


def test_every_error_renders_code_and_detail():
    response = _render(InvalidBody("bad", field="name", index=3))
    assert response.status_code == 400
    assert response.data == {"code": "invalid_body", "detail": "bad", "field": "name", "index": 3}
    response = _render(exceptions.MethodNotAllowed("DELETE"))
    assert response.data["code"] == "method_not_allowed"
    response = _render(serializers.ValidationError({"ttl": ["Too small."]}))
    assert response.data == {"code": "invalid", "detail": "Too small.", "field": "ttl"}


def test_django_404_and_permission_denied_are_rendered_too():
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    assert _render(Http404("secret path"))
    assert _render(Http404()).data["code"] == "not_found"
    assert _render(PermissionDenied()).data["code"] == "permission_denied"


def test_error_details_are_redacted():
    secret = "uf_wo_" + "A" * 38
    response = _render(exceptions.ParseError(f"bad {secret}"))
    assert secret not in str(response.data)
    response = _render(EventNotAllowed([secret, "ok"]))
    assert secret not in str(response.data)
    assert response.data["events"] == ["[redacted]", "ok"]


def test_unexpected_exceptions_are_left_to_django():
    assert _render(RuntimeError("boom")) is None
