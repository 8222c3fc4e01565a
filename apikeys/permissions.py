"""What a key may do: one policy per class, each refusing with its own error code.

They read only the key snapshot that authentication put on `request.auth` and the request
itself: no database, no cache, so they cost next to nothing on every call.

A key's address list and event list are each enforced or monitored (`ApiKey.Enforcement`).
`address_verdict` and `event_verdict` are the one place that decides: ALLOW, REFUSE, or
WOULD_REFUSE (a monitored list: the call or event goes through and is counted as "would
refuse" in the key's usage, apikeys.usage).
"""

import enum
import threading
from collections.abc import Iterable

from rest_framework.permissions import BasePermission

from apikeys.keycache import KeySnapshot
from apikeys.models import ApiKey
from apikeys.usage import usage_note_would_refuse
from core.clientip import client_address
from core.exceptions import EventNotAllowed, InsufficientScope, IpNotAllowed
from core.networks import IPAddress, IPNetwork

# What a view may declare as its `required_scope`.
SCOPE_WRITE = "write"  # the three ingestion POSTs: a Write-Only key suffices
SCOPE_READ_WRITE = "read_write"  # everything else: a Read & Write key only

_SCOPES_OF_KIND = {
    ApiKey.Kind.WRITE_ONLY: frozenset({SCOPE_WRITE}),
    ApiKey.Kind.READ_WRITE: frozenset({SCOPE_WRITE, SCOPE_READ_WRITE}),
}


class HasKey(BasePermission):
    """Only a call authenticated by an Integration key passes."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, KeySnapshot)


class KeyScope(BasePermission):
    """A Write-Only key may make only the calls whose view declares `required_scope = "write"`.

    A view that declares nothing is refused to every key: deny when unsure.
    """

    def has_permission(self, request, view) -> bool:
        snapshot = request.auth
        scope = getattr(view, "required_scope", None)
        if not isinstance(snapshot, KeySnapshot):
            return False
        if scope not in _SCOPES_OF_KIND.get(snapshot.kind, ()):
            raise InsufficientScope()
        return True


class _NetworkIndex:
    """A key's networks as sets of shifted integers, one set per prefix length and family.

    Matching an address is then a few set look-ups, however many rules the key has.
    """

    __slots__ = ("by_version",)

    def __init__(self, networks: Iterable[IPNetwork]):
        by_version: dict[int, dict[int, set[int]]] = {4: {}, 6: {}}
        for network in networks:
            shift = network.max_prefixlen - network.prefixlen
            by_version[network.version].setdefault(shift, set()).add(
                int(network.network_address) >> shift
            )
        self.by_version = {
            version: tuple(sorted(shifts.items())) for version, shifts in by_version.items()
        }

    def matches(self, address: IPAddress) -> bool:
        value = int(address)
        return any(value >> shift in heads for shift, heads in self.by_version[address.version])


_indexes: dict[int, tuple[KeySnapshot, _NetworkIndex]] = {}
_indexes_lock = threading.Lock()
MAX_INDEXES = 10_000


def address_allowed(snapshot: KeySnapshot, address: IPAddress | None) -> bool:
    """Whether the key may be used from this (normalised) address; None is refused."""
    if snapshot.access_mode == ApiKey.AccessMode.ANYWHERE:
        return True
    if address is None:
        return False
    # Snapshots are immutable and replaced on every change, so an index built for one
    # snapshot object stays right for as long as that object is in use.
    entry = _indexes.get(id(snapshot))
    if entry is None or entry[0] is not snapshot:
        entry = (snapshot, _NetworkIndex(snapshot.networks))
        with _indexes_lock:
            if len(_indexes) >= MAX_INDEXES:
                _indexes.clear()
            _indexes[id(snapshot)] = entry
    return entry[1].matches(address)


class Verdict(enum.Enum):
    """What a key's list says of a call or an event."""

    ALLOW = "allow"
    WOULD_REFUSE = "would_refuse"  # not allowed, but the list is monitored: let it through
    REFUSE = "refuse"


IP_NOT_ALLOWED = "ip_not_allowed"
EVENT_NOT_ALLOWED = "event_not_allowed"


def address_verdict(snapshot: KeySnapshot, address: IPAddress | None) -> Verdict:
    """Whether the key may be used from this address, honouring a monitored address list."""
    if address_allowed(snapshot, address):
        return Verdict.ALLOW
    if snapshot.address_enforcement == ApiKey.Enforcement.MONITOR:
        return Verdict.WOULD_REFUSE
    return Verdict.REFUSE


def event_verdict(snapshot: KeySnapshot, name: str) -> Verdict:
    """Whether the key may send an event of this name, honouring a monitored event list."""
    if snapshot.events_mode == ApiKey.EventsMode.ALL or name in snapshot.allowed_events:
        return Verdict.ALLOW
    if snapshot.event_enforcement == ApiKey.Enforcement.MONITOR:
        return Verdict.WOULD_REFUSE
    return Verdict.REFUSE


class AddressAllowed(BasePermission):
    """The caller's address must be on the key's allow-list (when it has one and enforces it).

    A monitored list lets the call through and marks it as one it would have refused.
    """

    def has_permission(self, request, view) -> bool:
        snapshot = request.auth
        if not isinstance(snapshot, KeySnapshot):
            return False
        verdict = address_verdict(snapshot, client_address(request))
        if verdict is Verdict.REFUSE:
            raise IpNotAllowed()
        if verdict is Verdict.WOULD_REFUSE:
            usage_note_would_refuse(request, IP_NOT_ALLOWED)
        return True


def events_check(snapshot: KeySnapshot, names: list[str]) -> list[str]:
    """Refuse the whole request when any of these event names is one the key may not send.

    With a monitored event list nothing is refused: the names it would refuse are returned
    (in order, without repeats), and an empty list when every name is allowed.
    """
    if snapshot.events_mode == ApiKey.EventsMode.ALL:
        return []
    # One set operation in C on the hot path; the ordered list only for the refusal.
    if snapshot.allowed_events.issuperset(names):
        return []
    refused = snapshot.refused_events(names)
    if snapshot.event_enforcement == ApiKey.Enforcement.MONITOR:
        return refused
    raise EventNotAllowed(refused)
