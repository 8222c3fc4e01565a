"""The Metrics page: a workspace's saved metrics, and every change an admin makes to them.

Permissions are the API settings page's (`workspace_access`): members see the metrics and their
SQL, only admins create, edit, delete and test-run, strangers get 404. A change that succeeds
redirects back (post/redirect/get) with a message; one the services refuse re-renders the page
with 400, the error next to its field and the input kept. A test run is answered in the response
to its POST: it runs the saved version through the sandbox, never through the result cache.
"""

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from core.actors import Actor
from core.forms import add_service_errors, error_code
from metrics import services
from metrics.forms import MetricDeleteForm, MetricForm, RunForm
from metrics.models import SavedMetric
from metrics.sql import SqlError
from metrics.sql.errors import STATUSES
from workspaces.models import Membership, Workspace
from workspaces.views import change_view, page_view, workspace_access

INVALID = 400
# A test run may return up to the row cap; the page shows the first rows and says how many.
SHOWN_ROWS = 100
# Error codes that come from the sandbox: shown beside the message, as the API returns them.
SANDBOX_CODES = frozenset(STATUSES)


@dataclass(frozen=True)
class RunOutcome:
    """One test run of a metric: the variables it ran with, and its rows or its error."""

    version: int
    variables: dict[str, Any]
    result: dict[str, Any] | None = None
    error: SqlError | None = None

    @property
    def shown_rows(self) -> list[list[Any]]:
        """The first rows as cells in column order; JSON values as compact JSON text."""
        if self.result is None:
            return []
        columns = self.result["columns"]
        return [
            [_cell(row.get(column)) for column in columns]
            for row in self.result["rows"][:SHOWN_ROWS]
        ]

    @property
    def shown_variables(self) -> list[tuple[str, str]]:
        return _variable_rows(self.variables)


def _as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _cell(value: Any) -> Any:
    """A result value as the table shows it: JSON for objects, arrays and booleans."""
    if isinstance(value, dict | list | bool):
        return _as_json(value)
    return value


def _variable_rows(variables: dict[str, Any]) -> list[tuple[str, str]]:
    """Each variable as its placeholder and its value in JSON, e.g. ("@{n}", "10")."""
    return [(f"@{{{name}}}", _as_json(value)) for name, value in variables.items()]


def _to_metric(metric: SavedMetric) -> HttpResponse:
    return redirect("metrics:metric", slug=metric.workspace.slug, metric_id=metric.pk)


def _metric_of(workspace: Workspace, metric_id: UUID) -> SavedMetric:
    """A metric of this workspace; another workspace's id is 404 like an unknown one."""
    return get_object_or_404(
        SavedMetric.objects.select_related("workspace", "created_by"),
        pk=metric_id,
        workspace=workspace,
    )


def _admin_metric(
    request: HttpRequest, slug: str, metric_id: UUID
) -> tuple[Workspace, Membership, SavedMetric]:
    workspace, membership = workspace_access(request, slug, admin=True)
    return workspace, membership, _metric_of(workspace, metric_id)


def _metric_fields(data: dict[str, Any]) -> dict[str, Any]:
    """What the services take from a valid MetricForm."""
    return {name: data[name] for name in ("name", "description", "sql", "variables")}


def _edit_form(metric: SavedMetric) -> MetricForm:
    fields = ("name", "description", "sql", "variables", "version")
    return MetricForm(initial={name: getattr(metric, name) for name in fields})


def _sql_lines(sql: str, position: tuple[int, int] | None) -> list[tuple[str, bool]]:
    """The SQL a line at a time, with the line an error points at marked."""
    error_line = position[0] if position else None
    return [(text, number == error_line) for number, text in enumerate(sql.splitlines(), 1)]


def _render_list(
    request: HttpRequest,
    workspace: Workspace,
    membership: Membership,
    *,
    form: MetricForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "workspace": workspace,
        "can_manage": membership.role == Membership.Role.ADMIN,
        "metrics": SavedMetric.objects.filter(workspace=workspace).order_by("name"),
        "form": form if form is not None else MetricForm(initial={"variables": {}}),
        "sandbox_codes": SANDBOX_CODES,
    }
    return render(request, "metrics/page.html", context, status=status)


