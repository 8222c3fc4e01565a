"""Calls through the whole stack (middleware, auth, permissions, views) for usage tests."""

import itertools
import json

from django.test import Client

from apikeys import usage

EVENT = {
    "timestamp": 1_767_225_600_000,
    "userId": "user-1",
    "anonymousId": None,
    "name": "page_view",
    "properties": {},
    "deviceData": None,
}
_SERIAL = itertools.count()


def ingest(client: Client, secret: str, *, address: str, names=("page_view",), **meta) -> int:
    """POST a batch of events with these names from this peer address; the status code."""
    # Each event distinct: identical events (same content and timestamp) are stored once.
    body = {"events": [{**EVENT, "name": name, "eventId": f"e{next(_SERIAL)}"} for name in names]}
    response = client.generic(
        "POST",
        "/event/ingest/batch",
        json.dumps(body),
        content_type="application/json",
        REMOTE_ADDR=address,
        HTTP_AUTHORIZATION=f"Bearer {secret}",
        **meta,
    )
    return response.status_code


def flushed() -> None:
    """Write what this process counted, as the flush after a request would."""
    assert usage.usage_flush()
