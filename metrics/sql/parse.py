"""Bound the input, swap `@{name}` placeholders for safe tokens, and parse one statement."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError

from .errors import SqlError

# The dialect the customer's SQL is read in: PostgreSQL's grammar is the widest of the two
# databases we run on, and what UserFlux's docs and most analysts write.
READ_DIALECT = "postgres"

PLACEHOLDER_RE = re.compile(r"@\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")


@dataclass
class Placeholders:
    """The tokens that stand for `@{name}` placeholders in the text given to the parser."""

    nonce: str
    original_text: str
    # the text the parser reads, tokens in place of placeholders
    text: str = ""
    # token (lower case) -> variable name
    names: dict[str, str] = field(default_factory=dict)
    # how many times the SQL text uses each token
    occurrences: dict[str, int] = field(default_factory=dict)
    # (offset in the substituted text, characters added there) for mapping error positions
    shifts: list[tuple[int, int]] = field(default_factory=list)

    def token_in(self, text: str) -> str | None:
        """The token that `text` (an identifier, a unit, a literal) is, if it is one."""
        lowered = text.lower()
        return lowered if lowered in self.names else None

    def position(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, column) in the customer's text of an offset in the parsed text."""
        original = self.original_text[: _original_offset(self, offset)]
        return original.count("\n") + 1, len(original) - (original.rfind("\n") + 1) + 1


def decode_query(encoded: str, *, max_length: int) -> str:
    """Strictly decode `encodedQuery` (standard base64 of UTF-8 SQL) or raise `invalid_sql`."""
    if not isinstance(encoded, str) or not encoded:
        raise SqlError("invalid_sql", "encodedQuery must be a non-empty base64 string.")
    # Base64 is 4/3 of the text: refuse an oversized value before decoding it.
    if len(encoded) > (max_length * 4 + 2) // 3 + 4 * 4:
        raise SqlError("query_too_long", f"The query is longer than {max_length} characters.")
    try:
        raw = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise SqlError(
            "invalid_sql", "encodedQuery is not valid base64 (standard alphabet, with padding)."
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SqlError("invalid_sql", "The decoded query is not valid UTF-8.") from None
    check_text(text, max_length=max_length)
    return text


def check_text(text: str, *, max_length: int) -> None:
    """Refuse SQL text that is empty, too long, or holds a NUL or a lone surrogate."""
    if not isinstance(text, str) or not text.strip():
        raise SqlError("invalid_sql", "The query is empty.")
    if len(text) > max_length:
        raise SqlError("query_too_long", f"The query is longer than {max_length} characters.")
    if "\x00" in text:
        raise SqlError("invalid_sql", "The query contains a NUL character.")
    if not is_utf8(text):
        raise SqlError("invalid_sql", "The query contains a lone surrogate (not valid Unicode).")


def is_utf8(text: str) -> bool:
    """Whether `text` can be written as UTF-8 (JSON's \\ud800 escapes make strings that can't)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def substitute_placeholders(text: str) -> tuple[str, Placeholders]:
    """Replace each `@{name}` by a random token the parser reads as an identifier or text."""
    nonce = _fresh_nonce(text)
    holders = Placeholders(nonce=nonce, original_text=text)
    tokens: dict[str, str] = {}
    pieces: list[str] = []
    last = 0
    out_len = 0
    for match in PLACEHOLDER_RE.finditer(text):
        name = match.group(1)
        # The trailing _ ends the token: '@{a}5' must not read as another token's number.
        token = tokens.setdefault(name, f"{nonce}v{len(tokens)}_")
        holders.names[token] = name
        holders.occurrences[token] = holders.occurrences.get(token, 0) + 1
        before = text[last : match.start()]
        pieces += [before, token]
        out_len += len(before)
        holders.shifts.append((out_len + len(token), len(token) - len(match.group(0))))
        out_len += len(token)
        last = match.end()
    pieces.append(text[last:])
    result = holders.text = "".join(pieces)
    stray = result.find("@{")
    if stray != -1:
        raise SqlError(
            "invalid_sql",
            "A placeholder must be written @{name}: a letter or underscore, then letters, "
            "digits or underscores.",
            position=holders.position(stray),
        )
    return result, holders


def parse_statement(text: str, holders: Placeholders) -> exp.Expression:
    """Parse exactly one statement, mapping parser errors to `invalid_sql` with a position."""
    try:
        statements = sqlglot.parse(text, read=READ_DIALECT, error_level=ErrorLevel.IMMEDIATE)
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        position = None
        if first.get("line") and first.get("col"):
            # sqlglot points at the end of the offending token: report where it starts.
            end = _offset(text, first["line"], first["col"])
            position = holders.position(max(end - len(first.get("highlight") or "x") + 1, 0))
        description = re.sub(
            r"<class '(?:[\w.]+\.)?(\w+)'>", r"\1", first.get("description") or "syntax error"
        )
        raise SqlError(
            "invalid_sql", f"The query could not be parsed: {description}.", position=position
        ) from None
    except TokenError:
        raise SqlError(
            "invalid_sql",
            "The query could not be read: check for an unterminated string or quoted name.",
        ) from None
    except RecursionError:
        raise SqlError("invalid_sql", "The query is nested too deeply.") from None
    statements = [s for s in statements if s is not None]
    if not statements:
        raise SqlError("invalid_sql", "The query is empty.")
    if len(statements) > 1:
        raise SqlError("invalid_sql", "Send exactly one statement: the query holds more than one.")
    return statements[0]


def _fresh_nonce(text: str) -> str:
    lowered = text.lower()
    while True:
        nonce = "uf" + secrets.token_hex(6)
        if nonce not in lowered:
            return nonce


def _offset(text: str, line: int, col: int) -> int:
    lines = text.split("\n")
    return sum(len(lines[i]) + 1 for i in range(min(line - 1, len(lines)))) + max(col - 1, 0)


def _original_offset(holders: Placeholders, offset: int) -> int:
    return offset - sum(delta for end, delta in holders.shifts if end <= offset)
