"""decode_query: strict base64 of UTF-8 SQL, bounded before anything else reads it."""

import base64

import pytest

from metrics.sql import SqlError, decode_query


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_decodes_standard_base64_of_utf8():
    sql = "SELECT name FROM eventsTable WHERE name = 'café'"
    assert decode_query(b64(sql), max_length=1000) == sql


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "U0VMRUNUIDE",  # missing padding
        "U0VMRUNUIDE=x",  # data after padding
        "U0VMRUNU IDE=",  # whitespace
        "U0VMRUNU\nIDE=",  # newline
        "U0VMRUNUIDE-",  # URL-safe alphabet
        "U0VMRUNUIDE_",
        "U0VMRUNUIDE*",
        "é",
        None,
        123,
        b64("SELECT 1")[:-1],
    ],
)
def test_malformed_base64_is_invalid_sql(encoded):
    with pytest.raises(SqlError) as caught:
        decode_query(encoded, max_length=1000)
    assert (caught.value.code, caught.value.status) == ("invalid_sql", 400)


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe SELECT 1",  # not UTF-8
        b"SELECT 1\x00; DROP TABLE ingest_event",  # NUL
        b"   \n\t ",  # blank
    ],
)
def test_undecodable_or_blank_text_is_invalid_sql(raw):
    with pytest.raises(SqlError) as caught:
        decode_query(base64.b64encode(raw).decode(), max_length=1000)
    assert caught.value.code == "invalid_sql"


def test_length_cap_applies_to_the_decoded_text_and_to_the_encoded_value():
    assert decode_query(b64("x" * 100), max_length=100) == "x" * 100
    with pytest.raises(SqlError, match="longer than 100"):
        decode_query(b64("x" * 101), max_length=100)
    # A huge value is refused by its length before it is decoded at all.
    with pytest.raises(SqlError, match="longer than 100"):
        decode_query("A" * 10_000_000, max_length=100)
