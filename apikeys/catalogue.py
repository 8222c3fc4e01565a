"""The event names a key's allowed list is chosen from, supplied by the app that ingests events.

The settings page shows them as chips; this app knows no event table. The ingesting app hands
its reader in when Django starts (`event_catalogue_set`); until then the catalogue is empty.
"""

from collections.abc import Callable

from workspaces.models import Workspace

EventCatalogue = Callable[[Workspace, int], list[str]]

_source: list[EventCatalogue] = []


def event_catalogue_set(source: EventCatalogue) -> None:
    """Register the reader of a workspace's event names: (workspace, limit) -> names."""
    _source[:] = [source]


def event_catalogue(workspace: Workspace, limit: int) -> list[str]:
    """At most `limit` event names seen in a workspace, the most frequent first."""
    return _source[0](workspace, limit) if _source else []
