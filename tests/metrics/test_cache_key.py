"""The result cache is keyed on the compiled query: comments and white space don't matter."""

import pytest

from tests.support.metrics import query

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "variant",
    [
        "SELECT count(*) AS n FROM eventsTable /* a comment */",
        "select   COUNT(*)\n  as n\nfrom eventsTable -- trailing",
        "-- leading\nSELECT count(*) AS n FROM eventstable",
    ],
)
def test_comments_white_space_and_case_do_not_defeat_the_cache(client, acme, token, variant):
    assert query(client, token, "SELECT count(*) AS n FROM eventsTable").json()["cached"] is False
    answer = query(client, token, variant).json()
    assert answer["cached"] is True and answer["rows"] == [{"n": 3}]


def test_another_literal_is_another_entry(client, acme, token):
    sql = "SELECT count(*) AS n FROM eventsTable WHERE name = '{}'"
    assert query(client, token, sql.format("signup")).json()["rows"] == [{"n": 2}]
    answer = query(client, token, sql.format("page_view")).json()
    assert answer["cached"] is False and answer["rows"] == [{"n": 1}]


def test_a_literal_and_the_same_value_bound_are_one_entry_only_if_compiled_alike(
    client, acme, token
):
    literal = query(client, token, "SELECT count(*) AS n FROM eventsTable WHERE name = 'signup'")
    bound = query(
        client, token, "SELECT count(*) AS n FROM eventsTable WHERE name = '@{e}'", {"e": "signup"}
    )
    assert literal.json()["rows"] == bound.json()["rows"] == [{"n": 2}]


def test_a_second_request_as_sent_finds_the_answer_without_compiling(
    client, acme, token, monkeypatch
):
    from metrics import sandbox

    sql = "SELECT count(*) AS n FROM eventsTable"
    assert query(client, token, sql).status_code == 200

    def refuse(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(sandbox, "compile_for", refuse)
    assert query(client, token, sql).json()["cached"] is True
