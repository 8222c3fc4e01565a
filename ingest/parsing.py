"""Reading and validating Integration API bodies: strict, fast, and with errors that say where.

The body is read by `core.jsonbody` (the one reader of every API), not by DRF's parsers: its
size is checked before it is read, duplicate keys and non-finite numbers are refused, nesting is
bounded. Each validator returns plain data; unknown fields are ignored. A rejected body stores
nothing: validation of a whole batch ends before anything is written.

Timestamps are milliseconds since the Unix epoch, from 2000-01-01 to one day past the server's
clock (a client clock running a little fast is not an error; one years off is).
"""

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from core import jsonbody
from core.eventnames import MAX_EVENT_NAME_LENGTH, event_name_valid
from core.exceptions import InvalidBody
from core.jsonbody import json_parse
from core.redaction import redact
from ingest.exceptions import BatchTooLarge

MAX_ID_LENGTH = 200
MIN_TIMESTAMP_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_FUTURE_MS = 24 * 3600 * 1000


@dataclass(slots=True)
class ParsedEvent:
    """One valid event, in the shape the store writes."""

    name: str
    timestamp_ms: float
    user_id: str | None
    anonymous_id: str | None
    external_id: str | None
    session_id: str | None
    properties: dict
    device_data: dict | None
    event_id: str | None = None  # the client's own id for the event: the idempotency key
    client_timestamp: bool = True  # False when the server's clock gave the timestamp
    index: int | None = None  # its place in the batch


@dataclass(slots=True)
class RejectedEvent:
    """An event of a batch that is not stored, and why (an item of the answer's `rejected`)."""

    index: int
    code: str
    detail: str
    field: str | None = None
    name: str | None = None

    def as_json(self) -> dict:
        item = {"index": self.index, "code": self.code, "detail": self.detail}
        if self.field is not None:
            item["field"] = self.field
        if self.name is not None:
            item["name"] = self.name
        return item


def body_read(request: Any) -> bytes:
    """The raw body, refused when it is not JSON (415) or larger than the limit (413)."""
    return jsonbody.body_read(request, limit=settings.INGEST_MAX_BODY_BYTES)


def _id(raw: dict, field: str, index: int | None) -> str | None:
    value = raw.get(field)
    if value is None or value == "":
        return None
    if type(value) is not str:
        raise InvalidBody(f"“{field}” must be a string or null.", field=field, index=index)
    if len(value) > MAX_ID_LENGTH:
        raise InvalidBody(
            f"“{field}” is longer than {MAX_ID_LENGTH} characters.", field=field, index=index
        )
    return value


def _object_field(raw: dict, field: str, index: int | None, *, nullable: bool) -> dict | None:
    value = raw.get(field)
    if value is None:
        return None if nullable else {}
    if type(value) is not dict:
        kind = "a JSON object or null" if nullable else "a JSON object"
        raise InvalidBody(f"“{field}” must be {kind}.", field=field, index=index)
    return value


def event_parse(raw: Any, index: int | None, now_ms: float) -> ParsedEvent:
    """One event from its JSON value, or InvalidBody naming the field (and index) at fault."""
    if type(raw) is not dict:
        raise InvalidBody("An event must be a JSON object.", index=index)
    name = raw.get("name")
    if not event_name_valid(name):
        raise InvalidBody(
            f"“name” must be a string of 1 to {MAX_EVENT_NAME_LENGTH} characters "
            "with no whitespace or control characters.",
            field="name",
            index=index,
        )
    timestamp = raw.get("timestamp")
    client_timestamp = timestamp is not None
    if timestamp is None:
        timestamp = now_ms
    elif type(timestamp) not in (int, float):
        raise InvalidBody(
            "“timestamp” must be a number of milliseconds since 1970-01-01 UTC.",
            field="timestamp",
            index=index,
        )
    elif not MIN_TIMESTAMP_MS <= timestamp <= now_ms + MAX_FUTURE_MS:
        raise InvalidBody(
            "“timestamp” must be between 2000-01-01 and one day from now, in milliseconds.",
            field="timestamp",
            index=index,
        )
    user_id = _id(raw, "userId", index)
    anonymous_id = _id(raw, "anonymousId", index)
    if user_id is None and anonymous_id is None:
        raise InvalidBody(
            "An event needs a “userId” or an “anonymousId”.", field="userId", index=index
        )
    return ParsedEvent(
        name=name,
        timestamp_ms=float(timestamp),
        user_id=user_id,
        anonymous_id=anonymous_id,
        external_id=_id(raw, "externalId", index),
        session_id=_id(raw, "sessionId", index),
        properties=_object_field(raw, "properties", index, nullable=False),
        device_data=_object_field(raw, "deviceData", index, nullable=True),
        event_id=_id(raw, "eventId", index),
        client_timestamp=client_timestamp,
        index=index,
    )


