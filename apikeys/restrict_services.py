"""Tightening a key from evidence: monitor or enforce its lists, restrict it with its first
addresses in one save, end a previous secret's grace now. Each validated, written and audited
in one transaction, like every service in `apikeys.services`.
"""

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apikeys.models import ApiKey, IpRule, KeySecret
from apikeys.services.common import _changed, _field_set, _locked
from core import networks
from core.actors import Actor
from core.errors import field_error
from workspaces.audit import AuditAction

# which -> the key's field that holds that list's enforcement
ENFORCEMENT_FIELDS = {"addresses": "address_enforcement", "events": "event_enforcement"}
MAX_RULES_AT_ONCE = 500
MAX_DESCRIPTION_LENGTH = 200


def _enforcement_clean(mode: str, field_name: str) -> str:
    if mode not in ApiKey.Enforcement.values:
        raise field_error(field_name, "Choose “Enforce” or “Monitor”.", "invalid")
    return mode


def api_key_enforcement_set(*, key: ApiKey, which: str, mode: str, by: Actor) -> ApiKey:
    """Enforce a key's address list or event list, or only monitor it (report, never refuse)."""
    if which not in ENFORCEMENT_FIELDS:
        raise field_error("which", "Choose “addresses” or “events”.", "invalid")
    field_name = ENFORCEMENT_FIELDS[which]
    _enforcement_clean(mode, field_name)
    with transaction.atomic():
        key = _locked(key.pk)
        if which == "events" and not key.is_integration:
            raise ValidationError("Only Integration keys have allowed events.", code="wrong_kind")
        if getattr(key, field_name) != mode:
            _field_set(
                key,
                field_name,
                mode,
                by=by,
                action=AuditAction.API_KEY_SET_ENFORCEMENT,
                changes={"list": which},
            )
    return key


def _rules_clean(rules: Sequence[str | tuple[str, str]]) -> list[tuple[str, str]]:
    """Each rule as (canonical network, description), in order, without repeats."""
    if isinstance(rules, str) or not isinstance(rules, Sequence):
        raise field_error("rules", "Give a list of addresses or networks.", "invalid")
    if len(rules) > MAX_RULES_AT_ONCE:
        raise field_error(
            "rules", f"Add at most {MAX_RULES_AT_ONCE} addresses at once.", "too_many"
        )
    cleaned: dict[str, str] = {}
    for index, rule in enumerate(rules):
        network, description = (rule, "") if isinstance(rule, str) else rule
        try:
            text = networks.rule_text(networks.rule_parse(network))
        except networks.RuleError as error:
            raise field_error("rules", f"Address {index + 1}: {error}", error.code) from None
        description = (description or "").strip()
        if len(description) > MAX_DESCRIPTION_LENGTH:
            raise field_error(
                "rules",
                f"Address {index + 1}: keep the description to "
                f"{MAX_DESCRIPTION_LENGTH} characters or fewer.",
                "max_length",
            )
        cleaned.setdefault(text, description)
    return list(cleaned.items())


def api_key_access_set(
    *,
    key: ApiKey,
    mode: str,
    rules: Sequence[str | tuple[str, str]] = (),
    enforcement: str | None = None,
    by: Actor,
) -> ApiKey:
    """Choose where a key may be used from, with the addresses to add, in one save.

    `rules` (addresses or networks, or (network, description) pairs) are added to the key's
    list first (those already on it are kept as they are); Specific then needs at least one
    rule. `enforcement` ("enforce" or "monitor"), when given, is set in the same change, so an
    admin can restrict a key in Monitor first. Nothing is written when anything is invalid.
    """
    if mode not in ApiKey.AccessMode.values:
        raise field_error("access_mode", "Choose “Anywhere” or “Specific locations”.", "invalid")
    cleaned = _rules_clean(rules)
    if enforcement is not None:
        _enforcement_clean(enforcement, "enforcement")
    with transaction.atomic():
        key = _locked(key.pk)
        existing = set(key.ip_rules.values_list("network", flat=True))
        added = [(text, note) for text, note in cleaned if text not in existing]
        if mode == ApiKey.AccessMode.SPECIFIC and not existing and not added:
            raise field_error(
                "access_mode",
                "Add at least one IP address before choosing “Specific locations”: with no "
                "address the key could not be used from anywhere.",
                "no_rules",
            )
        now = timezone.now()
        IpRule.objects.bulk_create(
            IpRule(key=key, network=text, description=note, created_at=now) for text, note in added
        )
        before = {"mode": key.access_mode, "enforcement": key.address_enforcement}
        key.access_mode = mode
        if enforcement is not None:
            key.address_enforcement = enforcement
        key.save(update_fields=["access_mode", "address_enforcement"])
        after = {"mode": key.access_mode, "enforcement": key.address_enforcement}
        _changed(
            key,
            by=by,
            action=AuditAction.API_KEY_SET_ACCESS,
            changes={"before": before, "after": after, "added": [text for text, _ in added]},
        )
    return key


def key_secret_end_now(*, secret: KeySecret, by: Actor) -> KeySecret:
    """End a previous secret that is still in its roll grace, at once; never the current one."""
    with transaction.atomic():
        key = _locked(secret.key_id)
        now = timezone.now()
        secret = KeySecret.objects.select_for_update().get(pk=secret.pk, key=key)
        if secret.role == KeySecret.Role.ACCESS_TOKEN:
            raise ValidationError("Access tokens end on their own.", code="wrong_kind")
        if secret.retires_at is None:
            raise ValidationError(
                "This is the key's current secret: roll the key or revoke it instead.",
                code="current_secret",
            )
        if secret.retires_at <= now:
            raise ValidationError("This secret has already ended.", code="already_ended")
        before = secret.retires_at
        secret.retires_at = now
        secret.save(update_fields=["retires_at"])
        _changed(
            key,
            by=by,
            action=AuditAction.KEY_SECRET_END_NOW,
            changes={"mask": secret.mask, "role": secret.role, "valid_until": before.isoformat()},
        )
    return secret
