"""Saved metrics (create, edit, delete: validated and audited) and running queries."""

from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apikeys.keycache import KeySnapshot
from core.actors import Actor
from core.errors import field_error
from metrics import cache as result_cache
from metrics import sandbox
from metrics.models import SavedMetric
from metrics.sql import SqlError, compile_query
from workspaces.audit import AuditAction, audit_record
from workspaces.models import Workspace

MAX_VARIABLES = 50
# The code of a refused edit made on a version that is no longer the metric's latest.
STALE = "stale"


def _metric_validate(*, workspace: Workspace, name: str, sql: str, variables: Any) -> str:
    name = (name or "").strip()
    if not name:
        raise field_error("name", "Give the metric a name.", "required")
    if len(name) > 200:
        raise field_error("name", "Keep the name to 200 characters or fewer.", "max_length")
    if not isinstance(variables, dict) or len(variables) > MAX_VARIABLES:
        raise field_error(
            "variables",
            f"Variables are an object of at most {MAX_VARIABLES} names and default values.",
            "invalid",
        )
    try:
        compile_query(
            sql or "",
            variables,
            dialect=sandbox.database_dialect(),
            workspace_id=workspace.pk,
            row_cap=settings.METRICS_ROW_CAP,
            max_length=settings.METRICS_MAX_QUERY_LENGTH,
        )
    except SqlError as error:
        where = f" (line {error.position[0]}, column {error.position[1]})" if error.position else ""
        variable_codes = {"missing_variable", "invalid_variable"}
        field_name = "variables" if error.code in variable_codes else "sql"
        raise field_error(field_name, f"{error.detail}{where}", error.code) from None
    return name


@contextmanager
def _unique_name(name: str):
    """Turn the database's unique-name refusal into an error on the name field."""
    try:
        yield
    except IntegrityError:
        raise field_error("name", f"A metric named “{name}” already exists.", "duplicate") from None


def saved_metric_create(
    *,
    workspace: Workspace,
    name: str,
    sql: str,
    variables: dict[str, Any],
    description: str = "",
    by: Actor,
) -> SavedMetric:
    """Save a named query; its SQL must pass the sandbox's checks with the default variables."""
    name = _metric_validate(workspace=workspace, name=name, sql=sql, variables=variables)
    now = timezone.now()
    with _unique_name(name), transaction.atomic():
        metric = SavedMetric.objects.create(
            workspace=workspace,
            name=name,
            description=(description or "").strip(),
            sql=sql,
            variables=variables,
            created_at=now,
            updated_at=now,
            created_by=by.user,
        )
        audit_record(
            workspace=workspace,
            by=by,
            action=AuditAction.METRIC_CREATE,
            target=metric,
            changes={"name": name, "sql": sql, "variables": variables},
        )
    return metric


def saved_metric_update(
    *,
    metric: SavedMetric,
    name: str,
    sql: str,
    variables: dict[str, Any],
    description: str = "",
    by: Actor,
    seen_version: int | None = None,
) -> SavedMetric:
    """Edit a metric; its version goes up, which retires every cached answer of the old one.

    `seen_version` is the version the caller's form showed: when the metric was saved since,
    the edit would silently undo another one, so it is refused (`stale`) and nothing changes.
    """
    name = _metric_validate(workspace=metric.workspace, name=name, sql=sql, variables=variables)
    with _unique_name(name), transaction.atomic():
        metric = SavedMetric.objects.select_for_update().get(pk=metric.pk)
        if seen_version is not None and seen_version != metric.version:
            raise ValidationError(
                f"This metric was changed by someone else since you opened it (it is now "
                f"version {metric.version}). Your text is kept below: compare it with the saved "
                "SQL, then save again to replace that version with yours.",
                code=STALE,
            )
        before = {"name": metric.name, "sql": metric.sql, "variables": metric.variables}
        metric.name, metric.sql, metric.variables = name, sql, variables
        metric.description = (description or "").strip()
        metric.version += 1
        metric.updated_at = timezone.now()
        metric.save()
        audit_record(
            workspace=metric.workspace,
            by=by,
            action=AuditAction.METRIC_UPDATE,
            target=metric,
            changes={
                "before": before,
                "after": {"name": name, "sql": sql, "variables": variables},
                "version": metric.version,
            },
        )
    return metric


def saved_metric_delete(*, metric: SavedMetric, by: Actor) -> None:
    """Delete a metric; calls by its id then answer 404."""
    with transaction.atomic():
        audit_record(
            workspace=metric.workspace,
            by=by,
            action=AuditAction.METRIC_DELETE,
            target=metric,
            changes={"name": metric.name, "sql": metric.sql},
        )
        SavedMetric.objects.filter(pk=metric.pk).delete()


def query_run(
    *,
    workspace_id: int,
    cache_ttl_minutes: int | None,
    request: dict[str, Any],
    sql: str,
    variables: dict[str, Any],
) -> dict[str, Any]:
    """Answer a query from the result cache, or run it in the sandbox and cache the answer.

    `request` is what identifies the answer (the SQL, or the metric's id and version, and the
    variables). With `cache_ttl_minutes` None (a test run from the Metrics page) the cache is
    neither read nor written. Errors raise SqlError and are never cached.
    """
    key = result_cache.result_key(workspace_id=workspace_id, request=request)
    if cache_ttl_minutes is not None:
        cached = result_cache.result_get(key)
        if cached is not None:
            return {**cached, "cached": True}
    result = sandbox.run_query(sql, variables, workspace_id=workspace_id)
    if cache_ttl_minutes is None:
        return {**result, "cached": False, "cachedUntil": None}
    until = result_cache.result_put(key, result, ttl=timedelta(minutes=cache_ttl_minutes))
    return {**result, "cached": False, "cachedUntil": until.isoformat().replace("+00:00", "Z")}


def saved_metric_run(
    *, metric: SavedMetric, snapshot: KeySnapshot | None, variables: dict[str, Any]
) -> dict[str, Any]:
    """Run a saved metric with its defaults overridden by `variables`."""
    if not isinstance(variables, dict):
        raise SqlError("invalid_variable", "variables must be an object.")
    merged = {**metric.variables, **variables}
    return query_run(
        workspace_id=metric.workspace_id,
        cache_ttl_minutes=snapshot.cache_ttl_minutes if snapshot is not None else None,
        request={"metric": str(metric.pk), "version": metric.version, "variables": merged},
        sql=metric.sql,
        variables=merged,
    )
