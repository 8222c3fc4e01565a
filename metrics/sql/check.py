"""The allow-list: every node of the parsed tree must be a construct we know to be safe."""

from __future__ import annotations

import re

from sqlglot import exp

from .errors import SqlError
from .functions import FUNCTIONS, function_name
from .parse import Placeholders
from .schema import VIRTUAL_TABLES, VirtualTable

MAX_DEPTH = 500
_INTERVAL_AMOUNT = re.compile(r"-?[0-9]{1,9}")

_BINARY = {"this", "expression"}
_QUERY_TAIL = {"with_", "order", "limit", "offset"}

# Node type -> the arguments it may carry. A node of any other type, or one with any other
# argument set, is refused: what sqlglot adds in a later version stays out until reviewed.
NODES: dict[type[exp.Expression], set[str]] = {
    exp.Select: {"expressions", "from_", "joins", "where", "group", "having", "distinct"}
    | _QUERY_TAIL,
    exp.Union: {"this", "expression", "distinct"} | _QUERY_TAIL,
    exp.Intersect: {"this", "expression", "distinct"} | _QUERY_TAIL,
    exp.Except: {"this", "expression", "distinct"} | _QUERY_TAIL,
    exp.Subquery: {"this", "alias"},
    exp.With: {"expressions", "recursive"},
    exp.CTE: {"this", "alias"},
    exp.TableAlias: {"this", "columns"},
    exp.From: {"this"},
    exp.Join: {"this", "on", "side", "kind", "using"},
    exp.Table: {"this", "alias", "db", "catalog"},  # db and catalog: refused by resolve_tables
    exp.Where: {"this"},
    exp.Having: {"this"},
    exp.Group: {"expressions"},
    exp.Order: {"expressions"},
    exp.Ordered: {"this", "desc", "nulls_first"},
    exp.Limit: {"expression"},
    exp.Offset: {"expression"},
    exp.Distinct: {"expressions"},
    exp.Alias: {"this", "alias"},
    exp.Column: {"this", "table", "db", "catalog"},
    exp.Dot: _BINARY,
    exp.Identifier: {"this", "quoted"},
    exp.Star: set(),
    exp.Literal: {"this", "is_string"},
    exp.Null: set(),
    exp.Boolean: {"this"},
    exp.Paren: {"this"},
    exp.Tuple: {"expressions"},
    exp.Not: {"this"},
    exp.Neg: {"this"},
    exp.Is: _BINARY | {"negate"},
    exp.Like: _BINARY | {"negate"},
    exp.ILike: _BINARY | {"negate"},
    exp.Escape: _BINARY,
    exp.Between: {"this", "low", "high"},
    exp.In: {"this", "expressions", "query"},
    exp.Exists: {"this"},
    exp.If: {"this", "true"},  # only as a WHEN branch of CASE, see _check_node
    exp.Window: {"this", "partition_by", "order", "spec", "over"},
    exp.WindowSpec: {"kind", "start", "start_side", "end", "end_side"},
    exp.Filter: _BINARY,
    exp.Interval: {"this", "unit"},
    exp.Var: {"this"},  # only as a unit or field name, see _check_node
    exp.DataType: {"this", "expressions", "nested"},
    exp.DataTypeParam: {"this"},
    **dict.fromkeys((exp.And, exp.Or, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE), _BINARY),
    **dict.fromkeys((exp.Add, exp.Sub, exp.Mul, exp.Mod), _BINARY),
    exp.Div: _BINARY | {"typed", "safe"},
    exp.DPipe: _BINARY | {"safe"},
    **{kind: set(args) for kind, (_, args) in FUNCTIONS.items()},
}

_VAR_PARENTS = (exp.Interval, exp.Extract, exp.TimestampTrunc, exp.DateTrunc)

TRUNC_UNITS = frozenset({"second", "minute", "hour", "day", "week", "month", "quarter", "year"})
EXTRACT_FIELDS = frozenset(
    {"year", "quarter", "month", "day", "hour", "minute", "second", "dow", "isodow", "doy"}
    | {"epoch"}
)
INTERVAL_UNITS = frozenset({"second", "minute", "hour", "day", "week", "month", "year"})

CAST_TYPES = frozenset(
    {
        exp.DataType.Type.TEXT,
        exp.DataType.Type.VARCHAR,
        exp.DataType.Type.INT,
        exp.DataType.Type.SMALLINT,
        exp.DataType.Type.BIGINT,
        exp.DataType.Type.DECIMAL,
        exp.DataType.Type.DOUBLE,
        exp.DataType.Type.FLOAT,
        exp.DataType.Type.DATE,
        exp.DataType.Type.TIMESTAMP,
        exp.DataType.Type.TIMESTAMPTZ,
    }
)

