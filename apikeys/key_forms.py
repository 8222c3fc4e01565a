"""Every form of a key's page, blank and filled with the key's settings, by name."""

from django import forms

from apikeys.access_forms import AccessSetForm, EventsSetForm
from apikeys.forms import (
    CacheTtlForm,
    IpRuleForm,
    KeyExpiryForm,
    KeyRenameForm,
    RevokeForm,
    RollForm,
)
from apikeys.lifecycle import DEFAULT_GRACE
from apikeys.models import ApiKey, KeySecret


def key_forms(*, key: ApiKey, current: dict[str, KeySecret]) -> dict[str, forms.Form]:
    """The forms an admin sees for one live key, by the name a refused one comes back under."""
    found: dict[str, forms.Form] = {
        "rename": KeyRenameForm(initial={"name": key.name}),
        "expiry": KeyExpiryForm(initial={"expires_at": key.expires_at}),
        "end_now": forms.Form(),  # no fields: it carries a refused end's error
    }
    for role, secret in current.items():
        found[f"roll_{role}"] = RollForm(
            initial={"grace": DEFAULT_GRACE, "role": role, "current": secret.pk}
        )
    found["access"] = AccessSetForm(initial={"access_mode": key.access_mode})
    found["rule"] = IpRuleForm()
    found["remove"] = forms.Form()  # no fields: it carries a refused removal's error
    found["enforce"] = forms.Form()
    if key.is_integration:
        found["revoke"] = RevokeForm()
        found["events"] = EventsSetForm(
            initial={"events_mode": key.events_mode, "allowed_events": key.allowed_events}
        )
        found["event_allow"] = forms.Form()
    else:
        found["ttl"] = CacheTtlForm(initial={"cache_ttl_minutes": key.cache_ttl_minutes})
    return found
