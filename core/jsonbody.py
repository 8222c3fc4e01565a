"""The one reader of JSON request bodies, for every API: strict, bounded, with stable errors.

Bodies are read here, not by DRF's parsers, so that the size is checked before the body is read
(`Content-Length`, then the bytes actually read: 413 `body_too_large`), the media type is JSON in
UTF-8 (else 415 `unsupported_media_type`), and parsing refuses what a lenient parser lets through
(400 `invalid_body`): duplicate keys, NaN and Infinity, numbers too large for a float, nesting
deeper than `MAX_DEPTH` (the C parser stops at Python's recursion limit; then the parsed value
is walked once, breadth first), NUL characters and lone surrogates, which no database stores.
`json_encode` writes such values back (to the database, or to hash them) fast.
"""

import json
import math
import re
from typing import Any

import orjson

from core.exceptions import BodyTooLarge, InvalidBody, UnsupportedMediaType

MAX_DEPTH = 32


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


def body_read(request: Any, *, limit: int) -> bytes:
    """The raw body, refused when it is not JSON (415) or larger than `limit` bytes (413)."""
    http_request = getattr(request, "_request", request)
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


def json_encode(value: Any, *, sort_keys: bool = False) -> bytes:
    """Compact UTF-8 JSON of a value this module parsed (or built from one), fast.

    orjson writes it in a tenth of the standard library's time; what orjson refuses (integers
    beyond 64 bits, which `json_parse` keeps exact) is written by the standard library instead,
    so every parsed value can be written back, and a given value always the same way.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except orjson.JSONEncodeError:
        return json.dumps(
            value, ensure_ascii=False, sort_keys=sort_keys, separators=(",", ":")
        ).encode()


def body_absent(request: Any) -> bool:
    """Whether the request sent no body at all (no Content-Length, or 0, and no chunks)."""
    meta = getattr(request, "_request", request).META
    if meta.get("HTTP_TRANSFER_ENCODING"):
        return False
    return (meta.get("CONTENT_LENGTH") or "0").strip() == "0"


def json_object_read(request: Any, *, limit: int, optional: bool = False) -> dict:
    """A body that must be one JSON object (its fields are the caller's to check).

    With `optional`, a request with no body at all (and then any Content-Type, or none) reads
    as `{}`: an endpoint whose every field has a default may be called with headers only.
    """
    if optional and body_absent(request):
        return {}
    value = json_parse(body_read(request, limit=limit))
    if type(value) is not dict:
        raise InvalidBody("The body must be a JSON object.")
    return value
