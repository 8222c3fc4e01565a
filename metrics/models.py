"""Saved (pre-defined) metrics: a workspace's named queries, called by id."""

import uuid

from django.conf import settings
from django.db import models


class SavedMetric(models.Model):
    """A named SQL query with `@{name}` variables and their defaults; its version retires caches."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="saved_metrics"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    sql = models.TextField()
    variables = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["workspace", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="savedmetric_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name
