"""Forms of the API settings page: they read what an admin sent; the services decide the rest.

Each field is named as the service's error field is named, so that a service's ValidationError
lands next to the field it is about (`core.forms.add_service_errors`).
"""

from django import forms

from apikeys.lifecycle import GRACE_CHOICES
from apikeys.models import ApiKey, KeySecret


class KeyCreateForm(forms.Form):
    """A new key: its name and kind; `after` is the newest key id the page showed."""

    name = forms.CharField(
        max_length=100, error_messages={"required": "Give the key a name, e.g. “Website”."}
    )
    kind = forms.ChoiceField(
        choices=ApiKey.Kind.choices, error_messages={"required": "Choose the kind of key."}
    )
    after = forms.IntegerField(required=False, widget=forms.HiddenInput)


class KeyRenameForm(forms.Form):
    """A key's new name; the service refuses a name another live key of the workspace has."""

    name = forms.CharField(
        max_length=100, error_messages={"required": "Give the key a name, e.g. “Website”."}
    )


class KeyExpiryForm(forms.Form):
    """When the key stops working (UTC), or `clear` to let it live until revoked."""

    expires_at = forms.DateTimeField(
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        error_messages={"invalid": "Enter a date and time, e.g. 2030-01-31 18:00."},
    )
    clear = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        if data.get("clear"):
            data["expires_at"] = None
        elif not data.get("expires_at") and "expires_at" not in self.errors:
            self.add_error("expires_at", "Enter a date and time, or choose “No expiry”.")
        return data


class RollForm(forms.Form):
    """Which secret to roll and how long the old one stays valid, once the admin confirmed.

    `current` is the id of the secret the page showed: a form sent twice (a reload of the
    answer) finds another secret current and rolls nothing.
    """

    grace = forms.ChoiceField(
        choices=GRACE_CHOICES,
        error_messages={"required": "Choose how long the old secret stays valid."},
    )
    role = forms.ChoiceField(choices=KeySecret.Role.choices, required=False)
    current = forms.IntegerField(required=False, widget=forms.HiddenInput)
    confirm = forms.CharField(required=False, widget=forms.HiddenInput)

    @property
    def confirmed(self) -> bool:
        return self.cleaned_data.get("confirm") == "yes"

    def clean_role(self) -> str:
        return self.cleaned_data["role"] or KeySecret.Role.PRIMARY


class RevokeForm(forms.Form):
    """A revoke, which happens only once the admin has confirmed it."""

    confirm = forms.CharField(required=False, widget=forms.HiddenInput)

    @property
    def confirmed(self) -> bool:
        return self.is_valid() and self.cleaned_data["confirm"] == "yes"


class AccessModeForm(forms.Form):
    """Anywhere, or only the addresses on the key's list."""

    access_mode = forms.ChoiceField(
        choices=ApiKey.AccessMode.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose “Anywhere” or “Specific locations”."},
    )


class IpRuleForm(forms.Form):
    """An address or network to allow; the service parses and normalises it."""

    network = forms.CharField(required=False, strip=False)
    description = forms.CharField(required=False, strip=False)


class NameListField(forms.Field):
    """Every value sent under one name, as a list of strings (chips the admin switched on)."""

    widget = forms.CheckboxSelectMultiple

    def to_python(self, value) -> list[str]:
        if not value:
            return []
        if isinstance(value, str):
            return [value]
        return [str(item) for item in value]


class AllowedEventsForm(forms.Form):
    """All profile events, or the chosen names plus any typed in `new_names`."""

    events_mode = forms.ChoiceField(
        choices=ApiKey.EventsMode.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose “All profile events” or “Specific profile events”."},
    )
    allowed_events = NameListField(required=False)
    new_names = forms.CharField(required=False, max_length=2_000)

    def clean(self):
        data = super().clean()
        # Event names hold no whitespace (UserFlux's docs), so whitespace separates new ones.
        typed = (data.get("new_names") or "").split()
        data["names"] = list(dict.fromkeys([*data.get("allowed_events", []), *typed]))
        return data


class CacheTtlForm(forms.Form):
    """How many minutes a Metrics result is served from the cache."""

    cache_ttl_minutes = forms.IntegerField(
        error_messages={
            "required": "Enter the cache TTL in minutes.",
            "invalid": "Enter a whole number of minutes, e.g. 10.",
        }
    )
