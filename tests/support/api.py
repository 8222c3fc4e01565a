"""Helpers for the Integration API tests: a JSON client that sends keys, and what was stored."""

import json
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.test import Client

from apikeys import crypto, keycache
from apikeys.models import ApiKey
from ingest.models import Event, EventName, Profile, ProfileAlias, WorkflowRun

CLIENT_IP = "203.0.113.10"


@dataclass
class Api:
    """Calls the API as a client would: JSON bodies, a Bearer key, a chosen peer address."""

    client: Client

    def _meta(self, key: str | None, extra: dict) -> dict:
        meta = {"REMOTE_ADDR": CLIENT_IP, **extra}
        if key is not None:
            meta["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        return meta

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        content_type: str = "application/json",
        **extra: Any,
    ):
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        meta = {"CONTENT_TYPE": content_type, **self._meta(key, extra)}
        return self.client.generic("POST", path, data, content_type=content_type, **meta)

    def get(self, path: str, *, key: str | None = None, **extra: Any):
        return self.client.get(path, **self._meta(key, extra))


def stored() -> dict[str, int]:
    """How many rows of each kind the Integration API has written."""
    return {
        "events": Event.objects.count(),
        "names": EventName.objects.count(),
        "profiles": Profile.objects.count(),
        "aliases": ProfileAlias.objects.count(),
        "runs": WorkflowRun.objects.count(),
    }


NOTHING = {"events": 0, "names": 0, "profiles": 0, "aliases": 0, "runs": 0}


def unknown_key(kind: crypto.SecretKind = crypto.SecretKind.WRITE_ONLY) -> str:
    """A well-formed secret (right shape and checksum) that no key has."""
    return crypto.secret_generate(kind)


def key_changed_behind_services(key: ApiKey, **fields: Any) -> None:
    """Change a key in the database directly (moments services refuse, like a past expiry)."""
    ApiKey.objects.filter(pk=key.pk).update(**fields)
    keycache.key_config_changed()


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def event(name: str = "page_view", **fields: Any) -> dict:
    """An event as UserFlux's backend SDK sends it."""
    return {
        "timestamp": 1_767_225_600_000,  # 2026-01-01
        "userId": "user-1",
        "anonymousId": None,
        "name": name,
        "properties": {},
        "deviceData": None,
        **fields,
    }
