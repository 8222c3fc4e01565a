"""Rewrite PostgreSQL date, text and cast functions into what SQLite (3.38+) understands."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.sqlite import SQLite

# date_trunc(unit, ts) -> strftime(format, ts, modifiers...): SQLite keeps timestamps as
# 'YYYY-MM-DD HH:MM:SS[.ffffff]' text in UTC, which these formats reproduce.
_TRUNC_FORMATS = {
    "SECOND": "%Y-%m-%d %H:%M:%S",
    "MINUTE": "%Y-%m-%d %H:%M:00",
    "HOUR": "%Y-%m-%d %H:00:00",
    "DAY": "%Y-%m-%d 00:00:00",
    "WEEK": "%Y-%m-%d 00:00:00",
    "MONTH": "%Y-%m-01 00:00:00",
    "QUARTER": "%Y-%m-01 00:00:00",
    "YEAR": "%Y-01-01 00:00:00",
}

_EXTRACT_FORMATS = {
    "YEAR": "%Y",
    "MONTH": "%m",
    "DAY": "%d",
    "HOUR": "%H",
    "MINUTE": "%M",
    "DOW": "%w",
    "DOY": "%j",
    "EPOCH": "%s",
}

_T = exp.DataType.Type
_CASTS = {
    _T.TEXT: "TEXT",
    _T.VARCHAR: "TEXT",
    _T.INT: "INTEGER",
    _T.SMALLINT: "INTEGER",
    _T.BIGINT: "INTEGER",
    _T.DECIMAL: "REAL",
    _T.DOUBLE: "REAL",
    _T.FLOAT: "REAL",
}


def transform(tree: exp.Expression, *, alias_prefix: str) -> None:
    """Rewrite `tree` in place, innermost nodes first, so copies carry rewritten children."""
    arms = 0
    for node in reversed(list(tree.walk(bfs=False))):
        replacement: exp.Expression | None = None
        if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
            replacement = _trunc(node.this, node.args["unit"].name.upper())
        elif isinstance(node, exp.Extract):
            replacement = _extract(node.expression, node.this.name.upper())
        elif isinstance(node, (exp.Add, exp.Sub)) and isinstance(node.expression, exp.Interval):
            replacement = _shift(node.this, node.expression, negate=isinstance(node, exp.Sub))
        elif isinstance(node, exp.Concat):
            replacement = _concat(node.expressions)
        elif isinstance(node, exp.Cast):
            replacement = _cast(node)
        elif isinstance(node, exp.Subquery) and isinstance(node.parent, exp.SetOperation):
            # SQLite refuses `SELECT ... UNION (SELECT ...)`: select from the arm instead.
            arms += 1
            alias = exp.TableAlias(this=exp.Identifier(this=f"{alias_prefix}{arms}", quoted=True))
            replacement = exp.Select(
                expressions=[exp.Star()],
                from_=exp.From(this=exp.Subquery(this=node.this, alias=alias)),
            )
        if replacement is not None:
            node.replace(replacement)


def _fn(name: str, *args: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _text(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def _as(value: exp.Expression, type_name: str) -> exp.Cast:
    return exp.Cast(this=value, to=exp.DataType.build(type_name))


def _trunc(value: exp.Expression, unit: str) -> exp.Expression:
    modifiers: list[exp.Expression] = []
    if unit == "WEEK":
        # to the Monday of the week, as PostgreSQL's ISO weeks
        modifiers = [_text("weekday 0"), _text("-6 days")]
    elif unit == "QUARTER":
        month = _as(_fn("strftime", _text("%m"), value.copy()), "INTEGER")
        back = exp.Mod(
            this=exp.Paren(this=exp.Sub(this=month, expression=exp.Literal.number(1))),
            expression=exp.Literal.number(3),
        )
        modifiers = [
            exp.DPipe(
                this=exp.DPipe(this=_text("-"), expression=exp.Paren(this=back), safe=True),
                expression=_text(" months"),
                safe=True,
            )
        ]
    return _fn("strftime", _text(_TRUNC_FORMATS[unit]), value, *modifiers)


def _extract(value: exp.Expression, field: str) -> exp.Expression:
    if field in _EXTRACT_FORMATS:
        return _as(_fn("strftime", _text(_EXTRACT_FORMATS[field]), value), "INTEGER")
    if field == "SECOND":
        return _as(_fn("strftime", _text("%f"), value), "REAL")
    month = _as(_fn("strftime", _text("%m"), value), "INTEGER")
    if field == "QUARTER":
        return exp.Paren(
            this=exp.Div(
                this=exp.Paren(this=exp.Add(this=month, expression=exp.Literal.number(2))),
                expression=exp.Literal.number(3),
            )
        )
    # ISODOW: Monday 1 .. Sunday 7
    weekday = _as(_fn("strftime", _text("%w"), value), "INTEGER")
    shifted = exp.Paren(this=exp.Add(this=weekday, expression=exp.Literal.number(6)))
    return exp.Paren(
        this=exp.Add(
            this=exp.Paren(this=exp.Mod(this=shifted, expression=exp.Literal.number(7))),
            expression=exp.Literal.number(1),
        )
    )


def _shift(value: exp.Expression, interval: exp.Interval, *, negate: bool) -> exp.Expression:
    amount = int(interval.this.name)
    unit = interval.args["unit"].name.lower().removesuffix("s")
    if unit == "week":
        amount, unit = amount * 7, "day"
    if negate:
        amount = -amount
    return _fn("datetime", value, _text(f"{amount:+d} {unit}s"))


def _concat(values: list[exp.Expression]) -> exp.Expression:
    # PostgreSQL's concat() skips NULLs; SQLite before 3.44 has no concat() at all.
    parts = [exp.Coalesce(this=_as(v, "TEXT"), expressions=[_text("")]) for v in values]
    result: exp.Expression = parts[0]
    for part in parts[1:]:
        result = exp.DPipe(this=result, expression=part, safe=True)
    return exp.Paren(this=result)


def _cast(node: exp.Cast) -> exp.Expression | None:
    to = node.args["to"].this
    if to == _T.DATE:
        return _fn("date", node.this)
    if to in (_T.TIMESTAMP, _T.TIMESTAMPTZ):
        return _fn("datetime", node.this)
    if to in _CASTS and node.args["to"].expressions:
        return _as(node.this, _CASTS[to])  # SQLite has no lengths or precisions
    return None


class StrictSQLite(SQLite):
    """SQLite, quoting names with backticks: SQLite reads an unknown "name" as a string."""

    class Tokenizer(SQLite.Tokenizer):
        IDENTIFIERS = ["`", '"', ("[", "]")]
