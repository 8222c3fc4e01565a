"""The sandbox on a real database: right rows, same answers on SQLite and PostgreSQL."""

import time

import pytest

from ingest.models import Event
from metrics import sandbox
from metrics.sql import SqlError, compile_query
from tests.metrics.conftest import at
from workspaces.models import Workspace

USERFLUX_EXAMPLE = (
    "SELECT timestamp, userId, anonymousId, name, ufProperties.urlPath AS pagePath "
    "FROM eventsTable WHERE name = '@{eventName}' LIMIT @{rowLimit}"
)


def failure(run, sql, variables=None, **options):
    with pytest.raises(SqlError) as caught:
        run(sql, variables, **options)
    return caught.value


def test_userflux_example(run):
    result = run(USERFLUX_EXAMPLE, {"eventName": "page_view", "rowLimit": 10})
    assert result["columns"] == ["timestamp", "userId", "anonymousId", "name", "pagePath"]
    assert sorted(result["rows"], key=lambda row: row["timestamp"]) == [
        {
            "timestamp": "2024-01-01T10:00:00Z",
            "userId": "u1",
            "anonymousId": "a1",
            "name": "page_view",
            "pagePath": "/home",
        },
        {
            "timestamp": "2024-01-02T11:30:00.250000Z",
            "userId": "u2",
            "anonymousId": "a2",
            "name": "page_view",
            "pagePath": "/pricing",
        },
        {
            "timestamp": "2024-02-15T00:00:00Z",
            "userId": None,
            "anonymousId": "a3",
            "name": "page_view",
            "pagePath": "/docs",
        },
    ]
    assert (result["rowCount"], result["truncated"]) == (3, False)


# Each query runs under both set-ups (SQLite by default, PostgreSQL with DATABASE_URL) and
# must give exactly these rows on both.
SAME_ON_BOTH = [
    (
        "SELECT name, count(*) AS n FROM eventsTable GROUP BY name ORDER BY name",
        {},
        [{"name": "page_view", "n": 3}, {"name": "signup", "n": 1}],
    ),
    (
        "SELECT date_trunc('month', timestamp) AS month, count(DISTINCT anonymousId) AS visitors "
        "FROM eventsTable GROUP BY 1 ORDER BY 1",
        {},
        [
            {"month": "2024-01-01T00:00:00Z", "visitors": 2},
            {"month": "2024-02-01T00:00:00Z", "visitors": 1},
        ],
    ),
    (
        "SELECT date_trunc('week', timestamp) AS week, extract(isodow FROM timestamp) AS dow, "
        "extract(year FROM timestamp) AS y FROM eventsTable ORDER BY timestamp LIMIT 2",
        {},
        [
            {"week": "2024-01-01T00:00:00Z", "dow": 1, "y": 2024},
            {"week": "2024-01-01T00:00:00Z", "dow": 2, "y": 2024},
        ],
    ),
    (
        "SELECT properties.plan AS plan, properties.amount AS amount, properties.flag AS flag, "
        "properties.nested.k AS k, deviceData.browser FROM eventsTable "
        "WHERE properties.plan IS NOT NULL ORDER BY timestamp",
        {},
        [
            {"plan": "pro", "amount": "5", "flag": "true", "k": "v", "browser": "Firefox"},
            {"plan": "free", "amount": "2.5", "flag": None, "k": None, "browser": None},
        ],
    ),
    (
        "SELECT p.userId, count(*) AS events, max(e.timestamp) AS lastSeen, "
        "p.properties.seats AS seats FROM profilesTable p JOIN eventsTable e "
        "ON e.userId = p.userId GROUP BY p.userId, p.properties.seats ORDER BY p.userId",
        {},
        [
            {"userId": "u1", "events": 2, "lastSeen": "2024-01-08T09:00:00Z", "seats": "3"},
            {"userId": "u2", "events": 1, "lastSeen": "2024-01-02T11:30:00.250000Z", "seats": None},
        ],
    ),
    (
        "select USERID, Name from EVENTSTABLE where userid = 'u2'",
        {},
        [{"userId": "u2", "name": "page_view"}],
    ),
    (
        "WITH known AS (SELECT userId, timestamp FROM eventsTable WHERE userId IS NOT NULL) "
        "SELECT userId, row_number() OVER (PARTITION BY userId ORDER BY timestamp) AS n "
        "FROM known ORDER BY userId, n",
        {},
        [{"userId": "u1", "n": 1}, {"userId": "u1", "n": 2}, {"userId": "u2", "n": 1}],
    ),
    (
        "SELECT count(*) AS c, count(*) FILTER (WHERE name ILIKE 'PAGE%') AS i "
        "FROM eventsTable WHERE name LIKE 'PAGE%' OR name LIKE 'page%'",
        {},
        [{"c": 3, "i": 3}],
    ),
    (
        "SELECT ufProperties.urlPath AS path FROM eventsTable "
        "WHERE ufProperties.urlPath LIKE '%@{part}%'",
        {"part": "ric"},
        [{"path": "/pricing"}],
    ),
    (
        "SELECT upper(name) AS u, length(name) AS l, substr(name, 1, 4) AS s, "
        "concat(name, '-', userId) AS c, coalesce(userId, anonymousId) AS who, "
        "replace(name, '_', ' ') AS r FROM eventsTable ORDER BY timestamp DESC LIMIT 1",
        {},
        [{"u": "PAGE_VIEW", "l": 9, "s": "page", "c": "page_view-", "who": "a3", "r": "page view"}],
    ),
    (
        "SELECT name = 'signup' AS isSignup, userId IS NULL AS anonymous FROM eventsTable "
        "ORDER BY timestamp",
        {},
        [
            {"isSignup": False, "anonymous": False},
            {"isSignup": False, "anonymous": False},
            {"isSignup": True, "anonymous": False},
            {"isSignup": False, "anonymous": True},
        ],
    ),
    (
        "SELECT count(*) AS c FROM eventsTable "
        "WHERE timestamp >= CAST('2024-01-08' AS timestamp) - interval '1 day'",
        {},
        [{"c": 2}],
    ),
    (
        "SELECT count(*) AS c FROM eventsTable WHERE timestamp >= '@{since}'",
        {"since": "2024-01-02"},
        [{"c": 3}],
    ),
    (
        "SELECT userId FROM eventsTable WHERE name = 'signup' "
        "UNION SELECT userId FROM profilesTable ORDER BY 1",
        {},
        [{"userId": "u1"}, {"userId": "u2"}],
    ),
    (
        "SELECT userId, anonymousIds, computedProperties, createdAt FROM profilesTable "
        "ORDER BY userId",
        {},
        [
            {
                "userId": "u1",
                "anonymousIds": ["a1"],
                "computedProperties": {"visits": 2},
                "createdAt": "2023-12-31T08:00:00Z",
            },
            {
                "userId": "u2",
                "anonymousIds": ["a2"],
                "computedProperties": {},
                "createdAt": "2024-01-02T11:00:00Z",
            },
        ],
    ),
    (
        "SELECT round(avg(CAST(properties.amount AS numeric)), 2) AS avgAmount, "
        "sum(CAST(properties.amount AS numeric)) AS total FROM eventsTable",
        {},
        [{"avgAmount": 3.75, "total": 7.5}],
    ),
]


