"""Where a key may be used from and what it may send, changed from its page with the evidence.

Tightening (Specific locations from Anywhere, Specific events from All) first shows the impact
on the last 7 days of real calls, then the admin chooses Enforce now or Monitor first; a
monitored list is enforced with one click. Every change goes through the services and lands
on the Access control or Events section.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from apikeys import restrict_services, services
from apikeys.access_forms import AccessSetForm, EnforceForm, EventsSetForm, proposal_signature
from apikeys.forms import IpRuleForm
from apikeys.key_page import (
    INVALID,
    SEEN_ADDRESSES,
    SEEN_DAYS,
    key_change,
    page_key,
    render_key_page,
)
from apikeys.models import ApiKey, IpRule
from apikeys.page_feedback import feedback, to_key
from apikeys.usage_selectors import impact_preview, usage_addresses
from core.actors import Actor
from core.forms import add_service_errors
from workspaces.views import change_view

NAMES_SHOWN_IN_MESSAGE = 10
ADDED_FROM_PAGE = "Seen in this key's usage"


def _with_all_seen(request: HttpRequest, key: ApiKey, form: AccessSetForm) -> AccessSetForm:
    """“Add all”: the same form with every seen address not on the list ticked, as if by hand.

    So a preview shows them ticked, and Enforce or Monitor sends them again.
    """
    seen = usage_addresses(key=key, days=SEEN_DAYS, limit=SEEN_ADDRESSES)
    data = request.POST.copy()
    ticked = data.getlist("addresses")
    data.setlist(
        "addresses",
        list(
            dict.fromkeys(
                [*ticked, *(row.address for row in seen if row.address and not row.listed)]
            )
        ),
    )
    data.pop("add_all", None)
    form = AccessSetForm(data)
    form.is_valid()
    return form


@change_view
def key_access_mode(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Choose Anywhere or Specific locations, with the first addresses, after a preview."""
    workspace, membership, key = page_key(request, slug, key_id, admin=True)
    form = AccessSetForm(request.POST)
    if not form.is_valid():
        return render_key_page(
            request, workspace, membership, key, bound=("access", form), status=INVALID
        )
    if form.cleaned_data["add_all"]:
        form = _with_all_seen(request, key, form)
    data = form.cleaned_data
    added = data["networks"]
    specific = data["access_mode"] == ApiKey.AccessMode.SPECIFIC
    tightening = specific and key.access_mode == ApiKey.AccessMode.ANYWHERE
    rules = [rule.network for rule in key.ip_rules.all()] + added
    signature = proposal_signature(rules)
    applying = data["step"] in ("enforce", "monitor")
    # With no address at all, the service says why not, next to the choice.
    if (
        specific
        and rules
        and (
            data["step"] == "preview"
            or (tightening and not applying)
            or (applying and data["previewed"] != signature)
        )
    ):
        try:
            preview = impact_preview(key=key, address_rules=rules)
        except ValidationError as error:
            form.add_error("rules", error.messages)
            return render_key_page(
                request, workspace, membership, key, bound=("access", form), status=INVALID
            )
        return render_key_page(
            request,
            workspace,
            membership,
            key,
            bound=("access", form),
            access_preview=preview,
            access_previewed=signature,
        )
    try:
        key = restrict_services.api_key_access_set(
            key=key,
            mode=data["access_mode"],
            rules=[(network, ADDED_FROM_PAGE) for network in added],
            enforcement=data["step"] if applying else None,
            by=Actor.for_request(request),
        )
    except ValidationError as error:
        if hasattr(error, "error_dict") and "rules" in error.error_dict:
            form.add_error("rules", error.error_dict.pop("rules"))
        if not hasattr(error, "error_dict") or error.error_dict:
            add_service_errors(form, error)
        return render_key_page(
            request, workspace, membership, key, bound=("access", form), status=INVALID
        )
    feedback(request, "access", _access_message(key, added))
    return to_key(key, "access")


def _access_message(key: ApiKey, added: list[str]) -> str:
    said = f"Added {', '.join(added)}. " if added else ""
    if key.access_mode == ApiKey.AccessMode.ANYWHERE:
        return f"{said}“{key.name}” may now be used from anywhere."
    if key.address_enforcement == ApiKey.Enforcement.MONITOR:
        return (
            f"{said}“{key.name}” is monitoring its address list: calls from other addresses "
            "are still accepted, and counted as “would refuse”."
        )
    return f"{said}“{key.name}” may now be used only from the addresses on its list."


@change_view
def key_enforce(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """Enforce a monitored address or event list: one click."""

    def change(key: ApiKey, data: dict, by: Actor) -> str:
        key = restrict_services.api_key_enforcement_set(
            key=key, which=data["which"], mode=ApiKey.Enforcement.ENFORCE, by=by
        )
        if data["which"] == "addresses":
            return f"“{key.name}” now refuses calls from addresses not on its list."
        return f"“{key.name}” now refuses events not on its list."

    which = request.POST.get("which")
    return key_change(
        request,
        slug,
        key_id,
        form_class=EnforceForm,
        form_name="enforce",
        section="events" if which == "events" else "access",
        change=change,
    )


@change_view
def key_rule_add(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
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
def key_rule_remove(request: HttpRequest, slug: str, key_id: int, rule_id: int) -> HttpResponse:
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
    if key.event_enforcement == ApiKey.Enforcement.MONITOR:
        return (
            f"“{key.name}” is monitoring its event list ({shown}{more}): other events are "
            "still accepted, and counted as “would refuse”."
        )
    return f"“{key.name}” now accepts only these events: {shown}{more}."


@change_view
def key_allowed_events(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    """All profile events, or only the chosen names: previewed, then enforced or monitored."""
    workspace, membership, key = page_key(request, slug, key_id, admin=True)
    form = EventsSetForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        specific = data["events_mode"] == ApiKey.EventsMode.SPECIFIC
        tightening = specific and key.events_mode == ApiKey.EventsMode.ALL
        applying = data["step"] in ("enforce", "monitor")
        signature = proposal_signature(data["names"])
        wants_preview = (
            specific
            and key.is_integration
            and data["names"]
            and (
                data["step"] == "preview"
                or (tightening and not applying)
                or (applying and data["previewed"] != signature)
            )
        )
        if wants_preview:
            try:
                services.event_names_check(data["names"])
            except ValidationError as error:
                add_service_errors(form, error)
                return render_key_page(
                    request, workspace, membership, key, bound=("events", form), status=INVALID
                )
            return render_key_page(
                request,
                workspace,
                membership,
                key,
                bound=("events", form),
                events_preview=impact_preview(key=key, allowed_events=data["names"]),
                events_previewed=signature,
            )
        try:
            key = services.api_key_set_allowed_events(
                key=key,
                mode=data["events_mode"],
                names=data["names"],
                enforcement=data["step"] if applying else None,
                by=Actor.for_request(request),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            feedback(request, "events", _events_message(key))
            return to_key(key, "events")
    return render_key_page(
        request, workspace, membership, key, bound=("events", form), status=INVALID
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
