"""Metrics API fixtures: workspaces made by the services, events written through the ORM."""

import base64
import datetime as dt

import pytest
from django.utils import timezone

from apikeys.provisioning import workspace_provision
from core.actors import SYSTEM
from ingest.models import Event


def encoded(sql: str) -> str:
    return base64.b64encode(sql.encode()).decode()


def events_add(workspace, *names_and_users):
    base = timezone.now() - dt.timedelta(days=1)
    Event.objects.bulk_create(
        [
            Event(
                workspace=workspace,
                name=name,
                user_id=user,
                anonymous_id=f"anon-{user}",
                timestamp=base + dt.timedelta(minutes=index),
                received_at=base,
                properties={"plan": "pro"},
                uf_properties={"urlPath": f"/{workspace.slug}/{index}"},
            )
            for index, (name, user) in enumerate(names_and_users)
        ]
    )


@pytest.fixture
def globex(db):
    created = workspace_provision(name="Globex", slug="globex", by=SYSTEM)
    events_add(created.workspace, ("signup", "g1"), ("signup", "g2"), ("signup", "g3"))
    return created


@pytest.fixture
def acme(created):
    events_add(created.workspace, ("signup", "a1"), ("page_view", "a1"), ("signup", "a2"))
    return created


def exchange(client, created, **extra):
    secrets = created.secrets()
    return client.post(
        "/metrics/auth/token",
        {
            "environmentApiKey": secrets["metricsApiKey"],
            "clientSecret": secrets["metricsClientSecret"],
        },
        content_type="application/json",
        **extra,
    )


@pytest.fixture
def token(client, acme):
    response = exchange(client, acme)
    assert response.status_code == 200, response.content
    return response.json()["accessToken"]


def query(client, token, sql, variables=None, **extra):
    body = {"encodedQuery": encoded(sql)}
    if variables is not None:
        body["variables"] = variables
    return client.post(
        "/metrics/query",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        **extra,
    )
