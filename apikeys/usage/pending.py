"""The counts a process holds between two flushes, and how two batches of them add up."""

from collections import Counter
from dataclasses import dataclass, field

# What one process holds between flushes, at most (a flood of distinct addresses or event
# names from one process is counted per hour and outcome, but no longer per address or name).
MAX_PENDING_ADDRESSES = 20_000
MAX_PENDING_EVENTS = 20_000
# Event names held as the calls' own lists until folded (at the flush, or past this many).
MAX_LISTED_NAMES = 200_000
MAX_NAME_LENGTH = 200


@dataclass
class Pending:
    """Counts not yet written. Times are Unix seconds; hours and days are counted from 1970."""

    # (key id, hour, outcome, reason) -> calls
    hours: dict[tuple[int, int, str, str], int] = field(default_factory=dict)
    # (key id, day, address or None) -> [first seen, last seen, accepted, refused, would refuse]
    addresses: dict[tuple[int, int, object], list] = field(default_factory=dict)
    # (key id, day, event name) -> [accepted, refused, would refuse, last seen]
    events: dict[tuple[int, int, str], list] = field(default_factory=dict)
    # secret id -> last used
    secrets: dict[int, float] = field(default_factory=dict)
    # Calls' event names as they came, (key id, day, time, accepted, refused, would refuse):
    # a call pays one append; they are counted in `events` by `events_fold`, off the hot path.
    event_lists: list[tuple] = field(default_factory=list)
    listed_names: int = 0

    def __bool__(self) -> bool:
        return bool(self.hours or self.addresses or self.events or self.secrets or self.event_lists)

    def events_fold(self) -> None:
        """Count the held event-name lists into `events` (a name's last seen is its key's)."""
        slots: dict[tuple[int, int], list] = {}
        for key_id, day, moment, *columns in self.event_lists:
            slot = slots.get((key_id, day))
            if slot is None:
                slot = slots[(key_id, day)] = [Counter(), Counter(), Counter(), moment]
            for counter, names in zip(slot, columns, strict=False):
                if names:
                    counter.update(names)
            slot[3] = max(slot[3], moment)
        self.event_lists, self.listed_names = [], 0
        events = self.events
        for (key_id, day), (accepted, refused, would, last) in slots.items():
            for name in accepted.keys() | refused.keys():
                bucket = (key_id, day, name[:MAX_NAME_LENGTH])
                entry = events.get(bucket)
                if entry is None:
                    if len(events) >= MAX_PENDING_EVENTS:
                        continue
                    entry = events[bucket] = [0, 0, 0, last]
                entry[0] += accepted[name]
                entry[1] += refused[name]
                entry[2] += would[name]
                entry[3] = max(entry[3], last)

    def merge(self, other: "Pending") -> None:
        """Add another batch of counts to these (used when a flush must be retried)."""
        self.events_fold()
        other.events_fold()
        for bucket, calls in other.hours.items():
            self.hours[bucket] = self.hours.get(bucket, 0) + calls
        for bucket, (first, last, *counts) in other.addresses.items():
            entry = self.addresses.get(bucket)
            if entry is None:
                if len(self.addresses) < MAX_PENDING_ADDRESSES:
                    self.addresses[bucket] = [first, last, *counts]
                continue
            entry[0], entry[1] = min(entry[0], first), max(entry[1], last)
            for index, count in enumerate(counts, start=2):
                entry[index] += count
        for bucket, (*counts, last) in other.events.items():
            entry = self.events.get(bucket)
            if entry is None:
                if len(self.events) < MAX_PENDING_EVENTS:
                    self.events[bucket] = [*counts, last]
                continue
            for index, count in enumerate(counts):
                entry[index] += count
            entry[3] = max(entry[3], last)
        for secret_id, last in other.secrets.items():
            self.secrets[secret_id] = max(self.secrets.get(secret_id, last), last)
