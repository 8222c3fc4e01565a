"""Hostile queries through the whole sandbox: refused with a stable code, and nothing ran."""

import tempfile
from pathlib import Path

import pytest

from ingest.models import Event, Profile
from metrics.sql import SqlError

ATTACHED = Path(tempfile.gettempdir()) / "uf-attached.db"
STOLEN = Path(tempfile.gettempdir()) / "uf-stolen.csv"

WRITES = [
    "INSERT INTO eventsTable (name) VALUES ('x')",
    "INSERT INTO ingest_event (name) SELECT name FROM eventsTable",
    "UPDATE eventsTable SET name = 'x'",
    "UPDATE ingest_event SET workspace_id = 1",
    "DELETE FROM eventsTable",
    "DELETE FROM ingest_event",
    "WITH gone AS (DELETE FROM ingest_event RETURNING *) SELECT count(*) FROM gone",
    "WITH moved AS (UPDATE ingest_event SET workspace_id = 1 RETURNING *) SELECT 1",
    "WITH added AS (INSERT INTO ingest_event (name) VALUES ('x') RETURNING *) SELECT 1",
    "SELECT * INTO stolen FROM eventsTable",
    "SELECT * INTO TEMPORARY stolen FROM eventsTable",
    "DROP TABLE ingest_event",
    "DROP TABLE eventsTable",
    "CREATE TABLE stolen AS SELECT * FROM eventsTable",
    "CREATE TABLE x (a int)",
    "CREATE VIEW v AS SELECT * FROM ingest_event",
    "ALTER TABLE ingest_event ADD COLUMN x int",
    "TRUNCATE ingest_event",
    "MERGE INTO ingest_event USING ingest_profile ON true WHEN MATCHED THEN DELETE",
]

STATEMENTS = [
    "SELECT name FROM eventsTable; DELETE FROM ingest_event",
    "SELECT name FROM eventsTable;\nDROP TABLE ingest_event",
    "SELECT name FROM eventsTable /* looks harmless */; DELETE FROM ingest_event -- gone",
    "SELECT name FROM eventsTable --\n; DELETE FROM ingest_event",
    f"COPY ingest_event TO '{STOLEN}'",
    "COPY (SELECT * FROM ingest_event) TO PROGRAM 'cat > /tmp/uf-stolen'",
    "COPY ingest_event FROM '/etc/passwd'",
    f"ATTACH DATABASE '{ATTACHED}' AS stolen",
    "DETACH DATABASE main",
    "PRAGMA writable_schema = 1",
    "PRAGMA table_info(ingest_event)",
    "SET statement_timeout = 0",
    "SET LOCAL transaction_read_only = off",
    "SET ROLE postgres",
    "RESET ALL",
    "BEGIN",
    "COMMIT",
    "LISTEN channel",
    "NOTIFY channel, 'x'",
    "DO $$ BEGIN DELETE FROM ingest_event; END $$",
    "PREPARE p AS DELETE FROM ingest_event",
    "EXECUTE p",
    "VACUUM",
    "LOCK TABLE ingest_event",
    "SELECT name FROM eventsTable FOR UPDATE",
    "SELECT name FROM eventsTable FOR NO KEY UPDATE SKIP LOCKED",
    "EXPLAIN ANALYZE SELECT * FROM ingest_event",
]

FUNCTIONS = [
    "SELECT pg_sleep(10)",
    "SELECT name FROM eventsTable WHERE pg_sleep(10) IS NULL",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_read_binary_file('/etc/passwd')",
    "SELECT pg_ls_dir('/')",
    "SELECT set_config('statement_timeout', '0', false)",
    "SELECT set_config('app.workspace_id', '2', true)",
    "SELECT current_setting('app.workspace_id')",
    "SELECT dblink('dbname=postgres', 'DELETE FROM ingest_event')",
    "SELECT dblink_exec('dbname=postgres', 'DROP TABLE ingest_event')",
    "SELECT lo_import('/etc/passwd')",
    "SELECT lo_export(1, '/tmp/uf-stolen')",
    "SELECT pg_advisory_lock(1)",
    "SELECT pg_notify('channel', 'x')",
    "SELECT pg_cancel_backend(1)",
    "SELECT pg_terminate_backend(1)",
    "SELECT txid_current()",
    "SELECT version()",
    "SELECT current_user",
    "SELECT query_to_xml('DELETE FROM ingest_event', true, true, '')",
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT randomblob(1000000000)",
    "SELECT zeroblob(1000000000)",
    "SELECT sqlite_version()",
    "SELECT writefile('/tmp/uf-stolen', 'x')",
    "SELECT readfile('/etc/passwd')",
    'SELECT "pg_sleep"(10)',
    "SELECT pg_catalog.pg_sleep(10)",
    "SELECT name FROM eventsTable ORDER BY pg_sleep(1)",
    "SELECT count(*) FILTER (WHERE pg_sleep(1) IS NULL) FROM eventsTable",
    "SELECT if(true, 1, 2)",
]

TABLES = [
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM information_schema.columns",
    "SELECT * FROM pg_catalog.pg_user",
    "SELECT * FROM pg_user",
    "SELECT * FROM pg_shadow",
    "SELECT query FROM pg_stat_activity",
    "SELECT * FROM pg_settings",
    "SELECT * FROM sqlite_master",
    "SELECT * FROM sqlite_schema",
    "SELECT * FROM main.sqlite_master",
    "SELECT * FROM temp.sqlite_master",
    "SELECT * FROM ingest_event",
    "SELECT * FROM public.ingest_event",
    'SELECT * FROM "ingest_event"',
    "SELECT * FROM auth_user",
    "SELECT * FROM apikeys_apikey",
    "SELECT * FROM eventsTable e JOIN auth_user u ON true",
    "SELECT name FROM eventsTable UNION SELECT password FROM auth_user",
    "SELECT name FROM eventsTable WHERE userId IN (SELECT username FROM auth_user)",
    "SELECT (SELECT password FROM auth_user LIMIT 1)",
    "WITH x AS (SELECT * FROM auth_user) SELECT * FROM x",
    "SELECT * FROM generate_series(1, 10)",
    "SELECT * FROM json_each('[1]')",
    "SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS t(a int)",
    "SELECT * FROM pg_ls_dir('/')",
    "SELECT * FROM a.b.c",
]


def counts():
    return Event.objects.count(), Profile.objects.count()


@pytest.mark.usefixtures("nothing_runs")
@pytest.mark.parametrize(
    ("sql", "code"),
    [(sql, "invalid_sql") for sql in WRITES + STATEMENTS]
    + [(sql, "forbidden_function") for sql in FUNCTIONS]
    + [(sql, "forbidden_table") for sql in TABLES],
)
def test_refused_before_reaching_the_database(run, sql, code):
    before = counts()
    with pytest.raises(SqlError) as caught:
        run(sql)
    error = caught.value
    assert (error.code, error.status) == (code, 400 if code == "invalid_sql" else 403), error
    assert error.detail
    assert counts() == before
    assert not ATTACHED.exists()
    assert not STOLEN.exists()
