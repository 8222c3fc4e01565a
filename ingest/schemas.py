"""The shapes of Integration API bodies, for the OpenAPI schema only.

Bodies are validated by `ingest.parsing`, not by these serializers: they exist so that the
served schema and docs page show every field.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers


def _id_field():
    return serializers.CharField(required=False, allow_null=True, max_length=200)


class ProfileIdentifySerializer(serializers.Serializer):
    userId = _id_field()
    anonymousId = _id_field()
    externalId = _id_field()
    properties = serializers.DictField(required=False, allow_null=True)
    deviceData = serializers.DictField(required=False, allow_null=True)


class EventSerializer(ProfileIdentifySerializer):
    name = serializers.CharField(
        max_length=200, help_text="1 to 200 characters, no whitespace or control characters."
    )
    timestamp = serializers.FloatField(
        required=False,
        allow_null=True,
        help_text="Milliseconds since 1970-01-01 UTC, from 2000-01-01 to one day from now; "
        "the server's time when absent.",
    )
    sessionId = _id_field()
    eventId = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=200,
        help_text="The client's own id of the event: events with the same eventId in a "
        "workspace are stored once. Without it, an event with a timestamp is identified by "
        "its content; one without a timestamp is never deduplicated.",
    )


class EventBatchSerializer(serializers.Serializer):
    events = EventSerializer(many=True, help_text="At most 1,000 events (configurable).")


class ProfileSerializer(serializers.Serializer):
    id = serializers.CharField()
    anonymousIds = serializers.ListField(child=serializers.CharField())
    properties = serializers.DictField()
    computedProperties = serializers.DictField()
    segments = serializers.ListField(child=serializers.JSONField())
    deviceData = serializers.DictField(allow_null=True)
    location = serializers.DictField(
        allow_null=True, help_text="countryCode, country (and region, city when known)."
    )
    createdAt = serializers.DateTimeField()
    lastSeenAt = serializers.DateTimeField(allow_null=True)


class RejectedEventSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The event's place in the batch, from 0.")
    code = serializers.ChoiceField(choices=["event_not_allowed", "invalid_event"])
    detail = serializers.CharField()
    field = serializers.CharField(required=False)
    name = serializers.CharField(required=False, help_text="The event's name, when it has one.")


class BatchAnswerSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="How many events were stored (or were already).")
    rejected = RejectedEventSerializer(many=True)


class WorkflowTriggerSerializer(serializers.Serializer):
    triggerId = serializers.CharField(max_length=200)
    userId = _id_field()
    variables = serializers.DictField(required=False, allow_null=True)


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable, machine-readable code.")
    detail = serializers.CharField(help_text="What went wrong, for people.")
    field = serializers.CharField(required=False, help_text="The field at fault.")
    index = serializers.IntegerField(required=False, help_text="The batch index at fault.")
    events = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Event names the key may not send."
    )
    rejected = RejectedEventSerializer(
        many=True, required=False, help_text="A batch none of whose events could be stored."
    )


LOCATION_ENRICHMENT = OpenApiParameter(
    "locationEnrichment",
    bool,
    required=False,
    description="true: add the caller's country (and region, city where known), looked up "
    "offline from its address, to events' ufProperties and to the profile's location.",
)

_ERRORS = {
    401: ("invalid_key", "No key, or a malformed, unknown, revoked or expired key."),
    403: ("ip_not_allowed, insufficient_scope, event_not_allowed", "Refused by a key rule."),
    429: ("too_many_attempts, rate_limited", "Over a limit; see Retry-After."),
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error answers of an endpoint."""
    descriptions = {
        400: "invalid_body: the field (and batch index) at fault.",
        404: "profile_not_found or trigger_not_found.",
        413: "body_too_large or batch_too_large.",
        415: "unsupported_media_type: the body is not JSON.",
    }
    descriptions.update({status: f"{codes}: {text}" for status, (codes, text) in _ERRORS.items()})
    return {
        status: OpenApiResponse(ErrorSerializer, description=descriptions[status])
        for status in sorted(set(statuses) | set(_ERRORS))
    }
