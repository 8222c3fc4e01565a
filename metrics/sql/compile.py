"""Compile customer SQL into SQL that reads only one workspace's rows, with bound values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from . import columns, pushdown, sqlite
from .bind import Binder, check_variables
from .check import check_tree, resolve_tables
from .errors import SqlError
from .limits import (
    Limits,
    check_bound_values,
    check_text_shape,
    check_tree_size,
    time_budget,
)
from .parse import Placeholders, check_text, parse_statement, substitute_placeholders
from .schema import READABLE_COLUMNS, WORKSPACE_COLUMN, VirtualTable

Dialect = Literal["postgres", "sqlite"]
DIALECTS: tuple[str, ...] = ("postgres", "sqlite")


@dataclass(frozen=True)
class CompiledQuery:
    """SQL ready for the sandbox: the driver's parameter style, values bound, rows capped.

    `sql` uses psycopg's `%s` markers (with every literal `%` doubled) for PostgreSQL and
    sqlite3's `?` markers for SQLite; `params` are the values in marker order. The query
    returns at most `row_cap + 1` rows, so a caller can tell that the cap cut the result.
    """

    sql: str
    params: tuple[object, ...]
    dialect: str
    row_cap: int
    # output column name -> "json" | "timestamp" | "boolean", for values that need decoding
    column_kinds: Mapping[str, str] = field(default_factory=dict)
    # `sql` with its random generated names made constant: equal for equal queries, whatever
    # their comments, white space or case (the result cache's key).
    canonical_sql: str = ""


def compile_query(
    text: str,
    variables: Mapping[str, object] | None,
    *,
    dialect: Dialect,
    workspace_id: int,
    row_cap: int,
    limits: Limits | None = None,
) -> CompiledQuery:
    """Check `text` against the allow-list and compile it for one workspace, or raise SqlError.

    Every bound in `limits` is checked before the step it protects; parse and compile together
    run within its time budget (limits.py).
    """
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {DIALECTS}")
    if type(workspace_id) is not int or workspace_id < 1:
        raise ValueError("workspace_id must be a positive integer")
    if type(row_cap) is not int or row_cap < 1:
        raise ValueError("row_cap must be a positive integer")
    limits = limits or Limits()
    check_text(text, max_length=limits.max_length)
    check_text_shape(text, limits)
    substituted, holders = substitute_placeholders(text)
    values = check_variables(variables, holders)
    check_bound_values(holders.occurrences, holders.names, values, limits)
    with time_budget(limits.time_budget) as deadline:
        tree = parse_statement(substituted, holders)
        deadline.check()
        check_tree_size(tree, limits)
        try:
            check_tree(tree, holders)
            deadline.check()
            return _Compiler(dialect, holders, workspace_id, row_cap).compile(tree, values)
        except RecursionError:
            raise SqlError("query_too_deep", "The query is nested too deeply.") from None


class _Compiler:
    """One compilation: collects bound parameters and the names it generates."""

    def __init__(self, dialect: str, holders: Placeholders, workspace_id: int, row_cap: int):
        self.dialect = dialect
        self.nonce = holders.nonce
        self.holders = holders
        self.workspace_id = workspace_id
        self.row_cap = row_cap
        self.params: list[object] = []

    def param(self, value: object) -> exp.Placeholder:
        self.params.append(value)
        return exp.Placeholder(this=f"{self.nonce}p{len(self.params) - 1}")

    def compile(self, tree: exp.Expression, values: Mapping[str, object]) -> CompiledQuery:
        Binder(self.holders, values, row_cap=self.row_cap, param=self.param).bind(tree)
        tables = resolve_tables(tree)
        columns.rewrite_json_access(tree, self.dialect)
        columns.canonicalize_identifiers(tree)
        self._replace_tables(tree, tables)
        pushdown.push_filters(tree)
        kinds = columns.name_outputs(tree)
        self._cap_rows(tree)
        if self.dialect == "sqlite":
            sqlite.transform(tree, alias_prefix=f"{self.nonce}u")
        self._verify(tree)
        sql, params = self._generate(tree)
        return CompiledQuery(
            sql=sql,
            params=tuple(params),
            dialect=self.dialect,
            row_cap=self.row_cap,
            column_kinds=MappingProxyType(kinds),
            # NUL cannot occur in accepted text, so the constant never meets a customer's name.
            canonical_sql=sql.replace(self.nonce, "\x00"),
        )

    def _replace_tables(
        self, tree: exp.Expression, tables: list[tuple[exp.Table, VirtualTable | exp.CTE]]
    ) -> None:
        # Each virtual table becomes a derived table over its physical table, filtered on the
        # workspace inside the derived table, where nothing in the customer's query can reach.
        # CTEs get generated names, so a reference can only ever find the CTE it resolved to.
        cte_names = {id(cte): f"{self.nonce}c{i}" for i, cte in enumerate(tree.find_all(exp.CTE))}
        for table, target in tables:
            alias = table.args.get("alias")
            if isinstance(target, VirtualTable):
                alias = alias.copy() if alias else exp.TableAlias(this=_quoted(target.name))
                table.replace(exp.Subquery(this=self._derived(target), alias=alias))
            else:
                alias = alias.copy() if alias else exp.TableAlias(this=_quoted(table.name))
                table.replace(exp.Table(this=_quoted(cte_names[id(target)]), alias=alias))
        for cte in tree.find_all(exp.CTE):
            cte.args["alias"].set("this", _quoted(cte_names[id(cte)]))

    def _derived(self, table: VirtualTable) -> exp.Select:
        def physical(name: str) -> exp.Column:
            return exp.Column(this=_quoted(name), table=_quoted(table.physical))

        select = exp.Select(
            expressions=[
                exp.Alias(this=physical(column), alias=_quoted(virtual))
                for virtual, column in table.columns.items()
            ],
            from_=exp.From(this=exp.Table(this=_quoted(table.physical))),
            where=exp.Where(
                this=exp.EQ(
                    this=physical(WORKSPACE_COLUMN), expression=self.param(self.workspace_id)
                )
            ),
            # OFFSET 0 keeps the planner from moving the customer's predicates below the
            # workspace filter (see pushdown.py); SQLite needs a LIMIT before an OFFSET.
            limit=exp.Limit(expression=exp.Literal.number(-1))
            if self.dialect == "sqlite"
            else None,
            offset=exp.Offset(expression=exp.Literal.number(0)),
        )
        select.meta[pushdown.SOURCE] = table
        return select

    def _cap_rows(self, tree: exp.Expression) -> None:
        cap = self.row_cap + 1
        limit = tree.args.get("limit")
        if isinstance(limit, exp.Limit):
            cap = min(cap, int(limit.expression.name))
        tree.set("limit", exp.Limit(expression=exp.Literal.number(cap)))

    def _verify(self, tree: exp.Expression) -> None:
        # Post-conditions on the tree that will run, independent of how it was built.
        ctes = {f"{self.nonce}c{i}" for i, _ in enumerate(tree.find_all(exp.CTE))}
        for table in tree.find_all(exp.Table):
            if table.args.get("db") or table.args.get("catalog"):
                raise _unsafe()
            if table.name in ctes:
                continue
            select = table.find_ancestor(exp.Select)
            if table.name not in READABLE_COLUMNS or not (
                select and pushdown.SOURCE in select.meta
            ):
                raise _unsafe()

    def _generate(self, tree: exp.Expression) -> tuple[str, list[object]]:
        try:
            sql = tree.sql(
                dialect=sqlite.StrictSQLite if self.dialect == "sqlite" else self.dialect,
                comments=False,
                identify=True,
                unsupported_level=ErrorLevel.RAISE,
            )
        except SqlglotError as error:
            raise SqlError(
                "invalid_sql", f"This query cannot run on this database: {error}"
            ) from None
        if f"{self.nonce}v" in sql.lower():
            raise _unsafe()
        if self.dialect == "postgres":
            marker = re.compile(rf"%\({self.nonce}p(\d+)\)s")
            pieces = marker.split(sql)
            # psycopg reads % as the start of a marker: double every literal one.
            out = [p.replace("%", "%%") if i % 2 == 0 else "%s" for i, p in enumerate(pieces)]
        else:
            marker = re.compile(rf":{self.nonce}p(\d+)\b")
            pieces = marker.split(sql)
            out = [p if i % 2 == 0 else "?" for i, p in enumerate(pieces)]
        params = [self.params[int(p)] for p in pieces[1::2]]
        return "".join(out), params


def _unsafe() -> SqlError:
    # A post-condition failed: a bug in the compiler, never something to run. Fail closed.
    return SqlError("invalid_sql", "This query cannot be compiled safely.")


def _quoted(name: str) -> exp.Identifier:
    return exp.Identifier(this=name, quoted=True)
