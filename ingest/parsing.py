"""Reading and validating Integration API bodies: strict, fast, and with errors that say where.

The body is read here, not by DRF's parsers, so that its size is checked before it is read
(`Content-Length`, then the bytes actually read), duplicate keys and non-finite numbers are
refused while parsing, and nesting is bounded (the C parser stops at Python's recursion limit;
then the parsed value is walked once, breadth first). Each validator returns
plain data; unknown fields are ignored. A rejected body stores nothing: validation of a whole
batch ends before anything is written.

Timestamps are milliseconds since the Unix epoch, from 2000-01-01 to one day past the server's
clock (a client clock running a little fast is not an error; one years off is).
"""

import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from core.exceptions import BodyTooLarge, InvalidBody, UnsupportedMediaType
from ingest.exceptions import BatchTooLarge

MAX_DEPTH = 32
MAX_NAME_LENGTH = 200
MAX_ID_LENGTH = 200
MIN_TIMESTAMP_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_FUTURE_MS = 24 * 3600 * 1000

EVENT_ID_FIELDS = (
    ("userId", "user_id"),
    ("anonymousId", "anonymous_id"),
    ("externalId", "external_id"),
    ("sessionId", "session_id"),
)


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


class _Duplicate(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _Duplicate(name)
            seen.add(name)
    return result


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


_decoder = json.JSONDecoder(
    object_pairs_hook=_object, parse_float=_finite, parse_constant=_constant
)
# Escapes that Python accepts but PostgreSQL cannot store: NUL, and lone surrogate halves.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _too_deep(value: Any) -> bool:
    """Whether a parsed value nests containers more than MAX_DEPTH levels (breadth first)."""
    level, depth = [value], 1
    while level:
        deeper = []
        for item in level:
            for child in item.values() if type(item) is dict else item:
                if type(child) is dict or type(child) is list:
                    deeper.append(child)
        if deeper and depth >= MAX_DEPTH:
            return True
        level, depth = deeper, depth + 1
    return False


def _storable(value: Any) -> bool:
    """Whether every string (and key) in a value can be stored as UTF-8 text without NUL."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            items = (item,)
        elif isinstance(item, dict):
            items = tuple(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
            continue
        else:
            continue
        for text in items:
            if "\x00" in text:
                return False
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


def _media_type_check(meta: dict) -> None:
    media_type, _, parameters = meta.get("CONTENT_TYPE", "").partition(";")
    if media_type.strip().lower() != "application/json":
        raise UnsupportedMediaType()
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in {
            "utf-8",
            "utf8",
        }:
            raise UnsupportedMediaType("JSON bodies are UTF-8; send “charset=utf-8” or none.")


def body_read(request: Any) -> bytes:
    """The raw body, refused when it is not JSON (415) or larger than the limit (413)."""
    http_request = getattr(request, "_request", request)
    limit = settings.INGEST_MAX_BODY_BYTES
    try:
        declared = int(http_request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise InvalidBody("The Content-Length header is not a number.") from None
    if declared > limit:
        raise BodyTooLarge(f"The body is larger than {limit:,} bytes.")
    _media_type_check(http_request.META)
    body = http_request.read(limit + 1)
    if len(body) > limit:
        raise BodyTooLarge(f"The body is larger than {limit:,} bytes.")
    return body


def json_parse(body: bytes) -> Any:
    """The JSON value of a body, refusing what cannot be stored or processed safely."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidBody("The body is not valid UTF-8.") from None
    try:
        value = _decoder.decode(text)
    except _Duplicate as error:
        raise InvalidBody(f"The key “{error}” appears twice in one object.") from None
    except RecursionError:  # the C parser stops itself at Python's recursion limit
        raise InvalidBody(f"The body is nested more than {MAX_DEPTH} levels deep.") from None
    except ValueError:
        raise InvalidBody("The body is not valid JSON.") from None
    if type(value) in (dict, list) and _too_deep(value):
        raise InvalidBody(f"The body is nested more than {MAX_DEPTH} levels deep.")
    if _SUSPECT_ESCAPE.search(text) and not _storable(value):
        raise InvalidBody("The body holds a \\u0000 character or a lone surrogate.")
    return value


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


def name_valid(name: Any) -> bool:
    """Whether this is an event name: 1 to 200 characters, no whitespace or control character."""
    return (
        type(name) is str
        and 0 < len(name) <= MAX_NAME_LENGTH
        and name.isprintable()
        and " " not in name
    )


def event_parse(raw: Any, index: int | None, now_ms: float) -> ParsedEvent:
    """One event from its JSON value, or InvalidBody naming the field (and index) at fault."""
    if type(raw) is not dict:
        raise InvalidBody("An event must be a JSON object.", index=index)
    name = raw.get("name")
    if not name_valid(name):
        raise InvalidBody(
            f"“name” must be a string of 1 to {MAX_NAME_LENGTH} characters "
            "with no whitespace or control characters.",
            field="name",
            index=index,
        )
    timestamp = raw.get("timestamp")
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
    )


def event_body(request: Any) -> list[ParsedEvent]:
    """The single event of a `POST /event/ingest` body."""
    value = json_parse(body_read(request))
    if type(value) is not dict:
        raise InvalidBody("The body must be a JSON object: one event.")
    return [event_parse(value, None, time.time() * 1000)]


def batch_body(request: Any) -> list[ParsedEvent]:
    """The events of a `POST /event/ingest/batch` body: all valid, or InvalidBody for the first."""
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
    return [event_parse(raw, index, now_ms) for index, raw in enumerate(events)]


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
