"""Who may use a key: its access mode, address rules and allowed events."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apikeys.models import (
    ApiKey,
    IpRule,
)
from apikeys.services.common import _changed, _field_set, _locked
from core import networks
from core.actors import Actor
from core.errors import field_error
from core.eventnames import MAX_EVENT_NAME_LENGTH, event_name_problem
from workspaces.audit import AuditAction

MAX_ALLOWED_EVENTS = 1_000


def api_key_set_access_mode(*, key: ApiKey, mode: str, by: Actor) -> ApiKey:
    """Choose Anywhere or Specific locations; Specific needs at least one rule first."""
    if mode not in ApiKey.AccessMode.values:
        raise field_error("access_mode", "Choose “Anywhere” or “Specific locations”.", "invalid")
    with transaction.atomic():
        key = _locked(key.pk)
        if mode == ApiKey.AccessMode.SPECIFIC and not key.ip_rules.exists():
            raise field_error(
                "access_mode",
                "Add at least one IP address before choosing “Specific "
                "locations”: with no address the key could not be used from anywhere.",
                "no_rules",
            )
        _field_set(key, "access_mode", mode, by=by, action=AuditAction.API_KEY_SET_ACCESS_MODE)
    return key


def ip_rule_add(*, key: ApiKey, network: str, description: str = "", by: Actor) -> IpRule:
    """Add an address or network to a key's allow-list, normalised; refuse what cannot be meant."""
    try:
        parsed = networks.rule_parse(network)
    except networks.RuleError as error:
        raise field_error("network", str(error), error.code) from None
    description = (description or "").strip()
    if len(description) > 200:
        raise field_error(
            "description", "Keep the description to 200 characters or fewer.", "max_length"
        )
    text = networks.rule_text(parsed)
    with transaction.atomic():
        key = _locked(key.pk)
        if key.ip_rules.filter(network=text).exists():
            raise field_error("network", f"{text} is already on this key's list.", "duplicate")
        rule = IpRule.objects.create(
            key=key, network=text, description=description, created_at=timezone.now()
        )
        _changed(
            key,
            by=by,
            action=AuditAction.IP_RULE_ADD,
            changes={"network": text, "description": description},
        )
    return rule


def ip_rule_remove(*, rule: IpRule, by: Actor) -> None:
    """Remove a rule; never the last one of a key limited to Specific locations."""
    with transaction.atomic():
        key = _locked(rule.key_id)
        if key.access_mode == ApiKey.AccessMode.SPECIFIC and key.ip_rules.count() <= 1:
            raise ValidationError(
                "This is the key's last address: choose “Anywhere” first, or add another "
                "address, so that the key is not locked out.",
                code="last_rule",
            )
        network, description = rule.network, rule.description
        deleted, _ = IpRule.objects.filter(pk=rule.pk, key=key).delete()
        if not deleted:
            raise ValidationError("That address is no longer on the list.", code="not_found")
        _changed(
            key,
            by=by,
            action=AuditAction.IP_RULE_REMOVE,
            changes={"network": network, "description": description},
        )


def _event_names_clean(names: list[str]) -> list[str]:
    if not isinstance(names, list | tuple):
        raise field_error("allowed_events", "Give a list of event names.", "invalid")
    if len(names) > MAX_ALLOWED_EVENTS:
        raise field_error(
            "allowed_events",
            f"A key may allow at most {MAX_ALLOWED_EVENTS} event names.",
            "too_many",
        )
    seen: set[str] = set()
    for name in names:
        problem = event_name_problem(name)
        if problem == "empty":
            raise field_error("allowed_events", "An event name cannot be empty.", problem)
        if problem == "whitespace":
            raise field_error(
                "allowed_events",
                f"“{name}” has whitespace or a control character in it.",
                problem,
            )
        if problem == "max_length":
            raise field_error(
                "allowed_events",
                f"Event names are at most {MAX_EVENT_NAME_LENGTH} characters.",
                problem,
            )
        if name in seen:
            raise field_error("allowed_events", f"“{name}” is listed twice.", "duplicate")
        seen.add(name)
    return list(names)


def api_key_set_allowed_events(
    *, key: ApiKey, mode: str, names: list[str], by: Actor, enforcement: str | None = None
) -> ApiKey:
    """Allow an Integration key every profile event, or only the named ones.

    `enforcement` ("enforce" or "monitor"), when given, is set in the same change: a list in
    Monitor refuses nothing and counts what it would refuse. The curated names are kept when
    the mode goes back to All, so switching to All and back restores them.
    """
    if enforcement is not None and enforcement not in ApiKey.Enforcement.values:
        raise field_error("enforcement", "Choose “Enforce” or “Monitor”.", "invalid")
    if mode not in ApiKey.EventsMode.values:
        raise field_error(
            "events_mode", "Choose “All profile events” or “Specific profile events”.", "invalid"
        )
    names = _event_names_clean(names) if mode == ApiKey.EventsMode.SPECIFIC else None
    if mode == ApiKey.EventsMode.SPECIFIC and not names:
        raise field_error(
            "allowed_events",
            "Choose at least one event, or allow all profile events.",
            "empty_list",
        )
    with transaction.atomic():
        key = _locked(key.pk)
        if not key.is_integration:
            raise ValidationError("Only Integration keys have allowed events.", code="wrong_kind")
        before = {"mode": key.events_mode, "names": key.allowed_events}
        if names is None:  # All: the curated list is kept for a later switch back
            names = key.allowed_events
        key.events_mode, key.allowed_events = mode, names
        after = {"mode": mode, "names": names}
        if enforcement is not None:
            before["enforcement"] = key.event_enforcement
            key.event_enforcement = after["enforcement"] = enforcement
        key.save(update_fields=["events_mode", "allowed_events", "event_enforcement"])
        _changed(
            key,
            by=by,
            action=AuditAction.API_KEY_SET_ALLOWED_EVENTS,
            changes={"before": before, "after": after},
        )
    return key


def event_names_check(names: list[str]) -> list[str]:
    """The names as `api_key_set_allowed_events` takes them, or its refusal: for a preview."""
    return _event_names_clean(names)
