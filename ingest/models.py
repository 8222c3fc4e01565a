"""What the Integration API stores: events, profiles, the catalogue of event names, workflows."""

from django.db import models
from django.db.models import Q


class Event(models.Model):
    """One tracked event, as an SDK or a backend sent it, with what the platform derives.

    Its foreign keys have no database constraint: a constraint costs PostgreSQL a trigger and a
    look-up per inserted row, a quarter of the time of a 100-event insert (docs/performance.md).
    Events are written only by `ingest.eventstore`, with ids from a live key; deleting a
    workspace or a key through Django still cascades (or nulls) as declared.
    """

    workspace = models.ForeignKey(
        "workspaces.Workspace",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,  # the indexes below lead with the workspace
    )
    # No index either: events are never looked up by key, and a key is never deleted on its own
    # (it is revoked; deleting its workspace deletes its events too). An index would cost every
    # insert another B-tree entry (docs/performance.md).
    key = models.ForeignKey(
        "apikeys.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    name = models.CharField(max_length=200)
    user_id = models.CharField(max_length=200, null=True, blank=True)
    anonymous_id = models.CharField(max_length=200, null=True, blank=True)
    external_id = models.CharField(max_length=200, null=True, blank=True)
    session_id = models.CharField(max_length=200, null=True, blank=True)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    uf_properties = models.JSONField(default=dict, blank=True)
    device_data = models.JSONField(null=True, blank=True)
    # Who the event is, for idempotency: a hash of the client's `eventId`, or of every field
    # when the client gave a timestamp; null (never deduplicated) otherwise. ingest/dedup.py.
    dedup_key = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [
            # ON CONFLICT DO NOTHING against this index is what stores a re-sent event once.
            models.UniqueConstraint(
                fields=["workspace", "dedup_key"],
                condition=Q(dedup_key__isnull=False),
                name="event_unique_dedup_key",
            ),
        ]
        # Workspace and time lead every index: the metrics sandbox filters on both first.
        indexes = [
            models.Index(fields=["workspace", "timestamp"], name="event_ws_time"),
            models.Index(fields=["workspace", "name", "timestamp"], name="event_ws_name_time"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.timestamp:%Y-%m-%d %H:%M:%S}"


class Profile(models.Model):
    """A person: made by their first event or identify, with merged properties and linked ids.

    An anonymous profile (no user id) made for an anonymous id keeps that id in
    `origin_anonymous_id`, unique in the workspace, so that concurrent first events of one
    anonymous visitor make one profile.
    """

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    user_id = models.CharField(max_length=200, null=True, blank=True)
    anonymous_ids = models.JSONField(default=list, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    computed_properties = models.JSONField(default=dict, blank=True)
    segments = models.JSONField(default=list, blank=True)
    device_data = models.JSONField(null=True, blank=True)
    location = models.JSONField(null=True, blank=True)
    origin_anonymous_id = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "user_id"],
                condition=Q(user_id__isnull=False),
                name="profile_unique_user_id",
            ),
            models.UniqueConstraint(
                fields=["workspace", "origin_anonymous_id"],
                condition=Q(origin_anonymous_id__isnull=False),
                name="profile_unique_origin_anonymous_id",
            ),
        ]
        indexes = [models.Index(fields=["workspace", "updated_at"], name="profile_ws_updated")]

    def __str__(self) -> str:
        return self.user_id or f"anonymous profile {self.pk}"


class ProfileAlias(models.Model):
    """An anonymous id and the profile it belongs to, unique within a workspace."""

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    anonymous_id = models.CharField(max_length=200)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="aliases")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "anonymous_id"], name="profilealias_unique_anonymous_id"
            ),
        ]

    def __str__(self) -> str:
        return self.anonymous_id


class EventName(models.Model):
    """The catalogue of event names a workspace has sent, for the settings page's chips."""

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="event_names"
    )
    name = models.CharField(max_length=200)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["workspace", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="eventname_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class WorkflowTrigger(models.Model):
    """A workflow entry point that `POST /workflow/trigger` can start, defined by staff."""

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="workflow_triggers"
    )
    trigger_id = models.CharField(max_length=100)
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["workspace", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "trigger_id"], name="trigger_unique_id"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.trigger_id})"


class WorkflowRun(models.Model):
    """A durable record of one accepted trigger call."""

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    trigger = models.ForeignKey(WorkflowTrigger, on_delete=models.CASCADE, related_name="runs")
    user_id = models.CharField(max_length=200, null=True, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    key = models.ForeignKey(
        "apikeys.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.trigger} for {self.user_id}"
