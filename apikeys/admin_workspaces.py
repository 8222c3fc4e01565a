"""Django admin for workspaces: adding one provisions its starting keys, shown once.

It lives with the keys because making a workspace here makes its keys too (`workspace_provision`);
`workspaces` itself knows nothing of keys.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html_join

from apikeys.admin_forms import issued_rows
from apikeys.provisioning import workspace_provision
from core.admin import ServiceModelAdmin, ServiceModelForm
from workspaces.models import Workspace


class WorkspaceAddForm(ServiceModelForm):
    """A new workspace, made with its three starting keys by `workspace_provision`."""

    class Meta:
        model = Workspace
        fields = ["name", "slug"]

    def apply(self) -> None:
        data = self.cleaned_data
        created = self.call(workspace_provision, name=data["name"], slug=data["slug"])
        if created is not None:
            self.adopt(created.workspace)
            self.issued = tuple(row for key in created.keys.values() for row in issued_rows(key))


@admin.register(Workspace)
class WorkspaceAdmin(ServiceModelAdmin):
    """Workspaces are created here and then only shown: no service renames or deletes one."""

    form = WorkspaceAddForm
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    list_filter = ["created_at"]
    readonly_fields = ["created_at", "related"]
    prepopulated_fields = {"slug": ["name"]}

    def get_fields(self, request, obj=None):
        return ["name", "slug"] if obj is None else ["name", "slug", "created_at", "related"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def links_for(self, obj) -> list[tuple[str, str]]:
        keys = reverse("admin:apikeys_apikey_changelist") + f"?workspace__id__exact={obj.pk}"
        return [(f"The keys of {obj}", keys), *super().links_for(obj)]

    @admin.display(description="See also")
    def related(self, obj: Workspace) -> str:
        query = f"?workspace__id__exact={obj.pk}"
        links = [
            ("Keys", reverse("admin:apikeys_apikey_changelist") + query),
            ("Members", reverse("admin:workspaces_membership_changelist") + query),
            ("Audit trail", reverse("admin:workspaces_auditevent_changelist") + query),
        ]
        return format_html_join(
            " · ", '<a href="{}">{}</a>', ((url, label) for label, url in links)
        )
