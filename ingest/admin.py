"""Django admin for what the Integration API stored: records to read; staff define triggers."""

from django.contrib import admin

from core.admin import ReadOnlyModelAdmin
from ingest.models import Event, EventName, Profile, ProfileAlias, WorkflowRun, WorkflowTrigger


@admin.register(Event)
class EventAdmin(ReadOnlyModelAdmin):
    """Events as sent; the table is large, so the list does not count every row."""

    list_display = ["name", "workspace", "user_id", "anonymous_id", "timestamp", "received_at"]
    list_filter = ["workspace"]
    search_fields = ["name", "user_id", "anonymous_id", "external_id", "session_id"]
    list_select_related = ["workspace"]
    show_full_result_count = False


@admin.register(Profile)
class ProfileAdmin(ReadOnlyModelAdmin):
    """Profiles as identify calls built them."""

    list_display = ["__str__", "workspace", "created_at", "updated_at"]
    list_filter = ["workspace"]
    search_fields = ["user_id"]
    list_select_related = ["workspace"]


@admin.register(ProfileAlias)
class ProfileAliasAdmin(ReadOnlyModelAdmin):
    """Which profile an anonymous id belongs to."""

    list_display = ["anonymous_id", "profile", "workspace"]
    list_filter = ["workspace"]
    search_fields = ["anonymous_id", "profile__user_id"]
    list_select_related = ["workspace", "profile"]


@admin.register(EventName)
class EventNameAdmin(ReadOnlyModelAdmin):
    """The catalogue of event names each workspace has sent."""

    list_display = ["name", "workspace", "count", "first_seen", "last_seen"]
    list_filter = ["workspace"]
    search_fields = ["name"]
    list_select_related = ["workspace"]


@admin.register(WorkflowTrigger)
class WorkflowTriggerAdmin(admin.ModelAdmin):
    """Workflow entry points, defined and switched on or off by staff."""

    list_display = ["name", "trigger_id", "workspace", "enabled"]
    list_filter = ["enabled", "workspace"]
    search_fields = ["name", "trigger_id", "workspace__slug"]
    list_select_related = ["workspace"]
    autocomplete_fields = ["workspace"]


@admin.register(WorkflowRun)
class WorkflowRunAdmin(ReadOnlyModelAdmin):
    """Accepted trigger calls."""

    list_display = ["created_at", "trigger", "workspace", "user_id"]
    list_filter = ["workspace"]
    search_fields = ["user_id", "trigger__trigger_id", "trigger__name"]
    list_select_related = ["trigger", "workspace"]
