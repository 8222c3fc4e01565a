"""Address rules: parsing, normalising, refusing, and matching on and around the edges."""

import ipaddress

import pytest

from core.networks import RuleError, address_in_networks, address_parse, rule_parse, rule_text


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("203.0.113.7", "203.0.113.7/32"),
        (" 203.0.113.7 ", "203.0.113.7/32"),
        ("198.51.100.0/24", "198.51.100.0/24"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("192.0.2.1/32", "192.0.2.1/32"),
        ("2001:db8::1", "2001:db8::1/128"),
        ("2001:DB8::1", "2001:db8::1/128"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1/128"),
        ("::ffff:10.0.0.1", "10.0.0.1/32"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("::1", "::1/128"),
    ],
)
def test_rules_are_normalised(text, stored):
    assert rule_text(rule_parse(text)) == stored


@pytest.mark.parametrize(
    ("text", "code", "says"),
    [
        ("10.0.0.1/8", "host_bits", "10.0.0.0/8"),
        ("2001:db8::1/32", "host_bits", "2001:db8::/32"),
        ("0.0.0.0/0", "everything", "Anywhere"),
        ("::/0", "everything", "Anywhere"),
        ("::ffff:0.0.0.0/96", "everything", "Anywhere"),
        ("not-an-ip", "invalid", "not-an-ip"),
        ("300.1.1.1", "invalid", "300.1.1.1"),
        ("10.0.0.1/33", "invalid", "32"),
        ("2001:db8::/129", "invalid", "128"),
        ("10.0.0.0/abc", "invalid", "prefix"),
        ("10.0.0.0/-1", "invalid", "prefix"),
        ("10.0.0.1:8080", "invalid", "10.0.0.1:8080"),
        ("fe80::1%eth0", "invalid", "zone"),
        ("", "required", "Enter"),
        ("   ", "required", "Enter"),
        ("1" * 200, "invalid", "too long"),
        ("::ffff:10.0.0.0/24", "invalid", "96"),
    ],
)
def test_bad_rules_are_refused_with_a_message_naming_the_problem(text, code, says):
    with pytest.raises(RuleError) as caught:
        rule_parse(text)
    assert caught.value.code == code
    assert says in str(caught.value)


def _nets(*texts):
    return [rule_parse(text) for text in texts]


@pytest.mark.parametrize(
    ("address", "rules", "allowed"),
    [
        ("203.0.113.7", ["203.0.113.7"], True),
        ("203.0.113.8", ["203.0.113.7"], False),
        ("198.51.100.0", ["198.51.100.0/24"], True),
        ("198.51.100.255", ["198.51.100.0/24"], True),
        ("198.51.101.0", ["198.51.100.0/24"], False),
        ("198.51.99.255", ["198.51.100.0/24"], False),
        ("::ffff:198.51.100.9", ["198.51.100.0/24"], True),
        ("::ffff:198.51.101.9", ["198.51.100.0/24"], False),
        ("2001:db8::1", ["2001:db8::/32"], True),
        ("2001:db9::1", ["2001:db8::/32"], False),
        ("2001:db8::1", ["2001:db8::1"], True),
        ("2001:db8::2", ["2001:db8::1"], False),
        # A /32 in IPv6 is not one host, and an IPv4 rule never matches an IPv6 client.
        ("10.0.0.1", ["2001:db8::/32"], False),
        ("::a00:1", ["10.0.0.1"], False),
        ("10.0.0.1", ["192.0.2.0/24", "10.0.0.0/8"], True),
    ],
)
def test_matching(address, rules, allowed):
    assert address_in_networks(address_parse(address), _nets(*rules)) is allowed


def test_no_address_and_no_rules_fail_closed():
    assert address_in_networks(None, _nets("10.0.0.0/8")) is False
    assert address_in_networks(address_parse("10.0.0.1"), []) is False


@pytest.mark.parametrize(
    "text", ["", "10.0.0.1:80", "fe80::1%eth0", "garbage", "10.0.0.0/8", None, "1" * 500]
)
def test_address_parse_refuses_what_is_not_one_address(text):
    assert address_parse(text) is None


def test_address_parse_unmaps_ipv4_mapped_ipv6():
    assert address_parse("::ffff:1.2.3.4") == ipaddress.ip_address("1.2.3.4")
