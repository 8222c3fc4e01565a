"""@{name} placeholders: always bound values, never SQL text, even inside quotes."""

import pytest

from metrics.sql import SqlError, compile_query

HOSTILE_VALUES = [
    "x' OR '1'='1",
    "'; DROP TABLE ingest_event; --",
    "x'); DELETE FROM ingest_event; --",
    "%s'); DELETE FROM ingest_event; --",
    "\\'; SELECT pg_sleep(10); --",
    "$$; DROP TABLE ingest_event; $$",
    "*/ DROP TABLE ingest_event /*",
    "?, ?); DROP TABLE ingest_event; --",
]


def compile_(sql, variables, *, dialect="postgres", row_cap=100):
    return compile_query(sql, variables, dialect=dialect, workspace_id=1, row_cap=row_cap)


def error_of(sql, variables, **options):
    with pytest.raises(SqlError) as caught:
        compile_(sql, variables, **options)
    return caught.value


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_a_value_that_closes_its_quote_stays_a_bound_value(dialect, value):
    compiled = compile_(
        "SELECT name FROM eventsTable WHERE name = '@{eventName}'",
        {"eventName": value},
        dialect=dialect,
    )
    # bound twice: inside the workspace's derived table (pushdown.py) and in the outer WHERE
    assert compiled.params == (1, value, value)
    assert value not in compiled.sql
    assert "DROP" not in compiled.sql and "DELETE" not in compiled.sql


@pytest.mark.parametrize(
    ("value", "bound"),
    [("a", "a"), (5, "5"), (2.5, "2.5"), (True, "true"), (False, "false"), (None, None)],
)
def test_a_quoted_placeholder_binds_text(value, bound):
    compiled = compile_("SELECT name FROM eventsTable WHERE name = '@{v}'", {"v": value})
    assert compiled.params == (1, bound, bound)


@pytest.mark.parametrize("value", ["a", 5, 2.5, True, None])
def test_an_unquoted_placeholder_binds_the_value_as_it_is(value):
    compiled = compile_("SELECT name FROM eventsTable WHERE userId = @{v}", {"v": value})
    assert compiled.params == (1, value, value)
    assert type(compiled.params[-1]) is type(value)


def test_a_placeholder_inside_a_longer_string_becomes_a_concatenation():
    compiled = compile_("SELECT name FROM eventsTable WHERE name LIKE '%@{q}_x%'", {"q": "v'w"})
    assert "('%%' || %s || '_x%%')" in compiled.sql
    assert compiled.params[1:] == ("v'w",)


@pytest.mark.parametrize("suffix", ["5", "_", "0_x"])
def test_text_right_after_a_quoted_placeholder_stays_text(suffix):
    compiled = compile_(f"SELECT '@{{a}}{suffix}' AS v", {"a": "x"})
    assert compiled.params == ("x",)
    assert f"(%s || '{suffix}')" in compiled.sql


def test_a_placeholder_used_twice_is_bound_twice():
    compiled = compile_("SELECT @{a} AS x, '@{a}' AS y", {"a": 3})
    assert compiled.params == (3, "3")


def test_a_placeholder_in_a_comment_is_harmless():
    compiled = compile_("SELECT name FROM eventsTable -- @{a}", {"a": "x"})
    assert compiled.params == (1,)


def test_date_trunc_unit_may_be_a_placeholder_from_the_list():
    sql = "SELECT date_trunc('@{unit}', timestamp) AS t FROM eventsTable"
    assert "DATE_TRUNC('WEEK'" in compile_(sql, {"unit": "week"}).sql
    error = error_of(sql, {"unit": "day', now()) --"})
    assert (error.code, error.status) == ("invalid_variable", 400)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        *[(1, True), (100, True), ("25", True), (10.0, True), (0, False), (-1, False)],
        *[(101, False), (True, False), (None, False), ("10; DROP", False), (2.5, False)],
        ("1e3", False),
    ],
)
def test_limit_placeholder_must_be_a_whole_number_within_the_cap(value, ok):
    sql = "SELECT name FROM eventsTable LIMIT @{n}"
    if ok:
        compiled = compile_(sql, {"n": value})
        assert compiled.sql.endswith(f"LIMIT {int(value)}")
    else:
        error = error_of(sql, {"n": value})
        assert (error.code, error.status) == ("invalid_variable", 400)


def test_a_missing_variable_is_named():
    error = error_of("SELECT name FROM eventsTable WHERE name = '@{eventName}'", {})
    assert (error.code, error.status) == ("missing_variable", 400)
    assert "eventName" in error.detail


@pytest.mark.parametrize(
    "variables",
    [
        *[[], "x", {"v": [1]}, {"v": {"a": 1}}, {"v": float("nan")}, {"v": 2**70}],
        *[{"v": "a\x00b"}, {"v": "x" * 10_001}, {1: "x"}],
    ],
)
def test_variables_of_the_wrong_shape_are_invalid(variables):
    error = error_of("SELECT name FROM eventsTable WHERE name = @{v}", variables)
    assert (error.code, error.status) == ("invalid_variable", 400)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT name AS @{v} FROM eventsTable",
        "SELECT name FROM @{v}",
        "SELECT @{v}(1)",
        "SELECT name FROM eventsTable e WHERE @{v}.name = 'x'",
        "SELECT timestamp - interval '@{v} days' FROM eventsTable",
        "SELECT x@{v} FROM eventsTable",
        "SELECT name FROM eventsTable WHERE name = '@{ v }'",
    ],
)
def test_a_placeholder_can_only_stand_for_a_value(sql):
    error = error_of(sql, {"v": "name"})
    assert (error.code, error.status) == ("invalid_sql", 400)
