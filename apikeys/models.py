"""API keys, their secrets (stored only as hashes) and their address rules."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apikeys import crypto

CACHE_TTL_MIN_MINUTES = 5
CACHE_TTL_MAX_MINUTES = 10_080


class ApiKey(models.Model):
    """A key of a workspace, with the settings that say what it may do and from where."""

    class Kind(models.TextChoices):
        WRITE_ONLY = "write_only", "Write-Only"
        READ_WRITE = "read_write", "Read & Write"
        METRICS = "metrics", "Metrics"

    class AccessMode(models.TextChoices):
        ANYWHERE = "anywhere", "Anywhere"
        SPECIFIC = "specific", "Specific locations"

    class EventsMode(models.TextChoices):
        ALL = "all", "All profile events"
        SPECIFIC = "specific", "Specific profile events"

    class Enforcement(models.TextChoices):
        """What a list (addresses or events) does with a call it does not allow."""

        ENFORCE = "enforce", "Enforce"
        MONITOR = "monitor", "Monitor (report only)"

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    access_mode = models.CharField(
        max_length=10, choices=AccessMode.choices, default=AccessMode.ANYWHERE
    )
    events_mode = models.CharField(
        max_length=10, choices=EventsMode.choices, default=EventsMode.ALL
    )
    allowed_events = models.JSONField(default=list, blank=True)
    # Monitor: a call the list would refuse is accepted and counted as "would refuse".
    address_enforcement = models.CharField(
        max_length=10, choices=Enforcement.choices, default=Enforcement.ENFORCE
    )
    event_enforcement = models.CharField(
        max_length=10, choices=Enforcement.choices, default=Enforcement.ENFORCE
    )
    cache_ttl_minutes = models.PositiveIntegerField(default=CACHE_TTL_MIN_MINUTES)
    # Bumped in the same transaction as every change to the key, its secrets or its rules:
    # what every process's key cache re-validates its snapshots against (apikeys/keycache.py).
    version = models.PositiveBigIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["workspace", "kind", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace"],
                condition=Q(kind="metrics", revoked_at__isnull=True),
                name="apikey_one_live_metrics_pair",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["write_only", "read_write", "metrics"]),
                name="apikey_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    address_enforcement__in=["enforce", "monitor"],
                    event_enforcement__in=["enforce", "monitor"],
                ),
                name="apikey_enforcement_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    cache_ttl_minutes__gte=CACHE_TTL_MIN_MINUTES,
                    cache_ttl_minutes__lte=CACHE_TTL_MAX_MINUTES,
                ),
                name="apikey_cache_ttl_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workspace.slug}: {self.name} ({self.get_kind_display()})"

    @property
    def is_integration(self) -> bool:
        return self.kind != self.Kind.METRICS


class KeySecretQuerySet(models.QuerySet):
    def credentials(self) -> "KeySecretQuerySet":
        """The secrets people hold (keys and client secrets), without Metrics access tokens."""
        return self.exclude(role=KeySecret.Role.ACCESS_TOKEN)


class KeySecret(models.Model):
    """One secret of a key, as a SHA-256 hash and a mask; a rolled one retires at `retires_at`.

    An Integration key has one role, `primary`; a Metrics pair has `primary` (the API key)
    and `client_secret`, each rolled on its own, and the short-lived `access_token`s exchanged
    for them, whose `retires_at` is their expiry. Keeping tokens here means one look-up and one
    lifecycle decision for every kind of secret.
    """

    class Role(models.TextChoices):
        PRIMARY = "primary", "Key"
        CLIENT_SECRET = "client_secret", "Client secret"
        ACCESS_TOKEN = "access_token", "Access token"

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="secrets")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.PRIMARY)
    hash = models.CharField(max_length=64, unique=True, editable=False)
    mask = models.CharField(max_length=40, editable=False)
    created_at = models.DateTimeField()
    retires_at = models.DateTimeField(null=True, blank=True)
    # Written by the usage flush (apikeys.usage), at most every USAGE_FLUSH_SECONDS.
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = KeySecretQuerySet.as_manager()

    class Meta:
        ordering = ["key", "role", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key", "role"],
                condition=Q(retires_at__isnull=True),
                name="keysecret_one_current_per_role",
            ),
            models.CheckConstraint(
                condition=~Q(role="access_token") | Q(retires_at__isnull=False),
                name="keysecret_tokens_expire",
            ),
        ]

    def __str__(self) -> str:
        return self.mask


def secret_kind_for(key_kind: str, role: str) -> crypto.SecretKind:
    """The secret prefix that a key of this kind uses for this role."""
    if key_kind == ApiKey.Kind.WRITE_ONLY:
        return crypto.SecretKind.WRITE_ONLY
    if key_kind == ApiKey.Kind.READ_WRITE:
        return crypto.SecretKind.READ_WRITE
    if role == KeySecret.Role.CLIENT_SECRET:
        return crypto.SecretKind.CLIENT_SECRET
    if role == KeySecret.Role.ACCESS_TOKEN:
        return crypto.SecretKind.ACCESS_TOKEN
    return crypto.SecretKind.METRICS_API_KEY


class IpRule(models.Model):
    """An address or network from which a key may be used, when its mode is Specific."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="ip_rules")
    network = models.CharField(max_length=50)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["key", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["key", "network"], name="iprule_unique_per_key"),
        ]

    def __str__(self) -> str:
        return self.network


class RejectedCall(models.Model):
    """An API call refused for its key, address, scope or events, shown to the workspace's admins.

    Recording is sampled per key, address and reason, so a flood of refusals writes few rows.
    Unknown keys have no workspace; those rows are for staff only. Never holds a secret.
    """

    workspace = models.ForeignKey(
        "workspaces.Workspace",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="rejected_calls",
    )
    key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.CASCADE, related_name="rejected_calls"
    )
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    reason = models.CharField(max_length=50)
    method = models.CharField(max_length=10, blank=True)
    path = models.CharField(max_length=200, blank=True)
    # The event refused, when the refusal was of one event (a name the key may not send, or an
    # invalid event in a batch).
    event_name = models.CharField(max_length=200, blank=True, default="")
    count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="rejected_ws_time"),
            models.Index(fields=["key", "-created_at"], name="rejected_key_time"),
        ]

    def __str__(self) -> str:
        return f"{self.reason} from {self.client_ip}"


from apikeys.models_usage import KeyUsageAddress, KeyUsageEvent, KeyUsageHour, Outcome  # noqa: E402

__all__ = [
    "ApiKey",
    "IpRule",
    "KeySecret",
    "KeyUsageAddress",
    "KeyUsageEvent",
    "KeyUsageHour",
    "Outcome",
    "RejectedCall",
    "secret_kind_for",
]
