"""Check `variables` and turn each `@{name}` token in the tree into a bound parameter."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping

from sqlglot import exp

from .check import EXTRACT_FIELDS, TRUNC_UNITS
from .errors import SqlError
from .parse import Placeholders, is_utf8

Value = str | int | float | bool | None

MAX_TEXT_VALUE = 10_000
MAX_OFFSET = 1_000_000_000
MAX_COUNT_DIGITS = 18
_INT64 = 2**63


def check_variables(variables: object, holders: Placeholders) -> dict[str, Value]:
    """Refuse variables of the wrong shape, and placeholders that have no variable."""
    if variables is None:
        variables = {}
    if not isinstance(variables, Mapping):
        raise SqlError("invalid_variable", "variables must be an object of name: value.")
    for name, value in variables.items():
        if not isinstance(name, str) or not is_utf8(name):
            raise SqlError("invalid_variable", "Variable names must be strings of valid Unicode.")
        problem = _value_problem(value)
        if problem:
            raise SqlError("invalid_variable", f"The variable {name!r} {problem}.")
    for name in sorted(set(holders.names.values())):
        if name not in variables:
            raise SqlError(
                "missing_variable",
                f"The query uses @{{{name}}} but no variable {name!r} was given.",
            )
    return dict(variables)


def _value_problem(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if -_INT64 <= value < _INT64 else "is out of the 64-bit integer range"
    if isinstance(value, float):
        return None if math.isfinite(value) else "must be a finite number"
    if isinstance(value, str):
        if len(value) > MAX_TEXT_VALUE:
            return f"is longer than {MAX_TEXT_VALUE} characters"
        if "\x00" in value:
            return "contains a NUL character"
        return None if is_utf8(value) else "contains a lone surrogate (not valid Unicode)"
    return "must be a string, a number, a boolean or null"


class Binder:
    """Replaces placeholder tokens in a tree by bound parameters (or checked literals)."""

    def __init__(
        self,
        holders: Placeholders,
        values: Mapping[str, Value],
        *,
        row_cap: int,
        param: Callable[[Value], exp.Expression],
    ) -> None:
        self.holders = holders
        self.values = values
        self.row_cap = row_cap
        self.param = param
        self.used: Counter[str] = Counter()
        self._token_re = re.compile(rf"({re.escape(holders.nonce)}v\d+_)", re.IGNORECASE)

    def bind(self, tree: exp.Expression) -> None:
        """Bind every placeholder, then refuse any that stood where a value cannot go."""
        for node in list(tree.find_all(exp.Limit, exp.Offset)):
            self._bind_count(node)
        if not self.holders.names:
            return
        for node in list(tree.find_all(exp.TimestampTrunc, exp.DateTrunc, exp.Extract)):
            self._bind_unit(node)
        for node in tree.walk():
            for comment in node.comments or ():
                self.used.update(t.lower() for t in self._token_re.findall(comment))
        for literal in list(tree.find_all(exp.Literal)):
            if literal.is_string and self._token_re.search(literal.name):
                literal.replace(self._bind_text(literal.name))
        for column in list(tree.find_all(exp.Column)):
            token = self._token(column.this) if len(column.parts) == 1 else None
            if token:
                self.used[token] += 1
                column.replace(self.param(self.values[self.holders.names[token]]))
        for token, count in self.holders.occurrences.items():
            if self.used[token] != count:
                name = self.holders.names[token]
                raise SqlError(
                    "invalid_sql",
                    f"@{{{name}}} can only stand for a value (a text, a number, a boolean, a "
                    "date), a LIMIT or OFFSET count, or a date_trunc/extract unit.",
                )

    def _token(self, node: exp.Expression | None) -> str | None:
        if isinstance(node, (exp.Identifier, exp.Var, exp.Literal)):
            return self.holders.token_in(str(node.name))
        return None

    def _value(self, token: str) -> tuple[str, Value]:
        name = self.holders.names[token]
        self.used[token] += 1
        return name, self.values[name]

    def _bind_count(self, node: exp.Limit | exp.Offset) -> None:
        expression = node.expression
        if isinstance(expression, exp.Literal) and expression.is_int and expression.name.isdigit():
            if len(expression.name) > MAX_COUNT_DIGITS:
                raise SqlError(
                    "invalid_sql", f"LIMIT and OFFSET take at most {MAX_COUNT_DIGITS} digits."
                )
            return
        column = expression if isinstance(expression, exp.Column) else None
        token = self._token(column.this) if column and len(column.parts) == 1 else None
        if token is None:
            raise SqlError(
                "invalid_sql", "LIMIT and OFFSET take a whole number or a @{placeholder}."
            )
        name, value = self._value(token)
        count = _as_count(value)
        if isinstance(node, exp.Limit):
            if count is None or not 1 <= count <= self.row_cap:
                raise SqlError(
                    "invalid_variable",
                    f"@{{{name}}} is a LIMIT: it must be a whole number from 1 to {self.row_cap}.",
                )
        elif count is None or not 0 <= count <= MAX_OFFSET:
            raise SqlError(
                "invalid_variable", f"@{{{name}}} is an OFFSET: it must be a whole number ≥ 0."
            )
        expression.replace(exp.Literal.number(count))

    def _bind_unit(self, node: exp.Expression) -> None:
        is_extract = isinstance(node, exp.Extract)
        unit = node.this if is_extract else node.args.get("unit")
        token = self._token(unit)
        if token is None or unit is None:
            return
        name, value = self._value(token)
        allowed = EXTRACT_FIELDS if is_extract else TRUNC_UNITS
        if not isinstance(value, str) or value.lower() not in allowed:
            raise SqlError(
                "invalid_variable",
                f"@{{{name}}} must be one of: {', '.join(sorted(allowed))}.",
            )
        unit.replace(exp.Var(this=value.upper()))

    def _bind_text(self, text: str) -> exp.Expression:
        # A quoted placeholder is a text value: '@{x}' binds str(x); 'a@{x}b' binds a
        # concatenation. The value never becomes part of the SQL text.
        parts: list[exp.Expression] = []
        for i, piece in enumerate(self._token_re.split(text)):
            if i % 2:
                _, value = self._value(piece.lower())
                parts.append(self.param(_as_text(value)))
            elif piece:
                parts.append(exp.Literal.string(piece))
        result = parts[0]
        for part in parts[1:]:
            result = exp.DPipe(this=result, expression=part, safe=True)
        return exp.Paren(this=result) if len(parts) > 1 else result


def _as_text(value: Value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_count(value: Value) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\d{1,12}", value):
        return int(value)
    return None
