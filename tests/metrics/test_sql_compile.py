"""The compiler alone: what it refuses, and the shape of the SQL it produces. No database."""

import pytest

from ingest.models import Event, Profile
from metrics.sql import SqlError, compile_query
from metrics.sql.schema import EVENTS, PROFILES, WORKSPACE_COLUMN

USERFLUX_EXAMPLE = (
    "SELECT timestamp, userId, anonymousId, name, ufProperties.urlPath AS pagePath "
    "FROM eventsTable WHERE name = '@{eventName}' LIMIT @{rowLimit}"
)


def compile_(sql, variables=None, *, dialect="postgres", row_cap=100, workspace_id=42):
    return compile_query(
        sql, variables or {}, dialect=dialect, workspace_id=workspace_id, row_cap=row_cap
    )


def refused(sql, variables=None, **options):
    with pytest.raises(SqlError) as caught:
        compile_(sql, variables, **options)
    return caught.value


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
def test_userflux_example_binds_values_and_filters_the_workspace(dialect):
    compiled = compile_(
        USERFLUX_EXAMPLE, {"eventName": "page_view", "rowLimit": 50}, dialect=dialect
    )
    marker = "%s" if dialect == "postgres" else "?"
    assert compiled.params == (42, "page_view", "page_view")  # inside the fence and out
    assert "page_view" not in compiled.sql
    assert f"workspace_id` = {marker}" in compiled.sql.replace('"', "`")
    assert compiled.sql.endswith("LIMIT 50")
    q = '"' if dialect == "postgres" else "`"
    for name in ("timestamp", "userId", "anonymousId", "name", "pagePath"):
        assert f"AS {q}{name}{q}" in compiled.sql
    assert compiled.column_kinds == {"timestamp": "timestamp"}


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
def test_every_table_reference_is_its_own_filtered_derived_table(dialect):
    sql = (
        "SELECT e.name FROM eventsTable e JOIN profilesTable p ON p.userId = e.userId "
        "WHERE e.userId IN (SELECT userId FROM eventsTable WHERE name = 'signup')"
    )
    compiled = compile_(sql, dialect=dialect, workspace_id=7)
    assert compiled.sql.count("FROM `ingest_event`".replace("`", _quote(dialect))) == 2
    assert compiled.sql.count("FROM `ingest_profile`".replace("`", _quote(dialect))) == 1
    assert compiled.params == (7, 7, 7)


def _quote(dialect):
    return '"' if dialect == "postgres" else "`"


def test_percent_signs_are_doubled_for_psycopg_only():
    sql = "SELECT name FROM eventsTable WHERE name LIKE '%view%' AND 7 % 2 = 1"
    assert "'%%view%%'" in compile_(sql, dialect="postgres").sql
    assert "7 %% 2" in compile_(sql, dialect="postgres").sql
    assert "'%view%'" in compile_(sql, dialect="sqlite").sql


def test_row_cap_limits_the_query_to_cap_plus_one():
    assert compile_("SELECT name FROM eventsTable", row_cap=10).sql.endswith("LIMIT 11")
    assert compile_("SELECT name FROM eventsTable LIMIT 5", row_cap=10).sql.endswith("LIMIT 5")
    assert compile_("SELECT name FROM eventsTable LIMIT 500", row_cap=10).sql.endswith("LIMIT 11")
    union = "SELECT name FROM eventsTable UNION SELECT userId FROM profilesTable"
    assert compile_(union, row_cap=3).sql.endswith("LIMIT 4")


def test_physical_names_match_the_models():
    for table, model in ((EVENTS, Event), (PROFILES, Profile)):
        assert table.physical == model._meta.db_table
        columns = {field.column for field in model._meta.concrete_fields}
        assert {*table.columns.values(), WORKSPACE_COLUMN} <= columns


def test_identifiers_are_case_insensitive_and_keep_their_canonical_spelling():
    compiled = compile_("select USERID, Name AS eventName from EVENTSTABLE order by EVENTNAME")
    assert '"userId" AS "userId"' in compiled.sql
    assert 'AS "eventName"' in compiled.sql
    assert 'ORDER BY "eventName"' in compiled.sql


def test_ctes_get_generated_names_that_cannot_reach_a_real_table():
    compiled = compile_("WITH auth_user AS (SELECT name FROM eventsTable) SELECT * FROM auth_user")
    assert '"auth_user"' not in compiled.sql.split(" AS ", 1)[0]
    assert 'FROM "auth_user"' not in compiled.sql


def test_comments_never_reach_the_database():
    compiled = compile_("SELECT name /* ; DROP TABLE x */ FROM eventsTable -- trailing")
    assert "/*" not in compiled.sql and "--" not in compiled.sql


