"""What a key may do: one policy per class, each refusing with its own error code.

They read only the key snapshot that authentication put on `request.auth` and the request
itself: no database, no cache, so they cost next to nothing on every call.
"""

import enum
import threading
from collections.abc import Iterable

from rest_framework.permissions import BasePermission

from apikeys.keycache import KeySnapshot
from apikeys.models import ApiKey
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


class AddressAllowed(BasePermission):
    """The caller's address must be on the key's allow-list (when it has one)."""

    def has_permission(self, request, view) -> bool:
        snapshot = request.auth
        if not isinstance(snapshot, KeySnapshot):
            return False
        if not address_allowed(snapshot, client_address(request)):
            raise IpNotAllowed()
        return True


class Verdict(enum.Enum):
    """What a key's event list says about one event name."""

    ALLOWED = "allowed"
    REFUSED = "refused"


def event_verdict(snapshot: KeySnapshot, name: str) -> Verdict:
    """May this key send an event of this name? The one place that decides it.

    Single events and every event of a batch are judged here, one name at a time.
    """
    if snapshot.events_mode == ApiKey.EventsMode.ALL or name in snapshot.allowed_events:
        return Verdict.ALLOWED
    return Verdict.REFUSED


def events_check(snapshot: KeySnapshot, names: list[str]) -> None:
    """Refuse the whole request when any of these event names is one the key may not send."""
    refused = [name for name in names if event_verdict(snapshot, name) is Verdict.REFUSED]
    if refused:
        raise EventNotAllowed(list(dict.fromkeys(refused)))