@pytest.mark.parametrize(("sql", "variables", "rows"), SAME_ON_BOTH)
def test_same_results_on_sqlite_and_postgres(run, sql, variables, rows):
    assert run(sql, variables)["rows"] == rows


def test_select_star_gives_the_virtual_columns_only(run):
    result = run("SELECT * FROM eventsTable ORDER BY timestamp LIMIT 1")
    assert result["columns"] == [
        "timestamp", "name", "userId", "anonymousId", "externalId", "sessionId",
        "properties", "ufProperties", "deviceData",
    ]  # fmt: skip
    row = result["rows"][0]
    assert row["properties"] == {"plan": "pro", "amount": 5, "flag": True, "nested": {"k": "v"}}
    assert row["deviceData"] == {"browser": "Firefox"}


def test_repeated_column_names_are_kept_apart(run):
    result = run("SELECT e.userId, p.userId FROM eventsTable e JOIN profilesTable p USING (userId)")
    assert result["columns"] == ["userId", "userId_2"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT userId, name FROM eventsTable WHERE name = 'nothing' OR 1=1",
        "SELECT userId, name FROM eventsTable WHERE true OR userId = 'intruder'",
        "SELECT userId, name FROM eventsTable WHERE '@{v}' = 'x' OR 1=1",
        "SELECT userId, name FROM eventsTable WHERE name = '@{v}' OR '1'='1'",
        "SELECT e.userId, e.name FROM eventsTable e, eventsTable f WHERE f.userId = 'intruder'",
        "SELECT userId, 'x' AS name FROM profilesTable WHERE 1=1 OR userId IS NULL",
    ],
)
def test_the_workspace_filter_cannot_be_widened(run, sql):
    rows = run(sql, {"v": "x' OR '1'='1"})["rows"]
    assert "intruder" not in {row["userId"] for row in rows}
    assert "secret" not in str(rows)


