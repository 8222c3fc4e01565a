"""Column names: JSON dot access, case-insensitive identifiers, and the result's column names."""

from __future__ import annotations

import re

from sqlglot import exp

from .errors import SqlError
from .functions import FUNCTIONS, function_name
from .schema import BOOLEAN, CANONICAL_NAMES, COLUMN_KINDS, JSON_COLUMNS, TIMESTAMP

MAX_JSON_DEPTH = 16
_BAD_KEY = re.compile(r'["\\\x00-\x1f]')
_JSON_NAMES = ", ".join(sorted(JSON_COLUMNS))

# Functions whose result is of the same kind as their first argument.
_PASS_THROUGH = (
    exp.Paren,
    exp.Alias,
    exp.Window,
    exp.Filter,
    exp.Min,
    exp.Max,
    exp.Coalesce,
    exp.Nullif,
    exp.Greatest,
    exp.Least,
    exp.Lag,
    exp.Lead,
    exp.FirstValue,
    exp.LastValue,
)


def rewrite_json_access(tree: exp.Expression, dialect: str) -> None:
    """Turn `properties.a.b` (and `e.properties.a.b`) into JSON extraction returning text."""
    for dot in list(tree.find_all(exp.Dot)):
        if isinstance(dot.parent, exp.Dot):
            continue
        parts: list[exp.Expression] = []
        node: exp.Expression = dot
        while isinstance(node, exp.Dot):
            parts.insert(0, node.expression)
            node = node.this
        if not isinstance(node, exp.Column) or not all(
            isinstance(p, exp.Identifier) for p in parts
        ):
            raise SqlError("invalid_sql", f"Unsupported name {dot.sql(dialect='postgres')!r}.")
        dot.replace(_resolve(dot, [*node.parts, *parts], dialect))
    for column in list(tree.find_all(exp.Column)):
        if isinstance(column.this, exp.Star):
            if column.args.get("db") or column.args.get("catalog"):
                raise SqlError("invalid_sql", "Write table.* with a table name from FROM.")
            continue
        if len(column.parts) > 1:
            column.replace(_resolve(column, list(column.parts), dialect))


def _resolve(node: exp.Expression, parts: list[exp.Identifier], dialect: str) -> exp.Expression:
    # A first part naming a table of the FROM clause qualifies the column; what follows the
    # column is a path of JSON keys (case-sensitive, as JSON is).
    names = [str(p.name) for p in parts]
    if names[0].lower() in _visible_sources(node):
        qualifier, column, keys = parts[0], parts[1], names[2:]
    else:
        qualifier, column, keys = None, parts[0], names[1:]
    reference = exp.Column(
        this=column.copy(), table=qualifier.copy() if qualifier is not None else None
    )
    if not keys:
        return reference
    if CANONICAL_NAMES.get(str(column.name).lower()) not in JSON_COLUMNS:
        raise SqlError(
            "invalid_sql",
            f"{'.'.join(names)}: {column.name!r} is neither a table of the FROM clause nor a "
            f"JSON column; dot access reads keys of {_JSON_NAMES}.",
        )
    if len(keys) > MAX_JSON_DEPTH or any(not k or _BAD_KEY.search(k) for k in keys):
        raise SqlError("invalid_sql", f"{'.'.join(names)}: unsupported JSON key.")
    extracted = _json_text(reference, keys, dialect)
    extracted.meta["uf_json_key"] = keys[-1]
    return extracted


def _json_text(column: exp.Column, keys: list[str], dialect: str) -> exp.Expression:
    if dialect == "postgres":
        # jsonb_extract_path_text(c, 'a', 'b') is c -> 'a' ->> 'b': text for leaves.
        return exp.Anonymous(
            this="jsonb_extract_path_text",
            expressions=[column, *(exp.Literal.string(k) for k in keys)],
        )
    path = exp.Literal.string("$" + "".join(f'."{k}"' for k in keys))

    def call(name: str) -> exp.Expression:
        return exp.Anonymous(this=name, expressions=[column.copy(), path.copy()])

    # json_extract gives SQL values (1 for true, numbers as numbers): spell them as
    # PostgreSQL's ->> does, so both databases return the same text.
    return exp.Case(
        this=call("json_type"),
        ifs=[
            exp.If(this=exp.Literal.string("text"), true=call("json_extract")),
            exp.If(this=exp.Literal.string("null"), true=exp.Null()),
            exp.If(this=exp.Literal.string("true"), true=exp.Literal.string("true")),
            exp.If(this=exp.Literal.string("false"), true=exp.Literal.string("false")),
        ],
        default=exp.Cast(this=call("json_extract"), to=exp.DataType.build("TEXT")),
    )


