"""Two workspaces with events and profiles, written straight through the ORM models."""

import datetime as dt

import pytest
from django.db import connection

from ingest.models import Event, Profile
from metrics import sandbox
from workspaces.models import Workspace

UTC = dt.UTC


def at(year: int, month: int, day: int, *hms: int, microsecond: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, *hms, microsecond=microsecond, tzinfo=UTC)


def _event(workspace, name, *, user=None, anon=None, ts, props=None, uf=None, device=None):
    return Event(
        workspace=workspace,
        name=name,
        user_id=user,
        anonymous_id=anon,
        session_id="s-" + (user or anon or "x"),
        timestamp=ts,
        received_at=ts,
        properties=props or {},
        uf_properties=uf or {},
        device_data=device,
    )


def _profile(workspace, user, created, updated, props, *, computed=None):
    anonymous = {"u1": "a1", "u2": "a2"}.get(user, "x9")
    return Profile(
        workspace=workspace,
        user_id=user,
        anonymous_ids=[anonymous],
        properties=props,
        computed_properties=computed or {},
        created_at=created,
        updated_at=updated,
    )


@pytest.fixture
def ws(db):
    return Workspace.objects.create(name="Acme Metrics", slug="acme-metrics")


@pytest.fixture
def other_ws(db):
    return Workspace.objects.create(name="Globex Metrics", slug="globex-metrics")


@pytest.fixture
def data(ws, other_ws):
    """Four events and two profiles in `ws`; a secret event and profile in `other_ws`."""
    Event.objects.bulk_create(
        [
            _event(
                ws,
                "page_view",
                user="u1",
                anon="a1",
                ts=at(2024, 1, 1, 10, 0, 0),
                props={"plan": "pro", "amount": 5, "flag": True, "nested": {"k": "v"}},
                uf={"urlPath": "/home", "urlHost": "acme.test"},
                device={"browser": "Firefox"},
            ),
            _event(
                ws,
                "page_view",
                user="u2",
                anon="a2",
                ts=at(2024, 1, 2, 11, 30, 0, microsecond=250000),
                props={"plan": "free", "amount": 2.5},
                uf={"urlPath": "/pricing"},
            ),
            _event(ws, "signup", user="u1", anon="a1", ts=at(2024, 1, 8, 9, 0, 0)),
            _event(
                ws, "page_view", anon="a3", ts=at(2024, 2, 15, 0, 0, 0), uf={"urlPath": "/docs"}
            ),
            _event(
                other_ws,
                "page_view",
                user="intruder",
                anon="x9",
                ts=at(2024, 1, 1, 12, 0, 0),
                props={"plan": "secret"},
                uf={"urlPath": "/secret"},
            ),
        ]
    )
    Profile.objects.bulk_create(
        [
            _profile(
                ws,
                "u1",
                at(2023, 12, 31, 8),
                at(2024, 1, 8, 9),
                {"plan": "pro", "seats": 3},
                computed={"visits": 2},
            ),
            _profile(ws, "u2", at(2024, 1, 2, 11), at(2024, 1, 2, 11, 30), {"plan": "free"}),
            _profile(other_ws, "intruder", at(2024, 1, 1), at(2024, 1, 1), {"plan": "secret"}),
        ]
    )
    return ws


@pytest.fixture
def run(data):
    """Run SQL as workspace `ws` through the whole sandbox."""

    def _run(sql, variables=None, **options):
        return sandbox.run_query(sql, variables or {}, workspace_id=data.id, **options)

    return _run


@pytest.fixture
def nothing_runs(monkeypatch):
    """Fail the test if a query reaches a database."""

    def refuse(*args, **kwargs):
        raise AssertionError("a refused query reached the database")

    monkeypatch.setattr(sandbox, "_fetch_postgres", refuse)
    monkeypatch.setattr(sandbox, "_fetch_sqlite", refuse)


@pytest.fixture
def on_postgres(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: run with DATABASE_URL=postgres://...")


@pytest.fixture
def on_sqlite(db):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