_REFUSALS: tuple[tuple[type[exp.Expression], str], ...] = (
    (exp.Command, "This statement is not supported: only SELECT queries can run."),
    (exp.Into, "SELECT ... INTO writes a table: only plain SELECT queries can run."),
    (exp.Lock, "Locking clauses (FOR UPDATE / FOR SHARE) are not allowed."),
    (exp.DML, "Only SELECT queries can run: the query writes data."),
    (exp.DDL, "Only SELECT queries can run: the query changes the schema."),
    (exp.Insert, "Only SELECT queries can run: the query inserts rows."),
    (exp.Copy, "COPY is not allowed: only SELECT queries can run."),
    (exp.Set, "SET is not allowed: only SELECT queries can run."),
    (exp.Pragma, "PRAGMA is not allowed: only SELECT queries can run."),
    (exp.Transaction, "Transaction control is not allowed."),
    (exp.Placeholder, "Write variables as @{name}: other parameter markers are not supported."),
    (exp.Parameter, "Write variables as @{name}: other parameter markers are not supported."),
    (exp.JSONExtract, "Read JSON keys with dot access, for example properties.plan."),
    (exp.JSONExtractScalar, "Read JSON keys with dot access, for example properties.plan."),
    (exp.Values, "VALUES lists are not supported: select from eventsTable or profilesTable."),
    (exp.Lateral, "LATERAL and table functions are not allowed."),
    (exp.Unnest, "UNNEST and table functions are not allowed."),
)


