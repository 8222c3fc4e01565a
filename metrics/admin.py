"""Django admin for saved metrics: staff add, edit and delete them only through the services.

The forms call `saved_metric_create` / `saved_metric_update` while they validate (the shared
`ServiceModelForm` technique), so the sandbox's refusal of the SQL or the variables is shown on
the field it is about, and each change is audited like one made on the Metrics page.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS

from core.actors import Actor
from core.admin import ServiceModelAdmin, ServiceModelForm
from metrics.forms import JsonObjectField
from metrics.models import SavedMetric
from metrics.services import (
    STALE,
    saved_metric_create,
    saved_metric_delete,
    saved_metric_update,
)

CODE_WIDGET = forms.Textarea(
    attrs={"rows": 10, "cols": 80, "spellcheck": "false", "style": "font-family: monospace"}
)
EDITED_FIELDS = ["name", "description", "sql", "variables"]


class SavedMetricForm(ServiceModelForm):
    """A metric added by `saved_metric_create`, or edited into a new version by the update.

    `seen_version` is the version the change page showed: the service refuses an edit over a
    newer version (`stale`); the form then carries the newer version, so saving again is a
    choice made knowing that it replaces the other edit.
    """

    seen_version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    # The Metrics page's field: blank is {}, and text that is not a JSON object is an error here.
    variables = JsonObjectField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text='A JSON object of each variable\'s default, e.g. {"eventName": "signup"}.',
    )

    class Meta:
        model = SavedMetric
        fields = ["workspace", *EDITED_FIELDS]
        widgets = {"sql": CODE_WIDGET}
        help_texts = {
            "sql": "One SELECT over eventsTable and profilesTable; @{name} marks a variable."
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            self.fields["seen_version"].initial = self.instance.version

    def apply(self) -> None:
        data = self.cleaned_data
        fields: dict[str, Any] = {name: data[name] for name in EDITED_FIELDS}
        if self.instance._state.adding:
            metric = self.call(saved_metric_create, workspace=data["workspace"], **fields)
        elif any(value != getattr(self.instance, name) for name, value in fields.items()):
            # Compared with what is stored, not `changed_data`: an unchanged save makes no
            # new version, so it does not retire the metric's cached answers.
            metric = self.call(
                saved_metric_update,
                metric=self.instance,
                seen_version=data.get("seen_version"),
                **fields,
            )
            if metric is None and self.has_error(NON_FIELD_ERRORS, STALE):
                self.data = self.data.copy()
                self.data["seen_version"] = str(
                    SavedMetric.objects.values_list("version", flat=True).get(pk=self.instance.pk)
                )
        else:
            return
        if metric is not None:
            self.adopt(metric)


@admin.register(SavedMetric)
class SavedMetricAdmin(ServiceModelAdmin):
    """Saved metrics of every workspace; each add, edit and delete is a service call, audited."""

    form = SavedMetricForm
    list_display = ["name", "workspace", "version", "updated_at", "created_by"]
    list_filter = ["workspace", "updated_at", "created_at"]
    search_fields = ["name", "description", "sql", "workspace__slug", "workspace__name"]
    list_select_related = ["workspace", "created_by"]
    autocomplete_fields = ["workspace"]
    date_hierarchy = "updated_at"
    shown_fields = ["id", "call", "version", "created_at", "updated_at", "created_by"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["workspace", *EDITED_FIELDS]
        return ["workspace", *EDITED_FIELDS, "seen_version", *self.shown_fields]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["workspace", *self.shown_fields]

    @admin.display(description="Call")
    def call(self, obj: SavedMetric) -> str:
        return f"POST /metrics/query/{obj.pk}"

    def delete_model(self, request, obj):
        saved_metric_delete(metric=obj, by=Actor.for_request(request))

    def delete_queryset(self, request, queryset):
        """The bulk action deletes one metric at a time, so that each delete is audited."""
        by = Actor.for_request(request)
        for metric in queryset.select_related("workspace"):
            saved_metric_delete(metric=metric, by=by)
