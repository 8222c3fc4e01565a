"""A key's life: create, roll, rename, revoke, expiry, and the Metrics key's cache TTL."""

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apikeys import crypto, lifecycle
from apikeys.lifecycle import GRACE_PERIODS
from apikeys.models import (
    CACHE_TTL_MAX_MINUTES,
    CACHE_TTL_MIN_MINUTES,
    ApiKey,
    KeySecret,
    secret_kind_for,
)
from apikeys.selectors import current_secret_id
from apikeys.services.common import _changed, _field_set, _locked
from core.actors import Actor
from core.errors import field_error
from workspaces.audit import AuditAction
from workspaces.models import Workspace

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
        if name == key.name:
            return key
        _name_free(workspace_id=key.workspace_id, name=name, key_id=key.pk)
        _field_set(key, "name", name, by=by, action=AuditAction.API_KEY_RENAME)
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
        _field_set(key, "expires_at", expires_at, by=by, action=AuditAction.API_KEY_SET_EXPIRY)
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
        _field_set(
            key, "cache_ttl_minutes", minutes, by=by, action=AuditAction.METRICS_SET_CACHE_TTL
        )
    return key
