"""The counts a process holds between two flushes, and how two batches of them add up."""

from dataclasses import dataclass, field

# What one process holds between flushes, at most (a flood of distinct addresses or event
# names from one process is counted per hour and outcome, but no longer per address or name).
MAX_PENDING_ADDRESSES = 20_000
MAX_PENDING_EVENTS = 20_000


@dataclass
class Pending:
    """Counts not yet written. Times are Unix seconds; hours and days are counted from 1970."""

    # (key id, hour, outcome, reason) -> calls
    hours: dict[tuple[int, int, str, str], int] = field(default_factory=dict)
    # (key id, day, address) -> [first seen, last seen, accepted, refused, would refuse]
    addresses: dict[tuple[int, int, str], list] = field(default_factory=dict)
    # (key id, day, event name) -> [accepted, refused, would refuse, last seen]
    events: dict[tuple[int, int, str], list] = field(default_factory=dict)
    # secret id -> last used
    secrets: dict[int, float] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.hours or self.addresses or self.events or self.secrets)

    def merge(self, other: "Pending") -> None:
        """Add another batch of counts to these (used when a flush must be retried)."""
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
