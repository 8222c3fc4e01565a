"""IP allow-list rules: parsing, normalising and matching. Pure functions, no ORM, no settings.

Two traps shape this module (../shared/SECURITY.md 2 and 3): an IPv4-mapped IPv6 address
(`::ffff:10.0.0.1`) never matches an IPv4 network in Python's `ipaddress`, so every address is
unmapped before it is stored or matched; and a prefix means different things per family, so a
single host is always /32 in IPv4 and /128 in IPv6, never "/32" for both.
"""

import ipaddress
from collections.abc import Iterable

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_INPUT_LENGTH = 100


class RuleError(ValueError):
    """An address rule that cannot be stored; the message says why, in words for a person."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


def _unmap(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_parse(text: str) -> IPAddress | None:
    """A client address as a normalised address object, or None when it is not one.

    Mapped IPv6 becomes IPv4. Zones (`fe80::1%eth0`) and ports are not addresses: None.
    """
    if not isinstance(text, str) or not text or len(text) > MAX_INPUT_LENGTH:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        return None
    return _unmap(address)


def rule_parse(text: str) -> IPNetwork:
    """Parse an admin's input into the network to store, or raise RuleError naming the problem."""
    if not isinstance(text, str):
        raise RuleError("Enter an IP address or network.", code="invalid")
    text = text.strip()
    if not text:
        raise RuleError("Enter an IP address or network.", code="required")
    if len(text) > MAX_INPUT_LENGTH:
        raise RuleError("That is too long to be an IP address or network.", code="invalid")
    address_text, slash, prefix_text = text.partition("/")
    if "%" in address_text:
        raise RuleError(
            f"“{text}” has a zone (the part after %); enter the address without it.",
            code="invalid",
        )
    try:
        address = ipaddress.ip_address(address_text)
    except ValueError:
        raise RuleError(
            f"“{text}” is not an IPv4 or IPv6 address or network "
            "(for example 203.0.113.7, 198.51.100.0/24 or 2001:db8::/32).",
            code="invalid",
        ) from None
    mapped = isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None
    if not slash:
        return ipaddress.ip_network(_unmap(address))
    if not prefix_text.isdigit() or len(prefix_text) > 3:
        raise RuleError(f"“{text}” has a prefix length that is not a number.", code="invalid")
    prefix = int(prefix_text)
    if mapped:
        # ::ffff:a.b.c.d/120 covers the same hosts as a.b.c.d/24.
        if prefix < 96 or prefix > 128:
            raise RuleError(
                f"“{text}” is an IPv4-mapped network; its prefix must be between 96 and 128.",
                code="invalid",
            )
        address, prefix = address.ipv4_mapped, prefix - 96
    if prefix > address.max_prefixlen:
        raise RuleError(
            f"“{text}” has a prefix longer than {address.max_prefixlen}, "
            f"the most an IPv{address.version} network can have.",
            code="invalid",
        )
    try:
        network = ipaddress.ip_network(f"{address}/{prefix}", strict=True)
    except ValueError:
        meant = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
        raise RuleError(
            f"“{text}” has host bits set. Did you mean {meant}?", code="host_bits"
        ) from None
    if network.prefixlen == 0:
        raise RuleError(
            f"{network} would allow every address; choose “Anywhere” instead.",
            code="everything",
        )
    return network


def rule_text(network: IPNetwork) -> str:
    """The stored, canonical form of a rule: always with its prefix length."""
    return network.with_prefixlen


def address_in_networks(address: IPAddress | None, networks: Iterable[IPNetwork]) -> bool:
    """Whether a (normalised) client address falls in any of these networks.

    Only the matching: whether a key may be used from an address (its access mode, its rules,
    enforce or monitor) is `apikeys.permissions.address_allowed`, which the APIs run.

    No address, or no network, is a refusal: this fails closed.
    """
    if address is None:
        return False
    address = _unmap(address)
    return any(address.version == network.version and address in network for network in networks)