def check_tree(tree: exp.Expression, holders: Placeholders) -> None:
    """Refuse the query unless every node in it is on the allow-list, in an allowed place."""
    if not isinstance(tree, (exp.Select, exp.SetOperation)):
        raise SqlError(
            "invalid_sql",
            _refusal(tree) or f"Only SELECT queries can run, not {_describe(tree)}.",
        )
    tokens = holders.names
    stack: list[tuple[exp.Expression, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SqlError("invalid_sql", "The query is nested too deeply.")
        try:
            _check_node(node, tokens)
        except SqlError as error:
            # sqlglot records where it read function calls (and a few other nodes).
            start = node.meta.get("start")
            if isinstance(start, int) and error.position is None:
                error.position = holders.position(start)
            raise
        stack.extend((child, depth + 1) for child in node.iter_expressions())


def _check_node(node: exp.Expression, tokens: dict[str, str]) -> None:
    parent = node.parent
    if isinstance(node, exp.If) and not isinstance(parent, exp.Case):
        raise SqlError("forbidden_function", "The function if() is not allowed: use CASE.")
    allowed = NODES.get(type(node))
    if allowed is None:
        refusal = _refusal(node)
        name = function_name(node)
        if name in tokens:
            raise SqlError(
                "invalid_sql", f"@{{{tokens[name]}}} can only stand for a value, not a function."
            )
        if refusal is None and isinstance(node, exp.Func):
            raise SqlError("forbidden_function", f"The function {name}() is not allowed.")
        raise SqlError("invalid_sql", refusal or f"{_describe(node)} is not supported.")
    for key, value in node.args.items():
        if key not in allowed and value not in (None, False, [], ""):
            raise SqlError("invalid_sql", _clause_refusal(node, key, value))
    if isinstance(node, exp.Table):
        _check_table(node)
    if isinstance(node, exp.Var) and not isinstance(parent, _VAR_PARENTS):
        raise SqlError("invalid_sql", f"Unexpected word {node.name!r} in the query.")
    if isinstance(node, exp.Interval):
        _check_interval(node)
    elif isinstance(node, exp.DataType):
        if not isinstance(parent, exp.Cast) or node.this not in CAST_TYPES:
            raise SqlError("invalid_sql", f"Casting to {node.sql()} is not supported.")
    elif isinstance(node, exp.DataTypeParam) and not isinstance(parent, exp.DataType):
        raise SqlError("invalid_sql", "Unexpected type parameter.")
    elif isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
        _check_unit(node.args.get("unit"), TRUNC_UNITS, "date_trunc", tokens)
    elif isinstance(node, exp.Extract):
        _check_unit(node.this, EXTRACT_FIELDS, "extract", tokens)


def _check_unit(
    unit: exp.Expression | None, allowed: frozenset[str], where: str, tokens: dict[str, str]
) -> None:
    name = unit.name.lower() if isinstance(unit, (exp.Var, exp.Literal)) else ""
    if name in tokens:
        return  # a placeholder: its value is checked against the same list when it is bound
    if name not in allowed:
        raise SqlError(
            "invalid_sql", f"{where} takes one of: {', '.join(sorted(allowed))} (got {name!r})."
        )


def _check_interval(node: exp.Interval) -> None:
    parent = node.parent
    if not (isinstance(parent, (exp.Add, exp.Sub)) and parent.expression is node):
        raise SqlError(
            "invalid_sql", "An INTERVAL can only be added to or subtracted from a timestamp."
        )
    unit = node.args.get("unit")
    value = node.this.name if isinstance(node.this, exp.Literal) else ""
    unit_name = unit.name.lower().removesuffix("s") if isinstance(unit, exp.Var) else ""
    if not _INTERVAL_AMOUNT.fullmatch(value) or unit_name not in INTERVAL_UNITS:
        raise SqlError(
            "invalid_sql",
            "Write an interval as INTERVAL '<whole number> <unit>' (at most 9 digits), with a "
            "unit among "
            f"{', '.join(sorted(INTERVAL_UNITS))}.",
        )


def resolve_tables(tree: exp.Expression) -> list[tuple[exp.Table, VirtualTable | exp.CTE]]:
    """Pair every table reference with the virtual table or CTE it names, or refuse it."""
    for with_ in tree.find_all(exp.With):
        seen: set[str] = set()
        for cte in with_.expressions:
            name = cte.alias_or_name.lower()
            if name in VIRTUAL_TABLES:
                raise SqlError("invalid_sql", f"A CTE cannot be named {cte.alias_or_name}.")
            if not name or name in seen:
                raise SqlError("invalid_sql", f"The CTE name {cte.alias_or_name!r} is repeated.")
            seen.add(name)
    resolved: list[tuple[exp.Table, VirtualTable | exp.CTE]] = []
    for table in tree.find_all(exp.Table):
        _check_table(table)
        name = table.name.lower()
        target = VIRTUAL_TABLES.get(name) or _visible_cte(table, name)
        if target is None:
            raise SqlError(
                "forbidden_table",
                f"The table {table.name!r} is not available: "
                "only eventsTable, profilesTable and the query's own CTEs can be read.",
            )
        resolved.append((table, target))
    return resolved


def _check_table(table: exp.Table) -> None:
    if not isinstance(table.this, exp.Identifier):
        raise SqlError(
            "forbidden_table",
            "Table functions are not allowed: select from eventsTable or profilesTable.",
        )
    if table.args.get("db") or table.args.get("catalog"):
        raise SqlError(
            "forbidden_table",
            f"The table {table.sql(dialect='postgres')} is not available: "
            "only eventsTable, profilesTable and the query's own CTEs can be read.",
        )


def _visible_cte(table: exp.Table, name: str) -> exp.CTE | None:
    # Walk out from the reference: in each enclosing WITH, a CTE sees the CTEs before it
    # (and itself when RECURSIVE); the main query sees them all. Innermost wins.
    path = [table]
    while path[-1].parent is not None:
        path.append(path[-1].parent)
    for i, node in enumerate(path):
        with_ = node.args.get("with_") if isinstance(node, exp.Query) else None
        if not isinstance(with_, exp.With):
            continue
        ctes = list(with_.expressions)
        if i >= 2 and path[i - 1] is with_:
            current = path[i - 2]
            index = next(k for k, cte in enumerate(ctes) if cte is current)
            ctes = ctes[: index + 1] if with_.args.get("recursive") else ctes[:index]
        for cte in reversed(ctes):
            if cte.alias_or_name.lower() == name:
                return cte
    return None


def _refusal(node: exp.Expression) -> str | None:
    for kind, message in _REFUSALS:
        if isinstance(node, kind):
            return message
    return None


def _clause_refusal(node: exp.Expression, key: str, value: object) -> str:
    first = value[0] if isinstance(value, list) and value else value
    if isinstance(first, exp.Expression) and _refusal(first):
        return str(_refusal(first))
    clause = key.rstrip("_").replace("_", " ").upper()
    return f"{clause} is not supported in {_describe(node)}."


def _describe(node: exp.Expression) -> str:
    return node.key.replace("_", " ").upper()
