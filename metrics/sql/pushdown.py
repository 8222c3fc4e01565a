"""Copy leak-free filters into the workspace's derived tables, so indexes still serve them.

Each derived table is an optimisation fence (OFFSET 0): the database may not move the
customer's predicates below the workspace filter, where an error message or a timing could
tell something about another workspace's rows (`CAST(name AS int) = 1` failing on someone
else's event name). The fence would also keep `name = 'signup'` away from the
(workspace, name, timestamp) index, so simple comparisons of a plain column with a value,
which cannot fail on any row, are copied inside the fence, after the workspace filter. They
stay in the outer WHERE too, so the result is unchanged.
"""

from __future__ import annotations

from sqlglot import exp

from .schema import COLUMN_KINDS, JSON, VirtualTable

SOURCE = "uf_source"

_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


def _is_value(node: exp.Expression | None) -> bool:
    if isinstance(node, exp.Literal):
        return True
    return isinstance(node, exp.Placeholder) and bool(node.this)


def push_filters(tree: exp.Expression) -> None:
    """Copy `column <op> value` conjuncts of each WHERE into the derived tables they read."""
    for select in list(tree.find_all(exp.Select)):
        where = select.args.get("where")
        if SOURCE in select.meta or where is None:
            continue
        sources = _inner_sources(select)
        for conjunct in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
            target = _target(conjunct, sources)
            if target is not None:
                derived, column = target
                _add_filter(derived, conjunct, column)


def _inner_sources(select: exp.Select) -> dict[str, exp.Select | None]:
    # alias (lower case) -> the derived Select behind it, or None for any other source. Only
    # FROM and inner joins: a filter may not move into the optional side of an outer join.
    sources: dict[str, exp.Select | None] = {}
    joins = select.args.get("joins") or []
    for node in [select.args.get("from_"), *joins]:
        if node is None:
            continue
        source = node.this
        inner = isinstance(node, exp.From) or not node.args.get("side")
        derived = source.this if isinstance(source, exp.Subquery) else None
        renamed = isinstance(source, exp.Subquery) and source.alias_column_names
        is_ours = isinstance(derived, exp.Select) and SOURCE in derived.meta and not renamed
        sources[str(source.alias_or_name).lower()] = derived if is_ours and inner else None
    return sources


def _target(
    conjunct: exp.Expression, sources: dict[str, exp.Select | None]
) -> tuple[exp.Select, exp.Column] | None:
    if isinstance(conjunct, _COMPARISONS):
        column, values = conjunct.this, [conjunct.expression]
        if not isinstance(column, exp.Column):
            column, values = conjunct.expression, [conjunct.this]
    elif isinstance(conjunct, exp.Like):
        # Only `column LIKE value`: a pattern read from a row could be malformed and fail.
        column, values = conjunct.this, [conjunct.expression]
    elif isinstance(conjunct, exp.In) and not conjunct.args.get("query"):
        column, values = conjunct.this, conjunct.expressions
    elif isinstance(conjunct, exp.Between):
        column, values = conjunct.this, [conjunct.args.get("low"), conjunct.args.get("high")]
    else:
        return None
    if not isinstance(column, exp.Column) or not values or not all(map(_is_value, values)):
        return None
    qualifier = str(column.table).lower()
    if qualifier:
        derived = sources.get(qualifier)
    else:
        # An unqualified name is only certain to mean the one source there is.
        derived = next(iter(sources.values())) if len(sources) == 1 else None
    if derived is None:
        return None
    table: VirtualTable = derived.meta[SOURCE]
    name = str(column.name)
    if name not in table.columns or COLUMN_KINDS.get(name) == JSON:
        return None
    return derived, column


def _add_filter(derived: exp.Select, conjunct: exp.Expression, column: exp.Column) -> None:
    table: VirtualTable = derived.meta[SOURCE]
    copied = conjunct.copy()
    for reference in copied.find_all(exp.Column):
        reference.replace(
            exp.Column(
                this=exp.Identifier(this=table.columns[str(column.name)], quoted=True),
                table=exp.Identifier(this=table.physical, quoted=True),
            )
        )
    where = derived.args["where"]
    where.set("this", exp.And(this=where.this, expression=copied))
