"""Django admin for keys, their secrets (as masks) and their address rules, all through services."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from apikeys import admin_workspaces  # noqa: F401  (registers the workspace admin)
from apikeys.admin_forms import (
    ApiKeyAddForm,
    ApiKeyRollAdminForm,
    ApiKeySettingsForm,
    IpRuleAddForm,
)
from apikeys.lifecycle import GRACE_PERIODS, key_state
from apikeys.models import ApiKey, IpRule, KeySecret
from apikeys.services import api_key_revoke, api_key_roll, ip_rule_remove
from core.actors import Actor
from core.admin import ReadOnlyModelAdmin, ServiceModelAdmin

CONFIRM_TEMPLATE = "admin/apikeys/apikey/confirm.html"
SHOWN_SECRET_FIELDS = ["id", "key_id", "role", "mask", "created_at", "retires_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(ServiceModelAdmin):
    """Keys: created, rolled, revoked and configured only through the services."""

    form = ApiKeySettingsForm
    add_form = ApiKeyAddForm
    list_display = ["name", "workspace", "kind", "state", "access_mode", "created_at"]
    list_filter = [
        "kind",
        "access_mode",
        "events_mode",
        ("revoked_at", admin.EmptyFieldListFilter),
        "workspace",
    ]
    search_fields = ["name", "workspace__slug", "workspace__name", "secrets__mask"]
    list_select_related = ["workspace"]
    autocomplete_fields = ["workspace"]
    actions = ["roll_secrets", "revoke_keys"]
    shown_fields = [
        "workspace",
        "name",
        "kind",
        "state",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
        "secret_masks",
    ]

    def get_queryset(self, request):
        shown = KeySecret.objects.credentials().only(*SHOWN_SECRET_FIELDS)  # never the hash
        return super().get_queryset(request).prefetch_related(Prefetch("secrets", queryset=shown))

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            fields = ["workspace", "kind", "name", "expires_at", "seen_latest_key_id"]
            return [(None, {"fields": fields})]
        settings = ["expires_at", "access_mode", "address_rules", "address_enforcement"]
        if obj.kind == ApiKey.Kind.METRICS:
            settings.append("cache_ttl_minutes")
        else:
            settings += ["events_mode", "allowed_events", "event_enforcement"]
        return [(None, {"fields": self.shown_fields}), ("Settings", {"fields": settings})]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else [*self.shown_fields, "address_rules"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.revoked_at is not None:
            return False  # a revoked key cannot change; the services refuse it too
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit trail and the events keep the key

    @admin.display(description="State")
    def state(self, obj: ApiKey) -> str:
        retiring = [secret.retires_at for secret in obj.secrets.all()]
        return str(
            key_state(
                now=timezone.now(),
                revoked_at=obj.revoked_at,
                expires_at=obj.expires_at,
                retiring=retiring,
            )
        )

    @admin.display(description="Secrets")
    def secret_masks(self, obj: ApiKey) -> str:
        rows = (
            (
                secret.get_role_display(),
                secret.mask,
                f"{secret.created_at:%Y-%m-%d %H:%M}",
                f"retires {secret.retires_at:%Y-%m-%d %H:%M}" if secret.retires_at else "current",
            )
            for secret in obj.secrets.all()
        )
        return format_html_join("", "<div>{}: <code>{}</code>, created {}, {}</div>", rows)

    @admin.display(description="Addresses")
    def address_rules(self, obj: ApiKey) -> str:
        rules = format_html_join(
            "",
            '<div><code>{}</code> {} <a href="{}">remove…</a></div>',
            (
                (
                    rule.network,
                    rule.description,
                    reverse("admin:apikeys_iprule_delete", args=[rule.pk]),
                )
                for rule in obj.ip_rules.all()
            ),
        )
        add_url = reverse("admin:apikeys_iprule_add") + f"?key={obj.pk}"
        return format_html('{}<div><a href="{}">Add an address…</a></div>', rules, add_url)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/roll/", view(self.roll_view), name="{}_{}_roll".format(*info)),
            path(
                "<path:object_id>/revoke/",
                view(self.revoke_view),
                name="{}_{}_revoke".format(*info),
            ),
            *super().get_urls(),
        ]

    def _key_to_change(self, request, object_id: str) -> ApiKey:
        key = self.get_object(request, unquote(object_id))
        if key is None:
            raise Http404("No such key.")
        if not self.has_change_permission(request, key):
            raise PermissionDenied
        return key

    def roll_view(self, request, object_id: str):
        key = self._key_to_change(request, object_id)
        return self._roll(request, [key], confirmed=request.method == "POST")

    def revoke_view(self, request, object_id: str):
        key = self._key_to_change(request, object_id)
        done = reverse("admin:apikeys_apikey_change", args=[key.pk])
        return self._revoke(request, [key], confirmed=request.method == "POST", done_url=done)

    @admin.action(description="Roll the secret of the selected keys…", permissions=["change"])
    def roll_secrets(self, request, queryset):
        return self._roll(
            request, list(queryset), confirmed="apply" in request.POST, action="roll_secrets"
        )

    @admin.action(description="Revoke the selected keys…", permissions=["change"])
    def revoke_keys(self, request, queryset):
        done = reverse("admin:apikeys_apikey_changelist")
        return self._revoke(
            request,
            list(queryset),
            confirmed="apply" in request.POST,
            done_url=done,
            action="revoke_keys",
        )

    def _roll(self, request, keys: list[ApiKey], *, confirmed: bool, action: str = ""):
        form = ApiKeyRollAdminForm(request.POST if confirmed else None, keys=keys)
        if not (confirmed and form.is_valid()):
            return self._confirm_page(request, keys, title="Roll secrets", form=form, action=action)
        by, grace, role = Actor.for_request(request), form.cleaned_data["grace"], form.chosen_role
        rows, errors = [], []
        for key in keys:
            try:
                secret = api_key_roll(
                    key=key,
                    grace=grace,
                    role=role,
                    by=by,
                    seen_secret_id=form.seen_secret_id(key, role),
                )
            except ValidationError as error:
                errors.append(f"{key}: {' '.join(error.messages)}")
            else:
                rows.append((f"{key} — {KeySecret.Role(role).label}", secret))
        links = self.links_for(keys[0])
        if len(keys) > 1:
            links = links[1:]  # several keys: only the list of all
        title = f"New secrets (old ones: {GRACE_PERIODS[grace][1]})"
        return self.one_time_response(request, title=title, rows=rows, links=links, errors=errors)

    def _revoke(self, request, keys, *, confirmed: bool, done_url: str, action: str = ""):
        if not confirmed:
            return self._confirm_page(request, keys, title="Revoke keys", form=None, action=action)
        by, revoked = Actor.for_request(request), 0
        for key in keys:
            try:
                api_key_revoke(key=key, by=by)
            except ValidationError as error:
                self.message_user(request, f"{key}: {' '.join(error.messages)}", messages.ERROR)
            else:
                revoked += 1
        if revoked:
            self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)
        return HttpResponseRedirect(done_url)

    def _confirm_page(self, request, keys, *, title: str, form, action: str):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "keys": [(key, self.state(key)) for key in keys],
            "form": form,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, CONFIRM_TEMPLATE, context)


@admin.register(KeySecret)
class KeySecretAdmin(ReadOnlyModelAdmin):
    """Secrets as their masks; the hash is never loaded, listed, searched or shown."""

    fields = ["key", "role", "mask", "created_at", "retires_at"]
    readonly_fields = fields
    exclude = ["hash"]
    list_display = ["mask", "key", "role", "created_at", "retires_at"]
    list_filter = ["role", "key__kind"]
    search_fields = ["mask", "key__name", "key__workspace__slug"]
    list_select_related = ["key__workspace"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("hash")


@admin.register(IpRule)
class IpRuleAdmin(ServiceModelAdmin):
    """Address rules are added (`ip_rule_add`) or removed (`ip_rule_remove`), never edited."""

    form = IpRuleAddForm
    list_display = ["network", "key", "description", "created_at"]
    list_filter = ["key__kind", "key__workspace"]
    search_fields = ["network", "description", "key__name", "key__workspace__slug"]
    list_select_related = ["key__workspace"]
    autocomplete_fields = ["key"]

    def get_fields(self, request, obj=None):
        return ["key", "network", "description"] + ([] if obj is None else ["created_at"])

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, so each refusal can be shown
        return actions

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        ip_rule_remove(rule=obj, by=Actor.for_request(request))

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as error:  # raised inside the admin's transaction: rolled back
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:apikeys_iprule_change", args=[object_id]))
