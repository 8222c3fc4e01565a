"""Who is calling: the client address, believing `X-Forwarded-For` only from trusted proxies.

A client can write any `X-Forwarded-For` it likes (../shared/SECURITY.md 1), so the header counts
only when the peer (`REMOTE_ADDR`) is one of `settings.TRUSTED_PROXIES`. Then the header is read
from the right, skipping the proxies' own entries, and the first untrusted entry is the client:
entries to its left were written by the client itself and prove nothing. An entry that is not a
bare address (a port, a zone, a name, `unknown`, an empty slot) makes the answer None: callers
fail closed on None (a key limited to Specific locations refuses it).
"""

import ipaddress
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.networks import IPAddress, IPNetwork, address_parse

_REQUEST_ATTRIBUTE = "_uf_client_address"
# The same few peers and headers come again and again: remember recent answers (a pure function
# of them and of the proxies, whose parsed tuple is the same object while the setting stays).
_memo: list = [None, {}]
MAX_ANSWERS = 4096
MAX_MEMO_HEADER = 256


@lru_cache(maxsize=8)
def _proxies_parse(texts: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    proxies = []
    for text in texts:
        try:
            network = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES holds {text!r}, which is not an IP address or network."
            ) from None
        if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped:
            mapped = network.network_address.ipv4_mapped
            network = ipaddress.ip_network(f"{mapped}/{max(network.prefixlen - 96, 0)}")
        proxies.append(network)
    return tuple(proxies)


def trusted_proxies() -> tuple[IPNetwork, ...]:
    """The trusted proxy networks, parsed once per distinct value of the setting."""
    value = getattr(settings, "TRUSTED_PROXIES", None) or ()
    if isinstance(value, str):
        value = (value,)
    return _proxies_parse(tuple(value))


def _trusted(address: IPAddress, proxies: tuple[IPNetwork, ...]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def address_from(
    remote_addr: str | None, forwarded_for: str | None, proxies: tuple[IPNetwork, ...]
) -> IPAddress | None:
    """The client address from the peer, the (comma-joined) X-Forwarded-For and the proxies."""
    peer = address_parse(remote_addr or "")
    if peer is None or not proxies or not _trusted(peer, proxies):
        return peer
    if not forwarded_for:
        return peer
    client = peer
    for entry in reversed(forwarded_for.split(",")):
        client = address_parse(entry.strip())
        if client is None:
            return None
        if not _trusted(client, proxies):
            return client
    # Every hop is a trusted proxy: the farthest one is the best we know of the client.
    return client


def client_address(request: Any) -> IPAddress | None:
    """The client address of a request (Django's or DRF's), worked out once per request."""
    http_request = getattr(request, "_request", request)
    try:
        return getattr(http_request, _REQUEST_ATTRIBUTE)
    except AttributeError:
        pass
    meta = http_request.META
    proxies = trusted_proxies()
    # Without trusted proxies the header is never read, so it must not vary the question.
    forwarded = meta.get("HTTP_X_FORWARDED_FOR") if proxies else None
    question = (meta.get("REMOTE_ADDR"), forwarded)
    if forwarded is not None and len(forwarded) > MAX_MEMO_HEADER:
        address = address_from(*question, proxies)  # too long to be worth remembering
    else:
        proxies_then, answers = _memo
        if proxies_then is not proxies or len(answers) >= MAX_ANSWERS:
            # The setting changed (tests do that), or there were too many distinct callers.
            answers = {}
            _memo[:] = [proxies, answers]
        try:
            address = answers[question]
        except KeyError:
            address = answers[question] = address_from(*question, proxies)
    setattr(http_request, _REQUEST_ATTRIBUTE, address)
    return address
