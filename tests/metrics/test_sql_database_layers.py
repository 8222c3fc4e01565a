"""Each database-side layer alone stops an escape, even if the compiler let one through."""

import os
import sqlite3
import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from ingest.models import Event, Profile
from metrics import sandbox
from metrics.sql import SqlError, compile_query
from metrics.sql.schema import READABLE_COLUMNS


def counts():
    return Event.objects.count(), Profile.objects.count()


def raw(fetch, sql, params=(), *, timeout=5.0):
    """Run SQL that never went through the compiler, straight into one database layer."""
    with pytest.raises(SqlError) as caught:
        fetch(sql, list(params), limit=10, timeout=timeout, using="default")
    return caught.value


# PostgreSQL ---------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.usefixtures("on_postgres")
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; DELETE FROM ingest_event",
        "SELECT 1; UPDATE ingest_event SET workspace_id = workspace_id",
        "SELECT 1; SET statement_timeout = 0",
    ],
)
def test_postgres_driver_refuses_a_second_statement_even_without_parameters(data, sql):
    before = counts()
    error = raw(sandbox._fetch_postgres, sql)
    assert error.code == "query_failed"
    assert counts() == before


@pytest.mark.postgres
@pytest.mark.usefixtures("on_postgres")
@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM ingest_event WHERE workspace_id = %s",
        "UPDATE ingest_event SET name = 'x' WHERE workspace_id = %s",
        "WITH gone AS (DELETE FROM ingest_event WHERE workspace_id = %s RETURNING 1) "
        "SELECT count(*) FROM gone",
        "SELECT * INTO uf_stolen FROM ingest_event WHERE workspace_id = %s",
        "SELECT %s::int AS x FROM ingest_event FOR UPDATE",
    ],
)
def test_postgres_transaction_is_read_only(data, sql):
    before = counts()
    error = raw(sandbox._fetch_postgres, sql, [data.id])
    assert error.code == "query_failed"
    assert counts() == before


@pytest.mark.postgres
@pytest.mark.usefixtures("on_postgres")
def test_postgres_timeout_stops_a_sleep_and_leaves_the_session_as_it_was(data):
    def session():
        with connection.cursor() as cursor:
            values = []
            for name in ("statement_timeout", "transaction_read_only", "lock_timeout"):
                cursor.execute(f"SHOW {name}")
                values.append(cursor.fetchone()[0])
            return values

    before = session()
    started = time.monotonic()
    error = raw(sandbox._fetch_postgres, "SELECT pg_sleep(5)", timeout=0.3)
    assert (error.code, error.status) == ("query_timeout", 400)
    assert time.monotonic() - started < 3
    assert session() == before
    Event.objects.filter(workspace=data).update(name="renamed")  # Django can still write
    assert Event.objects.filter(name="renamed").count() == 4


@pytest.fixture
def reader_url(on_postgres):
    """A role made with the recipe in docs/metrics-sandbox.md; its connection URL."""
    import psycopg
    from psycopg import sql as pg

    params = connection.settings_dict
    role = f"uf_metrics_reader_{os.getpid()}"
    admin = psycopg.connect(
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        dbname=params["NAME"],
        user=params["USER"],
        password=params["PASSWORD"] or None,
        autocommit=True,
    )
    ident = pg.Identifier(role)
    statements = [
        pg.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT").format(ident),
        pg.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(pg.Identifier(params["NAME"]), ident),
        pg.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident),
        *(
            pg.SQL("GRANT SELECT ({}) ON {} TO {}").format(
                pg.SQL(", ").join(map(pg.Identifier, sorted(columns))), pg.Identifier(table), ident
            )
            for table, columns in READABLE_COLUMNS.items()
        ),
        pg.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(ident),
        pg.SQL("ALTER ROLE {} SET work_mem = '16MB'").format(ident),
        pg.SQL("ALTER ROLE {} SET temp_file_limit = '256MB'").format(ident),
        pg.SQL("GRANT SET ON PARAMETER temp_file_limit TO {}").format(ident),
    ]
    try:
        for statement in statements:
            admin.execute(statement)
        host = params["HOST"] or "localhost"
        yield f"postgresql://{role}@{host}:{params['PORT'] or 5432}/{params['NAME']}"
    finally:
        admin.execute(pg.SQL("REVOKE SET ON PARAMETER temp_file_limit FROM {}").format(ident))
        admin.execute(pg.SQL("DROP OWNED BY {}").format(ident))
        admin.execute(pg.SQL("DROP ROLE IF EXISTS {}").format(ident))
        admin.close()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO ingest_event (workspace_id, name) VALUES (1, 'x')",
        "UPDATE ingest_event SET name = 'x'",
        "DELETE FROM ingest_event",
        "TRUNCATE ingest_event",
        "CREATE TABLE uf_stolen (a int)",
        "SELECT * FROM auth_user",
        "SELECT id, key_id FROM ingest_event",
        "SELECT * FROM ingest_eventname",
    ],
)
def test_read_only_role_cannot_write_or_read_other_tables(reader_url, sql):
    import psycopg

    with psycopg.connect(reader_url, autocommit=True) as reader:
        # Even after switching its own default back to read-write, the grants refuse.
        reader.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute(sql)
        assert reader.execute("SELECT count(workspace_id) FROM ingest_event").fetchone()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sandbox_uses_its_own_read_only_connection_when_configured(reader_url, run, settings):
    settings.METRICS_DATABASE_URL = reader_url
    result = run(
        "SELECT userId, ufProperties.urlPath AS path, properties FROM eventsTable "
        "WHERE name = '@{n}' OR 1=1 ORDER BY timestamp",
        {"n": "x"},
    )
    assert [row["userId"] for row in result["rows"]] == ["u1", "u2", "u1", None]
    assert result["rows"][0]["properties"]["plan"] == "pro"
    before = counts()
    for sql in ("SELECT 1; DELETE FROM ingest_event", "DELETE FROM ingest_event"):
        assert raw(sandbox._fetch_postgres, sql).code == "query_failed"
    assert raw(sandbox._fetch_postgres, "SELECT pg_sleep(5)", timeout=0.3).code == ("query_timeout")
    assert counts() == before