def test_nesting_is_bounded():
    assert refused("SELECT " + "(" * 300 + "1" + ")" * 300).code == "query_too_deep"
    # A 2,000-term chain is refused by its depth; on a very busy machine the parse may
    # reach the compile budget first, which refuses it as well.
    assert refused("SELECT " + " + ".join(["1"] * 2000)).code in {
        "query_too_deep",
        "compile_timeout",
    }


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("SELECT 1; SELECT 2", "invalid_sql"),
        ("INSERT INTO eventsTable (name) VALUES ('x')", "invalid_sql"),
        ("WITH d AS (DELETE FROM eventsTable RETURNING *) SELECT * FROM d", "invalid_sql"),
        ("SELECT * INTO copied FROM eventsTable", "invalid_sql"),
        ("SELECT name FROM eventsTable FOR UPDATE", "invalid_sql"),
        ("SELECT name FROM eventsTable FOR SHARE", "invalid_sql"),
        ("EXPLAIN ANALYZE SELECT 1", "invalid_sql"),
        ("SELECT $1", "invalid_sql"),
        ("SELECT ?", "invalid_sql"),
        ("SELECT properties->>'plan' FROM eventsTable", "invalid_sql"),
        ("SELECT * FROM (VALUES (1)) AS v(a)", "invalid_sql"),
        ("SELECT DISTINCT ON (name) name FROM eventsTable", "invalid_sql"),
        ("SELECT name FROM eventsTable GROUP BY ROLLUP (name)", "invalid_sql"),
        ("SELECT name::regclass FROM eventsTable", "invalid_sql"),
        ("SELECT interval '1 day'", "invalid_sql"),
        ("SELECT pg_user.usename FROM eventsTable", "invalid_sql"),
        ("SELECT name.first FROM eventsTable", "invalid_sql"),
        ("SELECT name FROM eventsTable LIMIT (SELECT 1)", "invalid_sql"),
        ("SELECT name FROM eventsTable FETCH FIRST 1 ROWS ONLY", "invalid_sql"),
        ("SELECT date_trunc('fortnight', timestamp) FROM eventsTable", "invalid_sql"),
        ("WITH eventsTable AS (SELECT 1) SELECT * FROM eventsTable", "invalid_sql"),
        ("WITH x AS (SELECT 1), X AS (SELECT 2) SELECT * FROM x", "invalid_sql"),
        ("SELECT if(true, 1, 2)", "forbidden_function"),
        ("SELECT ARRAY[1, 2]", "forbidden_function"),
        ("SELECT current_user", "forbidden_function"),
        ("SELECT pg_catalog.pg_sleep(1)", "forbidden_function"),
        ('SELECT "pg_sleep"(1)', "forbidden_function"),
        ("SELECT * FROM eventsTable e, public.ingest_event", "forbidden_table"),
        ('SELECT * FROM "ingest_event"', "forbidden_table"),
        ("TABLE ingest_event", "forbidden_table"),
        # a CTE is visible only where SQL says it is: these names reach real tables
        ("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a", "forbidden_table"),
        (
            "SELECT * FROM (WITH auth_user AS (SELECT 1) SELECT * FROM auth_user) a, auth_user",
            "forbidden_table",
        ),
    ],
)
def test_refusals(sql, code):
    error = refused(sql)
    assert error.code == code
    assert error.status == {"invalid_sql": 400}.get(code, 403)
    assert error.detail


def test_refusals_point_at_the_customers_text():
    error = refused("SELECT '@{a}', name,\n  pg_sleep(10) FROM eventsTable", {"a": 1})
    assert (error.code, error.position) == ("forbidden_function", (2, 3))
    assert "pg_sleep" in error.detail
    error = refused("SELECT @{a} FROM eventsTable WHER name = 1", {"a": 1})
    assert (error.code, error.position) == ("invalid_sql", (1, 35))  # at `name`


@pytest.mark.parametrize(
    "options",
    [{"dialect": "mysql"}, {"workspace_id": "1"}, {"workspace_id": True}, {"row_cap": 0}],
)
def test_programming_errors_are_not_sql_errors(options):
    with pytest.raises(ValueError):
        compile_("SELECT 1", **options)


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
def test_derived_tables_are_fenced_and_only_leak_free_filters_go_inside(dialect):
    sql = (
        "SELECT e.name FROM eventsTable e LEFT JOIN profilesTable p ON p.userId = e.userId "
        "WHERE e.name = '@{n}' AND e.timestamp >= '2024-01-01' AND p.userId = 'u1' "
        "AND CAST(e.name AS integer) = 1 AND 'x' LIKE e.name AND e.properties.plan = 'pro'"
    )
    compiled = compile_(sql, {"n": "page_view"}, dialect=dialect)
    events, profiles = compiled.sql.split("OFFSET 0)", 2)[:2]
    q = _quote(dialect)
    assert f"{q}ingest_event{q}.{q}name{q} = " in events
    assert f"{q}ingest_event{q}.{q}timestamp{q} >= '2024-01-01'" in events
    for kept_outside in ("CAST", "LIKE", "plan", "u1"):
        assert kept_outside not in events + profiles
    assert compiled.sql.count("OFFSET 0") == 2
    assert compiled.params == (42, "page_view", 42, "page_view")
