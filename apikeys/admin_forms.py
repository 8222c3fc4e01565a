"""The admin's forms for keys and address rules: each change made by a service, while validating."""

from typing import Any

from django import forms

from apikeys.lifecycle import GRACE_CHOICES
from apikeys.models import ApiKey, IpRule, KeySecret
from apikeys.restrict_services import api_key_enforcement_set
from apikeys.selectors import latest_key_id
from apikeys.services import (
    IssuedKey,
    api_key_create,
    api_key_set_access_mode,
    api_key_set_allowed_events,
    api_key_set_expiry,
    ip_rule_add,
    metrics_cache_ttl_set,
)
from core.admin import ServiceModelForm


def issued_rows(issued: IssuedKey) -> list[tuple[str, str]]:
    """A new key's secrets as (what it is, the secret) rows for the one-time page."""
    return [
        (f"{issued.key} — {KeySecret.Role(role).label}", secret)
        for role, secret in issued.secrets.items()
    ]


class EventNamesField(forms.CharField):
    """Event names typed one a line, cleaned to a list; the service judges each name."""

    widget = forms.Textarea(attrs={"rows": 5, "cols": 40})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value: Any) -> list[str]:
        text = super().to_python(value)
        return [line.strip() for line in text.splitlines() if line.strip()]


class ApiKeyAddForm(ServiceModelForm):
    """A new key of a workspace, with its secret(s), made by `api_key_create`.

    `seen_latest_key_id` is the newest key id when the form was shown: the service refuses a
    form sent twice (a reload of the answer) rather than make a second key.
    """

    seen_latest_key_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = ApiKey
        fields = ["workspace", "kind", "name", "expires_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["seen_latest_key_id"].initial = latest_key_id()

    def apply(self) -> None:
        data = self.cleaned_data
        issued = self.call(
            api_key_create,
            workspace=data["workspace"],
            kind=data["kind"],
            name=data["name"],
            expires_at=data.get("expires_at"),
            seen_latest_key_id=data.get("seen_latest_key_id"),
        )
        if issued is not None:
            self.adopt(issued.key)
            self.issued = tuple(issued_rows(issued))


class ApiKeySettingsForm(ServiceModelForm):
    """A key's settings; each one changed goes through its own service, which audits it."""

    class Meta:
        model = ApiKey
        fields = [
            "expires_at",
            "access_mode",
            "address_enforcement",
            "events_mode",
            "allowed_events",
            "event_enforcement",
            "cache_ttl_minutes",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "allowed_events" in self.fields:
            self.fields["allowed_events"] = EventNamesField(
                required=False,
                label="Allowed events",
                help_text="One event name per line; used with “Specific profile events”.",
            )

    def apply(self) -> None:
        key, data, changed = self.instance, self.cleaned_data, self.changed_data
        if "expires_at" in changed:
            self.call(api_key_set_expiry, key=key, expires_at=data["expires_at"])
        if "access_mode" in changed:
            self.call(api_key_set_access_mode, key=key, mode=data["access_mode"])
        if "events_mode" in changed or "allowed_events" in changed:
            mode = data["events_mode"]
            names = data.get("allowed_events", []) if mode == ApiKey.EventsMode.SPECIFIC else []
            self.call(api_key_set_allowed_events, key=key, mode=mode, names=names)
        for which, name in (("addresses", "address_enforcement"), ("events", "event_enforcement")):
            if name in changed:
                self.call(api_key_enforcement_set, key=key, which=which, mode=data[name])
        if "cache_ttl_minutes" in changed:
            self.call(metrics_cache_ttl_set, key=key, minutes=data["cache_ttl_minutes"])


class IpRuleAddForm(ServiceModelForm):
    """An address or network added to a key's allow-list by `ip_rule_add`, normalised."""

    class Meta:
        model = IpRule
        fields = ["key", "network", "description"]

    def apply(self) -> None:
        data = self.cleaned_data
        rule = self.call(
            ip_rule_add, key=data["key"], network=data["network"], description=data["description"]
        )
        if rule is not None:
            self.adopt(rule)


class ApiKeyRollAdminForm(forms.Form):
    """How to roll: which secret, and how long the old one keeps working.

    `seen` holds the current secret of each key and role when the page was shown
    (`<key id>:<role>:<secret id>`, comma-separated): the service refuses to roll a key whose
    current secret changed since, so a form sent twice rolls nothing the second time.
    """

    grace = forms.ChoiceField(
        label="The old secret keeps working for",
        choices=GRACE_CHOICES,
        widget=forms.RadioSelect,
    )
    role = forms.ChoiceField(
        label="Secret to roll (Metrics keys)",
        choices=[
            (KeySecret.Role.PRIMARY, "API key"),
            (KeySecret.Role.CLIENT_SECRET, "Client secret"),
        ],
        initial=KeySecret.Role.PRIMARY,
        widget=forms.RadioSelect,
    )

    seen = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, keys: list[ApiKey], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not any(key.kind == ApiKey.Kind.METRICS for key in keys):
            del self.fields["role"]  # an Integration key has one secret only
        current = KeySecret.objects.filter(key__in=keys, retires_at__isnull=True).exclude(
            role=KeySecret.Role.ACCESS_TOKEN
        )
        self.fields["seen"].initial = ",".join(
            f"{key_id}:{role}:{pk}"
            for key_id, role, pk in current.values_list("key_id", "role", "pk")
        )

    def seen_secret_id(self, key: ApiKey, role: str) -> int | None:
        """The current secret of this key and role the page showed; None when it said nothing."""
        for item in (self.cleaned_data.get("seen") or "").split(","):
            key_id, _, rest = item.partition(":")
            seen_role, _, secret_id = rest.partition(":")
            if key_id == str(key.pk) and seen_role == role and secret_id.isdigit():
                return int(secret_id)
        return None

    @property
    def chosen_role(self) -> str:
        return self.cleaned_data.get("role", KeySecret.Role.PRIMARY)