def test_a_join_of_events_and_profiles_sees_only_the_callers_rows(run):
    result = run(
        "SELECT e.userId AS eventUser, p.userId AS profileUser, p.properties.plan AS plan "
        "FROM eventsTable e CROSS JOIN profilesTable p"
    )
    assert result["rowCount"] == 4 * 2
    assert {row["profileUser"] for row in result["rows"]} == {"u1", "u2"}
    assert "intruder" not in {row["eventUser"] for row in result["rows"]}
    assert "secret" not in {row["plan"] for row in result["rows"]}


@pytest.mark.parametrize(
    "value", ["x' OR '1'='1", "'; DELETE FROM ingest_event; --", "%s'); DROP TABLE x; --"]
)
def test_a_value_that_tries_to_close_its_quote_matches_nothing(run, value):
    before = Event.objects.count()
    result = run("SELECT name FROM eventsTable WHERE name = '@{eventName}'", {"eventName": value})
    assert result["rows"] == []
    assert Event.objects.count() == before


def test_the_row_cap_cuts_and_says_so(run):
    result = run("SELECT name FROM eventsTable ORDER BY timestamp", row_cap=2)
    assert (result["rowCount"], result["truncated"]) == (2, True)
    assert len(result["rows"]) == 2
    exact = run("SELECT name FROM eventsTable LIMIT 2", row_cap=2)
    assert (exact["rowCount"], exact["truncated"]) == (2, False)
    asked = run("SELECT name FROM eventsTable LIMIT 1000", row_cap=3)
    assert (asked["rowCount"], asked["truncated"]) == (3, True)
    error = failure(run, "SELECT name FROM eventsTable LIMIT @{n}", {"n": 3}, row_cap=2)
    assert (error.code, error.status) == ("invalid_variable", 400)


def test_a_large_result_is_refused_by_size(run):
    error = failure(run, "SELECT * FROM eventsTable", max_bytes=300)
    assert (error.code, error.status) == ("result_too_large", 413)


@pytest.mark.parametrize(
    ("sql", "forbidden_words"),
    [
        ("SELECT nosuchcolumn FROM eventsTable", ()),
        ("SELECT workspace_id FROM eventsTable", ("ingest_", "workspace")),
        ("SELECT e.id FROM eventsTable e", ("ingest_",)),
    ],
)
def test_database_errors_are_clean_400s(run, sql, forbidden_words):
    error = failure(run, sql)
    assert (error.code, error.status) == ("query_failed", 400)
    for word in forbidden_words:
        assert word not in error.detail


SLOW = [
    # an endless recursive CTE
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) AS c FROM r",
    # a cartesian join: 4^13 rows
    "SELECT count(*) AS c FROM " + ", ".join(f"eventsTable t{i}" for i in range(13)),
]


@pytest.mark.parametrize("sql", SLOW)
def test_a_slow_query_is_stopped_and_the_next_one_runs(run, sql):
    started = time.monotonic()
    error = failure(run, sql, timeout=0.5)
    assert (error.code, error.status) == ("query_timeout", 400)
    assert time.monotonic() - started < 5
    assert run("SELECT count(*) AS c FROM eventsTable")["rows"] == [{"c": 4}]
    Event.objects.filter(name="signup").update(name="signed_up")  # still writable for Django
    assert Event.objects.filter(name="signed_up").count() == 1


def test_a_query_compiled_for_another_database_is_refused(data):
    other = "sqlite" if sandbox.database_dialect() == "postgres" else "postgres"
    compiled = compile_query("SELECT 1", {}, dialect=other, workspace_id=data.id, row_cap=5)
    with pytest.raises(ValueError):
        sandbox.execute(compiled)


def test_settings_are_read_at_call_time(run, settings):
    settings.METRICS_ROW_CAP = 1
    assert run("SELECT name FROM eventsTable")["truncated"] is True
    settings.METRICS_MAX_RESULT_BYTES = 10
    assert failure(run, "SELECT name FROM eventsTable").code == "result_too_large"


def test_timestamps_are_utc_iso_strings(run):
    Event.objects.filter(name="signup").update(timestamp=at(2024, 3, 1, 23, 59, 59, microsecond=1))
    rows = run("SELECT timestamp FROM eventsTable WHERE name = 'signup'")["rows"]
    assert rows == [{"timestamp": "2024-03-01T23:59:59.000001Z"}]


