"""Every change to a key: validated, written and audited in one transaction.

The settings page, Django admin and the management commands all call these functions; nothing
else writes keys, secrets or address rules. Each change bumps the key's `version` in its own
transaction, and once it commits every process drops what it knew of keys
(`keycache.key_config_changed`): the change holds at once through Redis, and within the key
cache's staleness bound through the version whatever Redis does.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apikeys import crypto, keycache, lifecycle
from apikeys.lifecycle import GRACE_PERIODS
from apikeys.models import (
    CACHE_TTL_MAX_MINUTES,
    CACHE_TTL_MIN_MINUTES,
    ApiKey,
    IpRule,
    KeySecret,
    secret_kind_for,
)
from apikeys.selectors import current_secret_id
from core import networks
from core.actors import Actor
from core.errors import field_error
from core.eventnames import MAX_EVENT_NAME_LENGTH, event_name_problem
from workspaces.audit import AuditAction, audit_record
from workspaces.models import Workspace

MAX_ALLOWED_EVENTS = 1_000
# The code of a refusal because the caller's form is out of date: it was sent twice.
SENT_TWICE = "sent_twice"


@dataclass
class IssuedKey:
    """A key and the whole secrets just made for it: the only time they exist in full."""

    key: ApiKey
    secrets: dict[str, str] = field(default_factory=dict)


def _secret_issue(*, key: ApiKey, role: str) -> str:
    secret = crypto.secret_generate(secret_kind_for(key.kind, role))
    KeySecret.objects.create(
        key=key,
        role=role,
        hash=crypto.secret_hash(secret),
        mask=crypto.secret_mask(secret),
        created_at=timezone.now(),
    )
    return secret


def _roles_of(kind: str) -> list[str]:
    if kind == ApiKey.Kind.METRICS:
        return [KeySecret.Role.PRIMARY, KeySecret.Role.CLIENT_SECRET]
    return [KeySecret.Role.PRIMARY]


def _changed(key: ApiKey, *, by: Actor, action: AuditAction, changes: dict) -> None:
    # The version tells every process's key cache, within its staleness bound, that its
    # snapshot is outdated, whatever becomes of the shared-cache signal sent on commit.
    ApiKey.objects.filter(pk=key.pk).update(version=F("version") + 1)
    audit_record(workspace=key.workspace, by=by, action=action, target=key, changes=changes)
    keycache.key_config_changed_on_commit()


def _locked(key_id: int) -> ApiKey:
    """The key, row-locked for the rest of the transaction; a revoked key cannot change."""
    key = ApiKey.objects.select_for_update().select_related("workspace").get(pk=key_id)
    if key.revoked_at is not None:
        raise ValidationError(
            "This key is revoked; revoked keys cannot be changed.", code="revoked"
        )
    return key


def _name_free(*, workspace_id: int, name: str, key_id: int | None = None) -> None:
    """Refuse a name that another live key of the workspace has (case and spaces aside).

    The caller holds the workspace's row lock, so two concurrent changes cannot both pass.
    """
    taken = ApiKey.objects.filter(
        workspace_id=workspace_id, revoked_at__isnull=True, name__iexact=name
    ).exclude(pk=key_id)
    if taken.exists():
        raise field_error(
            "name", f"Another live key of this workspace is called “{name}”.", "duplicate_name"
        )


def _workspace_locked(workspace_id: int) -> None:
    Workspace.objects.select_for_update().filter(pk=workspace_id).first()


def api_key_create(
    *,
    workspace: Workspace,
    kind: str,
    name: str,
    by: Actor,
    expires_at: datetime | None = None,
    seen_latest_key_id: int | None = None,
) -> IssuedKey:
    """Create a key with its secret(s); a Metrics pair only when the workspace has no live one.

    `seen_latest_key_id` is the newest key id the caller's form knew of: when the workspace has
    a newer key, the form was sent twice (or someone else added one) and nothing is created.
    """
    now = timezone.now()
    key = ApiKey(
        workspace=workspace,
        kind=kind,
        name=(name or "").strip(),
        created_at=now,
        created_by=by.user,
        expires_at=expires_at,
    )
    key.full_clean(exclude=["workspace"], validate_constraints=False)
    if expires_at is not None and expires_at <= now:
        raise field_error("expires_at", "The expiry date must be in the future.", "invalid")
    if (
        kind == ApiKey.Kind.METRICS
        and ApiKey.objects.filter(workspace=workspace, kind=kind, revoked_at__isnull=True).exists()
    ):
        raise ValidationError(
            "This workspace already has a live Metrics key; revoke it first.",
            code="metrics_key_exists",
        )
    try:
        with transaction.atomic():
            _workspace_locked(workspace.pk)
            if seen_latest_key_id is not None and (
                ApiKey.objects.filter(workspace_id=workspace.pk, pk__gt=seen_latest_key_id).exists()
            ):
                raise ValidationError(
                    "A key was added since this form was shown (was it sent twice?), so nothing "
                    "was created. Check the list of keys and add again if needed.",
                    code=SENT_TWICE,
                )
            _name_free(workspace_id=workspace.pk, name=key.name)
            key.save()
            issued = IssuedKey(key=key)
            for role in _roles_of(kind):
                issued.secrets[role] = _secret_issue(key=key, role=role)
            _changed(
                key,
                by=by,
                action=AuditAction.API_KEY_CREATE,
                changes={
                    "kind": kind,
                    "name": key.name,
                    "masks": list(key.secrets.values_list("mask", flat=True)),
                },
            )
    except IntegrityError as error:  # a concurrent create won the race for the Metrics pair
        raise ValidationError(
            "This workspace already has a live Metrics key; revoke it first.",
            code="metrics_key_exists",
        ) from error
    return issued


def api_key_roll(
    *,
    key: ApiKey,
    grace: str,
    by: Actor,
    role: str = KeySecret.Role.PRIMARY,
    seen_secret_id: int | None = None,
) -> str:
    """Give a key a new secret; the old one stays valid for the chosen grace, then stops.

    `seen_secret_id` is the id of the current secret the caller's form showed: when another
    secret is current now, the form was sent twice and nothing is rolled.
    """
    if grace not in GRACE_PERIODS:
        raise field_error("grace", f"Choose one of: {', '.join(GRACE_PERIODS)}.", "invalid_grace")
    if role not in _roles_of(key.kind):
        raise field_error("role", "This key has no such secret.", "invalid_role")
    with transaction.atomic():
        key = _locked(key.pk)
        if seen_secret_id is not None and seen_secret_id != current_secret_id(key=key, role=role):
            raise ValidationError(
                "This secret was rolled since the form was shown (was it sent twice?). A new "
                "secret is shown only once: roll again if you did not copy it.",
                code=SENT_TWICE,
            )
        now = timezone.now()
        retires_at = lifecycle.retires_at_after_roll(now=now, grace=grace, retires_at=None)
        old = [
            secret
            for secret in key.secrets.filter(role=role).order_by("-created_at")
            if lifecycle.secret_refusal(
                now=now, revoked_at=None, expires_at=None, retires_at=secret.retires_at
            )
            is None
        ]
        for secret in old:
            # A roll never extends an older grace: the earliest end wins.
            ends = lifecycle.retires_at_after_roll(
                now=now, grace=grace, retires_at=secret.retires_at
            )
            if ends != secret.retires_at:
                secret.retires_at = ends
                secret.save(update_fields=["retires_at"])
        new_secret = _secret_issue(key=key, role=role)
        # Tokens were issued under the old pair: rolling either half ends them at once.
        ended_tokens = key.secrets.filter(
            role=KeySecret.Role.ACCESS_TOKEN, retires_at__gt=now
        ).update(retires_at=now)
        _changed(
            key,
            by=by,
            action=AuditAction.API_KEY_ROLL,
            changes={
                "role": role,
                "grace": grace,
                "old_masks": [secret.mask for secret in old],
                "old_valid_until": retires_at.isoformat(),
                "new_mask": crypto.secret_mask(new_secret),
                "access_tokens_ended": ended_tokens,
            },
        )
    return new_secret


def api_key_rename(*, key: ApiKey, name: str, by: Actor) -> ApiKey:
    """Give a key another name; no two live keys of a workspace share one."""
    name = (name or "").strip()
    if not name:
        raise field_error("name", "Give the key a name, e.g. “Website”.", "required")
    if len(name) > ApiKey._meta.get_field("name").max_length:
        raise field_error("name", "Keep the name to 100 characters or fewer.", "max_length")
    with transaction.atomic():
        _workspace_locked(key.workspace_id)
        key = _locked(key.pk)
        before = key.name
        if name == before:
            return key
        _name_free(workspace_id=key.workspace_id, name=name, key_id=key.pk)
        key.name = name
        key.save(update_fields=["name"])
        _changed(
            key, by=by, action=AuditAction.API_KEY_RENAME, changes={"before": before, "after": name}
        )
    return key


def api_key_revoke(*, key: ApiKey, by: Actor) -> ApiKey:
    """Stop a key at once and for good."""
    with transaction.atomic():
        key = _locked(key.pk)
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        _changed(key, by=by, action=AuditAction.API_KEY_REVOKE, changes={})
    return key


def api_key_set_expiry(*, key: ApiKey, expires_at: datetime | None, by: Actor) -> ApiKey:
    """Set (or clear, with None) the moment a key stops working."""
    if expires_at is not None and expires_at <= timezone.now():
        raise field_error("expires_at", "The expiry date must be in the future.", "in_past")
    with transaction.atomic():
        key = _locked(key.pk)
        before = key.expires_at
        key.expires_at = expires_at
        key.save(update_fields=["expires_at"])
        _changed(
            key,
            by=by,
            action=AuditAction.API_KEY_SET_EXPIRY,
            changes={
                "before": before.isoformat() if before else None,
                "after": expires_at.isoformat() if expires_at else None,
            },
        )
    return key


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
        before = key.access_mode
        key.access_mode = mode
        key.save(update_fields=["access_mode"])
        _changed(
            key,
            by=by,
            action=AuditAction.API_KEY_SET_ACCESS_MODE,
            changes={"before": before, "after": mode},
        )
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


def metrics_cache_ttl_set(*, key: ApiKey, minutes: int, by: Actor) -> ApiKey:
    """Set how long Metrics results are served from the cache, 5 minutes to 7 days."""
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise field_error("cache_ttl_minutes", "Enter a whole number of minutes.", "invalid")
    if not CACHE_TTL_MIN_MINUTES <= minutes <= CACHE_TTL_MAX_MINUTES:
        raise field_error(
            "cache_ttl_minutes",
            f"The cache TTL must be at least {CACHE_TTL_MIN_MINUTES} "
            f"and at most {CACHE_TTL_MAX_MINUTES:,} minutes (7 days).",
            "out_of_range",
        )
    with transaction.atomic():
        key = _locked(key.pk)
        if key.kind != ApiKey.Kind.METRICS:
            raise ValidationError("Only the Metrics key has a cache TTL.", code="wrong_kind")
        before = key.cache_ttl_minutes
        key.cache_ttl_minutes = minutes
        key.save(update_fields=["cache_ttl_minutes"])
        _changed(
            key,
            by=by,
            action=AuditAction.METRICS_SET_CACHE_TTL,
            changes={"before": before, "after": minutes},
        )
    return key


def event_names_check(names: list[str]) -> list[str]:
    """The names as `api_key_set_allowed_events` takes them, or its refusal: for a preview."""
    return _event_names_clean(names)