def _visible_sources(node: exp.Expression) -> set[str]:
    names: set[str] = set()
    for select in _ancestors(node, exp.Select):
        sources = [select.args.get("from_"), *(select.args.get("joins") or [])]
        for source in sources:
            if source is not None and source.this is not None:
                names.add(str(source.this.alias_or_name).lower())
    return names


def _ancestors(node: exp.Expression, kind: type[exp.Expression]) -> list[exp.Expression]:
    found = []
    parent = node.parent
    while parent is not None:
        if isinstance(parent, kind):
            found.append(parent)
        parent = parent.parent
    return found


def canonicalize_identifiers(tree: exp.Expression) -> None:
    """Make every name case-insensitive: one spelling per name, always quoted.

    Virtual tables and columns take the schema's spelling (`userid` is `userId`); any other
    name takes the spelling of its first definition (`AS pagePath`), else its first use.
    """
    spelled: dict[str, str] = {}
    for node in tree.walk(bfs=False):
        if isinstance(node, exp.Alias):
            defined = [node.args.get("alias")]
        elif isinstance(node, exp.TableAlias):
            defined = [node.this, *node.columns]
        else:
            continue
        for ident in defined:
            if isinstance(ident, exp.Identifier):
                spelled.setdefault(str(ident.name).lower(), str(ident.name))
    for ident in tree.find_all(exp.Identifier):
        key = str(ident.name).lower()
        ident.set("this", CANONICAL_NAMES.get(key) or spelled.setdefault(key, str(ident.name)))
        ident.set("quoted", True)


def name_outputs(tree: exp.Expression) -> dict[str, str]:
    """Give every result column an explicit, quoted name; return the kinds of the columns."""
    select = tree
    while isinstance(select, (exp.SetOperation, exp.Subquery)):
        select = select.this
    kinds: dict[str, str] = {}
    star = False
    named: list[exp.Expression] = []
    for position, expression in enumerate(select.expressions, start=1):
        if isinstance(expression, exp.Star) or (
            isinstance(expression, exp.Column) and isinstance(expression.this, exp.Star)
        ):
            star = True
        elif isinstance(expression, exp.Alias):
            _add_kind(kinds, expression.alias, kind_of(expression.this))
        else:
            name = _default_name(expression, position)
            _add_kind(kinds, name, kind_of(expression))
            expression = exp.Alias(
                this=expression.copy(), alias=exp.Identifier(this=name, quoted=True)
            )
        named.append(expression)
    select.set("expressions", named)
    if star:
        for name, kind in COLUMN_KINDS.items():
            _add_kind(kinds, name, kind)
    return {name: kind for name, kind in kinds.items() if kind}


def _add_kind(kinds: dict[str, str], name: str, kind: str | None) -> None:
    # A name used twice with different kinds gets no kind: its values are passed as they are.
    kinds[name] = kind if kinds.get(name, kind) == kind else ""


def _default_name(expression: exp.Expression, position: int) -> str:
    while isinstance(expression, (exp.Cast, exp.Paren)) and "uf_json_key" not in expression.meta:
        expression = expression.this
    if "uf_json_key" in expression.meta:
        return expression.meta["uf_json_key"]
    if isinstance(expression, exp.Column):
        return str(expression.name)
    if isinstance(expression, (exp.Window, exp.Filter)):
        expression = expression.this
    if type(expression) in FUNCTIONS:
        return function_name(expression)
    return f"column{position}"


def kind_of(expression: exp.Expression) -> str | None:
    """What a result expression holds, as far as the sandbox must know to decode it."""
    while "uf_json_key" not in expression.meta:
        if isinstance(expression, _PASS_THROUGH):
            expression = expression.this
        elif isinstance(expression, exp.Case) and expression.args.get("ifs"):
            expression = expression.args["ifs"][0].args["true"]
        else:
            break
    if "uf_json_key" in expression.meta:
        return None
    if isinstance(expression, exp.Column):
        return COLUMN_KINDS.get(str(expression.name))
    if isinstance(expression, (exp.TimestampTrunc, exp.DateTrunc, exp.CurrentTimestamp)):
        return TIMESTAMP
    if isinstance(expression, exp.Cast):
        to = expression.args["to"].this
        timestamps = (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPTZ)
        return TIMESTAMP if to in timestamps else None
    if isinstance(expression, (exp.Add, exp.Sub)) and isinstance(
        expression.expression, exp.Interval
    ):
        return TIMESTAMP
    if isinstance(expression, (exp.Predicate, exp.Connector, exp.Not, exp.Boolean)):
        return BOOLEAN
    return None
