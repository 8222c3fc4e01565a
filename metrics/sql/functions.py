"""The functions a query may call, the name each is known by, and the arguments it may take."""

from __future__ import annotations

from sqlglot import exp

_ONE = ("this",)
_TWO = ("this", "expression")

# Function node type -> (the name a person writes, the arguments it may carry). Each of these
# exists on PostgreSQL and SQLite, or is rewritten for SQLite by `metrics.sql.sqlite`.
FUNCTIONS: dict[type[exp.Func], tuple[str, tuple[str, ...]]] = {
    # aggregates
    exp.Count: ("count", ("this", "big_int")),
    exp.Sum: ("sum", _ONE),
    exp.Avg: ("avg", _ONE),
    exp.Min: ("min", _ONE),
    exp.Max: ("max", _ONE),
    # window functions
    exp.RowNumber: ("row_number", ()),
    exp.Rank: ("rank", ()),
    exp.DenseRank: ("dense_rank", ()),
    exp.Lag: ("lag", ("this", "offset", "default")),
    exp.Lead: ("lead", ("this", "offset", "default")),
    exp.FirstValue: ("first_value", _ONE),
    exp.LastValue: ("last_value", _ONE),
    # text
    exp.Lower: ("lower", _ONE),
    exp.Upper: ("upper", _ONE),
    exp.Length: ("length", _ONE),
    exp.Trim: ("trim", ("this", "expression", "position")),
    exp.Substring: ("substr", ("this", "start", "length")),
    exp.Replace: ("replace", ("this", "expression", "replacement")),
    exp.Concat: ("concat", ("expressions", "safe", "coalesce")),
    exp.StrPosition: ("strpos", ("this", "substr")),
    # conditionals
    exp.Case: ("case", ("this", "ifs", "default")),
    exp.Coalesce: ("coalesce", ("this", "expressions")),
    exp.Nullif: ("nullif", _TWO),
    exp.Greatest: ("greatest", ("this", "expressions", "ignore_nulls")),
    exp.Least: ("least", ("this", "expressions", "ignore_nulls")),
    # numbers
    exp.Abs: ("abs", _ONE),
    exp.Round: ("round", ("this", "decimals")),
    exp.Floor: ("floor", _ONE),
    exp.Ceil: ("ceil", _ONE),
    # dates and times
    exp.CurrentTimestamp: ("now", ()),
    exp.CurrentDate: ("current_date", ()),
    exp.Date: ("date", _ONE),
    exp.TimestampTrunc: ("date_trunc", ("this", "unit")),
    exp.DateTrunc: ("date_trunc", ("this", "unit")),
    exp.Extract: ("extract", _TWO),
    # types
    exp.Cast: ("cast", ("this", "to")),
}


def function_name(node: exp.Expression) -> str:
    """The name a person would write for a function node, for error messages and columns."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    known = FUNCTIONS.get(type(node))
    if known:
        return known[0]
    return node.sql_name().lower() if isinstance(node, exp.Func) else node.key
