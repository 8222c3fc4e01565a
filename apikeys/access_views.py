"""Where a key may be used from and what it may send, changed from its page with the evidence.

Every change goes through `apikeys.services` and lands on the Access control or Events section.
"""

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from apikeys import services
from apikeys.clientip import client_address
from apikeys.forms import AccessModeForm, AllowedEventsForm, IpRuleForm
from apikeys.key_page_selectors import event_chips
from apikeys.key_views import key_change
from apikeys.models import ApiKey, IpRule
from apikeys.page_selectors import KeyPanel
from workspaces.audit import Actor
from workspaces.views import change_view

NAMES_SHOWN_IN_MESSAGE = 10


def _catalogue(key: ApiKey) -> list[str]:
    from ingest.models import EventName

    return list(
        EventName.objects.filter(workspace_id=key.workspace_id)
        .order_by("-count", "name")
        .values_list("name", flat=True)[:500]
    )


def access_context(request: HttpRequest, *, key: ApiKey, panel: KeyPanel) -> dict:
    """What the Access control and Events sections show besides the key's forms."""
    address = client_address(request)
    events = panel.forms.get("events")
    chosen = events["allowed_events"].value() if events else key.allowed_events
    return {
        "access_choices": ApiKey.AccessMode.choices,
        "events_choices": ApiKey.EventsMode.choices,
        "your_address": str(address) if address is not None else None,
        "your_address_listed": address is not None and panel.address_listed(str(address)),
        "chips": event_chips(
            seen={}, catalogue=_catalogue(key), allowed=key.allowed_events, chosen=chosen
        ),
    }


@change_view
def key_access_mode(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Choose Anywhere or Specific locations for a key."""

    def change(key: ApiKey, data: dict, by: Actor) -> str:
        key = services.api_key_set_access_mode(key=key, mode=data["access_mode"], by=by)
        if key.access_mode == ApiKey.AccessMode.ANYWHERE:
            return f"“{key.name}” may now be used from anywhere."
        return f"“{key.name}” may now be used only from the addresses on its list."

    return key_change(
        request,
        slug,
        key_id,
        form_class=AccessModeForm,
        form_name="access",
        section="access",
        change=change,
    )


@change_view
def ip_rule_add(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Add an address or network to a key's list (also "Allow this address" on a refusal)."""

    def change(key: ApiKey, data: dict, by: Actor) -> str:
        rule = services.ip_rule_add(
            key=key, network=data["network"], description=data["description"], by=by
        )
        if key.access_mode == ApiKey.AccessMode.ANYWHERE:
            return (
                f"Added {rule.network} to “{key.name}”. The list applies once you choose "
                "“Specific locations”."
            )
        return f"Added {rule.network} to “{key.name}”."

    return key_change(
        request,
        slug,
        key_id,
        form_class=IpRuleForm,
        form_name="rule",
        section="access",
        change=change,
    )


@change_view
def ip_rule_remove(request: HttpRequest, slug: str, key_id: int, rule_id: int) -> HttpResponse:
    """Take an address off a key's list."""

    def change(key: ApiKey, data: dict, by: Actor) -> str:
        rule = get_object_or_404(IpRule, pk=rule_id, key=key)
        services.ip_rule_remove(rule=rule, by=by)
        return f"Removed {rule.network} from “{key.name}”."

    return key_change(
        request,
        slug,
        key_id,
        form_class=forms.Form,
        form_name="remove",
        section="access",
        change=change,
    )


def _events_message(key: ApiKey) -> str:
    if key.events_mode == ApiKey.EventsMode.ALL:
        return f"“{key.name}” now accepts every profile event."
    names = key.allowed_events
    shown = ", ".join(names[:NAMES_SHOWN_IN_MESSAGE])
    more = (
        f" and {len(names) - NAMES_SHOWN_IN_MESSAGE} more"
        if len(names) > NAMES_SHOWN_IN_MESSAGE
        else ""
    )
    return f"“{key.name}” now accepts only these events: {shown}{more}."


@change_view
def key_allowed_events(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Allow an Integration key every profile event, or only the chosen names."""

    def change(key: ApiKey, data: dict, by: Actor) -> str:
        key = services.api_key_set_allowed_events(
            key=key, mode=data["events_mode"], names=data["names"], by=by
        )
        return _events_message(key)

    return key_change(
        request,
        slug,
        key_id,
        form_class=AllowedEventsForm,
        form_name="events",
        section="events",
        change=change,
    )


class EventAllowForm(forms.Form):
    """One refused event name to add to the key's list."""

    name = forms.CharField(max_length=200)


@change_view
def key_event_allow(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Add an event a key was refused to its allowed events (“Allow this event”)."""

    def change(key: ApiKey, data: dict, by: Actor) -> str:
        names = list(dict.fromkeys([*key.allowed_events, data["name"]]))
        key = services.api_key_set_allowed_events(key=key, mode=key.events_mode, names=names, by=by)
        return f"“{key.name}” may now send “{data['name']}”."

    return key_change(
        request,
        slug,
        key_id,
        form_class=EventAllowForm,
        form_name="event_allow",
        section="events",
        change=change,
    )