def _render_metric(
    request: HttpRequest,
    workspace: Workspace,
    membership: Membership,
    metric: SavedMetric,
    *,
    edit_form: MetricForm | None = None,
    run_form: RunForm | None = None,
    run: RunOutcome | None = None,
    status: int = 200,
) -> HttpResponse:
    error = run.error if run is not None else None
    if run_form is None:
        run_form = RunForm(initial={"variables": metric.variables})
    context = {
        "workspace": workspace,
        "can_manage": membership.role == Membership.Role.ADMIN,
        "metric": metric,
        "sql_lines": _sql_lines(metric.sql, error.position if error else None),
        "defaults": _variable_rows(metric.variables),
        "edit_form": edit_form if edit_form is not None else _edit_form(metric),
        "run_form": run_form,
        "run": run,
        "shown_rows": SHOWN_ROWS,
        "sandbox_codes": SANDBOX_CODES,
    }
    return render(request, "metrics/metric.html", context, status=status)


@page_view
def metrics_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The workspace's saved metrics: every member may look, only admins get controls."""
    workspace, membership = workspace_access(request, slug)
    return _render_list(request, workspace, membership)


@page_view
def metric_page(request: HttpRequest, slug: str, metric_id: UUID) -> HttpResponse:
    """One metric: its SQL and variables; for admins, its edit, test-run and delete forms."""
    workspace, membership = workspace_access(request, slug)
    return _render_metric(request, workspace, membership, _metric_of(workspace, metric_id))


@change_view
def metric_create(request: HttpRequest, slug: str) -> HttpResponse:
    """Save a new metric; its SQL must pass the sandbox's checks with its default variables."""
    workspace, membership = workspace_access(request, slug, admin=True)
    form = MetricForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            metric = services.saved_metric_create(
                workspace=workspace, **_metric_fields(data), by=Actor.for_request(request)
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, f"“{metric.name}” is saved. Call it with POST /metrics/query/{metric.pk}."
            )
            return _to_metric(metric)
    return _render_list(request, workspace, membership, form=form, status=INVALID)


@change_view
def metric_update(request: HttpRequest, slug: str, metric_id: UUID) -> HttpResponse:
    """Save an edit as the next version, unless another edit was saved since the form was shown."""
    workspace, membership, metric = _admin_metric(request, slug, metric_id)
    form = MetricForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            metric = services.saved_metric_update(
                metric=metric,
                **_metric_fields(data),
                by=Actor.for_request(request),
                seen_version=data["version"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
            if error_code(error) == services.STALE:
                # Shown again with the current version: a second save is a choice made
                # knowing that it replaces the other edit.
                form.data = form.data.copy()
                form.data["version"] = str(SavedMetric.objects.get(pk=metric.pk).version)
        else:
            messages.success(
                request,
                f"“{metric.name}” is saved as version {metric.version}: answers cached for "
                "earlier versions are no longer served.",
            )
            return _to_metric(metric)
        metric.refresh_from_db()
    return _render_metric(request, workspace, membership, metric, edit_form=form, status=INVALID)


@change_view
def metric_delete(request: HttpRequest, slug: str, metric_id: UUID) -> HttpResponse:
    """Delete a metric once the admin has confirmed; until then, ask."""
    workspace, _, metric = _admin_metric(request, slug, metric_id)
    if not MetricDeleteForm(request.POST).confirmed:
        context = {"workspace": workspace, "metric": metric}
        return render(request, "metrics/delete_confirm.html", context)
    services.saved_metric_delete(metric=metric, by=Actor.for_request(request))
    messages.success(request, f"“{metric.name}” is deleted: calls to its id now answer 404.")
    return redirect("metrics:page", slug=workspace.slug)


@change_view
def metric_run(request: HttpRequest, slug: str, metric_id: UUID) -> HttpResponse:
    """Run the saved version with the variables given (defaults for the rest), without the cache."""
    workspace, membership, metric = _admin_metric(request, slug, metric_id)
    form = RunForm(request.POST)
    run = None
    if form.is_valid():
        given = form.cleaned_data["variables"]
        ran = {"version": metric.version, "variables": {**metric.variables, **given}}
        try:
            # No snapshot: the result cache is neither read nor written.
            result = services.saved_metric_run(metric=metric, snapshot=None, variables=given)
        except SqlError as error:
            run = RunOutcome(**ran, error=error)
        else:
            run = RunOutcome(**ran, result=result)
    status = 200 if run is not None and run.error is None else INVALID
    return _render_metric(
        request, workspace, membership, metric, run_form=form, run=run, status=status
    )