def test_a_failing_predicate_never_sees_another_workspaces_rows(run):
    # Every other workspace's event names would fail the cast; this one's never do.
    numbers = Workspace.objects.create(name="Numbers", slug="numbers")
    Event.objects.bulk_create(
        Event(workspace=numbers, name=str(n), timestamp=at(2024, 1, 1), received_at=at(2024, 1, 1))
        for n in (5, 7)
    )
    result = sandbox.run_query(
        "SELECT count(*) AS c FROM eventsTable e JOIN profilesTable p ON true "
        "WHERE CAST(e.name AS integer) > 0 OR CAST(p.userId AS integer) > 0",
        {},
        workspace_id=numbers.id,
    )
    assert result["rows"] == [{"c": 0}]  # no profiles in this workspace
    result = sandbox.run_query(
        "SELECT sum(CAST(name AS integer)) AS total FROM eventsTable WHERE CAST(name AS int) > 0",
        {},
        workspace_id=numbers.id,
    )
    assert result["rows"] == [{"total": 12}]


# One row: the signup event of 2024-01-08 09:00:00 (a Monday) by u1.
SIGNUP = "FROM eventsTable WHERE name = 'signup'"


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("strpos(name, 'up')", 5),
        ("ltrim('  x')", "x"),
        ("rtrim('x  ')", "x"),
        ("trim(both 'x' from 'xxaxx')", "a"),
        ("greatest(1, 3, 2)", 3),
        ("least(4, 2, 3)", 2),
        ("abs(-2)", 2),
        ("floor(2.5)", 2),
        ("ceil(2.5)", 3),
        ("round(2.567, 1)", 2.6),
        ("nullif(name, 'signup')", None),
        ("length(userId || '-' || name)", 9),
        ("date(timestamp)", "2024-01-08"),
        ("CAST(timestamp AS date)", "2024-01-08"),
        ("CAST(timestamp AS timestamptz)", "2024-01-08T09:00:00Z"),
        ("CAST('12' AS int) + 1", 13),
        ("CAST(3 AS text)", "3"),
        ("CAST('2.5' AS numeric) * 2", 5),
        ("CAST('2.5' AS double precision) * 2", 5),
        ("timestamp + interval '2 hours'", "2024-01-08T11:00:00Z"),
        ("timestamp - interval '1 week'", "2024-01-01T09:00:00Z"),
        ("timestamp + interval '1 month'", "2024-02-08T09:00:00Z"),
        ("date_trunc('quarter', timestamp)", "2024-01-01T00:00:00Z"),
        ("date_trunc('year', timestamp)", "2024-01-01T00:00:00Z"),
        ("date_trunc('hour', timestamp + interval '30 minutes')", "2024-01-08T09:00:00Z"),
        ("date_trunc('minute', timestamp)", "2024-01-08T09:00:00Z"),
        ("extract(dow FROM timestamp)", 1),
        ("extract(doy FROM timestamp)", 8),
        ("extract(quarter FROM timestamp)", 1),
        ("extract(day FROM timestamp)", 8),
        ("extract(hour FROM timestamp)", 9),
        ("extract(minute FROM timestamp)", 0),
        ("extract(second FROM timestamp)", 0),
        ("extract(epoch FROM timestamp)", 1704704400),
        ("CASE WHEN name ILIKE 'SIGN%' THEN 'yes' ELSE 'no' END", "yes"),
        ("name BETWEEN 'a' AND 'z'", True),
        ("name IN ('signup', 'x')", True),
        ("EXISTS (SELECT 1 FROM profilesTable WHERE userId = 'u1')", True),
        ("(SELECT count(*) FROM profilesTable)", 2),
        ("now() > timestamp", True),
        ("current_date > date(timestamp)", True),
        ("rank() OVER (ORDER BY timestamp)", 1),
        ("lag(name) OVER (ORDER BY timestamp)", None),
        ("first_value(userId) OVER (PARTITION BY name)", "u1"),
        ("count(*) OVER ()", 1),
    ],
)
def test_each_documented_function_gives_the_same_value_on_both(run, expression, value):
    assert run(f"SELECT {expression} AS v {SIGNUP}")["rows"] == [{"v": value}]


@pytest.mark.parametrize("physical", ["ingest_event", "ingest_profile", "INGEST_EVENT"])
def test_a_cte_named_like_a_physical_table_cannot_replace_it(run, physical):
    # Were CTE names kept, this CTE would shadow the table the derived tables read.
    sql = (
        f"WITH {physical} AS (SELECT 'intruder' AS user_id, 1 AS workspace_id) "
        "SELECT count(*) AS events, (SELECT count(*) FROM profilesTable) AS profiles "
        f"FROM eventsTable WHERE userId NOT IN (SELECT user_id FROM {physical})"
    )
    assert run(sql)["rows"] == [{"events": 3, "profiles": 2}]


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        ("SELECT ingest_event.workspace_id FROM eventsTable", "invalid_sql"),
        ("SELECT e.workspace_id FROM eventsTable e", "query_failed"),
    ],
)
def test_physical_names_cannot_be_reached_through_a_qualifier(run, sql, code):
    error = failure(run, sql)
    assert (error.code, error.status) == (code, 400)