def event_body(request: Any) -> list[ParsedEvent]:
    """The single event of a `POST /event/ingest` body."""
    value = json_parse(body_read(request))
    if type(value) is not dict:
        raise InvalidBody("The body must be a JSON object: one event.")
    return [event_parse(value, None, time.time() * 1000)]


def batch_body(request: Any) -> tuple[list[ParsedEvent], list[RejectedEvent]]:
    """The events of a `POST /event/ingest/batch` body, judged one by one.

    A body that is not `{"events": [...]}`, or holds too many events, is refused whole
    (InvalidBody, BatchTooLarge); otherwise each invalid event becomes a RejectedEvent
    (`invalid_event`, with its index, the field at fault and its name when it has one) and
    the valid ones are returned in order, each with its `index`.
    """
    value = json_parse(body_read(request))
    if type(value) is not dict:
        raise InvalidBody("The body must be a JSON object: {“events”: [...]}.")
    events = value.get("events")
    if type(events) is not list:
        raise InvalidBody("“events” must be a list of events.", field="events")
    limit = settings.INGEST_MAX_BATCH_EVENTS
    if len(events) > limit:
        raise BatchTooLarge(
            f"A batch holds at most {limit:,} events; this one has {len(events):,}."
        )
    now_ms = time.time() * 1000
    parsed: list[ParsedEvent] = []
    rejected: list[RejectedEvent] = []
    for index, raw in enumerate(events):
        try:
            parsed.append(event_parse(raw, index, now_ms))
        except InvalidBody as error:
            name = raw.get("name") if type(raw) is dict else None
            rejected.append(
                RejectedEvent(
                    index=index,
                    code="invalid_event",
                    detail=str(error.detail),
                    field=error.extra.get("field"),
                    name=redact(name) if type(name) is str and name else None,
                )
            )
    return parsed, rejected


@dataclass(slots=True)
class ParsedProfile:
    """An identify call: who, and what to merge into their profile."""

    user_id: str | None
    anonymous_id: str | None
    external_id: str | None
    properties: dict
    device_data: dict | None


def profile_body(request: Any) -> ParsedProfile:
    """The body of `POST /profile`."""
    value = json_parse(body_read(request))
    if type(value) is not dict:
        raise InvalidBody("The body must be a JSON object.")
    profile = ParsedProfile(
        user_id=_id(value, "userId", None),
        anonymous_id=_id(value, "anonymousId", None),
        external_id=_id(value, "externalId", None),
        properties=_object_field(value, "properties", None, nullable=False),
        device_data=_object_field(value, "deviceData", None, nullable=True),
    )
    if profile.user_id is None and profile.anonymous_id is None:
        raise InvalidBody("Identify needs a “userId” or an “anonymousId”.", field="userId")
    return profile


@dataclass(slots=True)
class ParsedTrigger:
    """A workflow trigger call."""

    trigger_id: str
    user_id: str | None
    variables: dict


def trigger_body(request: Any) -> ParsedTrigger:
    """The body of `POST /workflow/trigger`."""
    value = json_parse(body_read(request))
    if type(value) is not dict:
        raise InvalidBody("The body must be a JSON object.")
    trigger_id = _id(value, "triggerId", None)
    if trigger_id is None:
        raise InvalidBody("“triggerId” is required.", field="triggerId")
    return ParsedTrigger(
        trigger_id=trigger_id,
        user_id=_id(value, "userId", None),
        variables=_object_field(value, "variables", None, nullable=False),
    )