# SQLite -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("on_sqlite")
@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM ingest_event",
        "UPDATE ingest_event SET workspace_id = 1",
        "INSERT INTO ingest_event (name) VALUES ('x')",
        "CREATE TABLE uf_stolen (a)",
        "DROP TABLE ingest_event",
        "PRAGMA query_only = 0",
        "PRAGMA writable_schema = 1",
        "SELECT 1; DELETE FROM ingest_event",
        "SELECT * FROM auth_user",
        "SELECT sql FROM sqlite_master",
        "SELECT key_id FROM ingest_event",
        "SELECT received_at FROM ingest_event",
        "SELECT load_extension('/tmp/evil')",
        "SELECT randomblob(10)",
        "SELECT sqlite_version()",
    ],
)
def test_sqlite_authorizer_and_read_only_connection_refuse(data, sql):
    before = counts()
    assert raw(sandbox._fetch_sqlite, sql).code == "query_failed"
    assert counts() == before


@pytest.mark.usefixtures("on_sqlite")
def test_sqlite_attach_creates_no_file(data, tmp_path):
    target = tmp_path / "attached.db"
    for sql in (f"ATTACH DATABASE '{target}' AS stolen", f"VACUUM INTO '{target}'"):
        assert raw(sandbox._fetch_sqlite, sql).code == "query_failed"
    assert not target.exists()


@pytest.mark.usefixtures("on_sqlite")
def test_sqlite_progress_handler_stops_a_runaway_query(data):
    sql = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT max(n) FROM r"
    started = time.monotonic()
    assert raw(sandbox._fetch_sqlite, sql, timeout=0.3).code == "query_timeout"
    assert time.monotonic() - started < 3


def _file_database(path):
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE ingest_event (id integer primary key, workspace_id int, key_id int, "
        "name text, user_id text, anonymous_id text, external_id text, session_id text, "
        '"timestamp" text, received_at text, properties text, uf_properties text, '
        "device_data text)"
    )
    db.executemany(
        'INSERT INTO ingest_event (workspace_id, name, "timestamp", properties, uf_properties)'
        " VALUES (?, ?, '2024-01-01 10:00:00', '{}', ?)",
        [(1, "page_view", '{"urlPath": "/a"}'), (2, "page_view", '{"urlPath": "/other"}')],
    )
    db.commit()
    return db


def test_sqlite_file_database_is_opened_read_only(tmp_path):
    path = tmp_path / "site.sqlite3"
    writer = _file_database(path)  # kept open, as the site's own connection would be
    uri, shared = sandbox.sqlite_uri(str(path))
    assert (uri.endswith("?mode=ro"), shared) == (True, False)
    compiled = compile_query(
        "SELECT name, ufProperties.urlPath AS path FROM eventsTable WHERE 1=1 OR true",
        {},
        dialect="sqlite",
        workspace_id=1,
        row_cap=10,
    )
    names, rows = sandbox._sqlite_run(
        uri, compiled.sql, compiled.params, limit=11, timeout=5, shared=False
    )
    assert (names, rows) == (["name", "path"], [("page_view", "/a")])
    # Without the authorizer, the read-only open alone refuses a write.
    with sqlite3.connect(uri, uri=True) as bare, pytest.raises(sqlite3.OperationalError):
        bare.execute("DELETE FROM ingest_event")
    attached = tmp_path / "attached.db"
    with pytest.raises(SqlError):
        sandbox._sqlite_run(uri, f"ATTACH '{attached}' AS x", (), limit=1, timeout=5, shared=False)
    assert not attached.exists()
    assert writer.execute("SELECT count(*) FROM ingest_event").fetchone() == (2,)
    writer.close()


MEMORY = "file:memorydb_default?mode=memory&cache=shared"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (MEMORY, (MEMORY, True)),
        ("file:/srv/site.db?mode=rwc", ("file:/srv/site.db?mode=ro", False)),
        ("file:/srv/site.db", ("file:/srv/site.db?mode=ro", False)),
        ("/srv/my site.db", ("file:///srv/my%20site.db?mode=ro", False)),
    ],
)
def test_sqlite_uri(name, expected):
    assert sandbox.sqlite_uri(name) == expected


@pytest.mark.parametrize("name", [":memory:", "", "file:x?mode=memory"])
def test_sqlite_private_memory_database_cannot_be_sandboxed(name):
    with pytest.raises(ImproperlyConfigured):
        sandbox.sqlite_uri(name)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_read_only_role_gets_the_per_query_temp_file_limit(reader_url, run, settings):
    settings.METRICS_DATABASE_URL = reader_url
    settings.METRICS_WORK_MEM = "64kB"
    settings.METRICS_TEMP_FILE_LIMIT = "1MB"
    sql = (
        "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 300000) "
        "SELECT i FROM r ORDER BY i DESC LIMIT 1"
    )
    with pytest.raises(SqlError) as caught:
        run(sql)
    assert caught.value.code == "query_too_expensive"
