"""Django admin for members and the audit trail; every write goes through the services."""

from django.contrib import admin

from core.admin import ReadOnlyModelAdmin, ServiceModelAdmin, ServiceModelForm
from workspaces.models import AuditEvent, Membership
from workspaces.services import membership_add, membership_set_role


class MembershipAddForm(ServiceModelForm):
    """A user given a role in a workspace by `membership_add`."""

    class Meta:
        model = Membership
        fields = ["workspace", "user", "role"]

    def apply(self) -> None:
        data = self.cleaned_data
        membership = self.call(
            membership_add, workspace=data["workspace"], user=data["user"], role=data["role"]
        )
        if membership is not None:
            self.adopt(membership)


class MembershipRoleForm(ServiceModelForm):
    """A member's role, changed by `membership_set_role`."""

    class Meta:
        model = Membership
        fields = ["role"]

    def apply(self) -> None:
        if "role" in self.changed_data:
            self.call(membership_set_role, membership=self.instance, role=self.cleaned_data["role"])


@admin.register(Membership)
class MembershipAdmin(ServiceModelAdmin):
    """Members are added and their role changed through the services; removal is not offered yet."""

    form = MembershipRoleForm
    add_form = MembershipAddForm
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["user__username", "user__email", "workspace__slug", "workspace__name"]
    list_select_related = ["user", "workspace"]
    autocomplete_fields = ["workspace", "user"]

    def get_fields(self, request, obj=None):
        return ["workspace", "user", "role"] + ([] if obj is None else ["created_at"])

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["workspace", "user", "created_at"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    """The audit trail: searchable, filterable, never edited."""

    list_display = [
        "created_at",
        "workspace",
        "actor_label",
        "actor_ip",
        "action",
        "target_type",
        "target_label",
    ]
    list_filter = ["action", "workspace"]
    search_fields = ["action", "actor_label", "target_label"]
    list_select_related = ["workspace"]
    date_hierarchy = "created_at"
