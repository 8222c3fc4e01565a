"""The Integration API (../shared/CONTRACT.md §2): thin views over parsing, services, selectors.

Every view authenticates by key, checks the caller's address and the key's scope (DRF
authentication and permission classes, in that order), reads its body with `ingest.parsing`,
and records every refusal for the workspace's admins.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from apikeys import usage
from apikeys.authentication import IntegrationKeyAuthentication
from apikeys.permissions import (
    EVENT_NOT_ALLOWED,
    SCOPE_READ_WRITE,
    SCOPE_WRITE,
    AddressAllowed,
    HasKey,
    KeyScope,
    events_check,
)
from apikeys.refusals import RecordsRefusals
from core.exceptions import EventNotAllowed, InvalidKey, RateLimited
from core.limiter import key_rate_wait
from ingest import parsing, selectors, services
from ingest.schemas import (
    LOCATION_ENRICHMENT,
    EventBatchSerializer,
    EventSerializer,
    ProfileIdentifySerializer,
    ProfileSerializer,
    WorkflowTriggerSerializer,
    error_responses,
)

NO_CONTENT = OpenApiResponse(description="Accepted; no body.")


class IntegrationView(RecordsRefusals):
    """Base of the Integration API views: key auth, address and scope checks, refusal log."""

    authentication_classes = [IntegrationKeyAuthentication]
    permission_classes = [HasKey, AddressAllowed, KeyScope]
    parser_classes: list = []  # bodies are read by ingest.parsing, never by DRF
    unauthenticated_error = InvalidKey
    required_scope: str | None = None

    def check_throttles(self, request) -> None:
        # The optional per-key rate (off by default): one dictionary update per call.
        wait = key_rate_wait(request.auth.key_id)
        if wait is not None:
            raise RateLimited(wait)


class EventIngestApi(IntegrationView):
    """`POST /event/ingest`: one event."""

    required_scope = SCOPE_WRITE
    body = staticmethod(parsing.event_body)

    @extend_schema(
        operation_id="event_ingest",
        request={"application/json": EventSerializer},
        parameters=[LOCATION_ENRICHMENT],
        responses={204: NO_CONTENT, **error_responses(400, 413, 415)},
    )
    def post(self, request):
        return self._ingest(request)

    def _ingest(self, request):
        events = self.body(request)
        names = [event.name for event in events]
        try:
            monitored = events_check(request.auth, names)
        except EventNotAllowed:
            usage.usage_record_events(snapshot=request.auth, refused=names)
            raise
        services.events_ingest(key=request.auth, events=events)
        would_refuse: list[str] = []
        if monitored:
            usage.usage_note_would_refuse(request, EVENT_NOT_ALLOWED)
            unwanted = set(monitored)
            would_refuse = [name for name in names if name in unwanted]
        usage.usage_record_events(snapshot=request.auth, accepted=names, would_refuse=would_refuse)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EventBatchApi(EventIngestApi):
    """`POST /event/ingest/batch`: `{"events": [...]}`, accepted whole or not at all."""

    body = staticmethod(parsing.batch_body)

    @extend_schema(
        operation_id="event_ingest_batch",
        request={"application/json": EventBatchSerializer},
        parameters=[LOCATION_ENRICHMENT],
        responses={204: NO_CONTENT, **error_responses(400, 413, 415)},
    )
    def post(self, request):
        return self._ingest(request)


class ProfileIdentifyApi(IntegrationView):
    """`POST /profile`: identify a user, merging properties and linking an anonymous id."""

    required_scope = SCOPE_WRITE

    @extend_schema(
        operation_id="profile_identify",
        request={"application/json": ProfileIdentifySerializer},
        parameters=[LOCATION_ENRICHMENT],
        responses={204: NO_CONTENT, **error_responses(400, 413, 415)},
    )
    def post(self, request):
        body = parsing.profile_body(request)
        services.profile_identify(
            key=request.auth,
            user_id=body.user_id,
            anonymous_id=body.anonymous_id,
            properties=body.properties,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProfileDetailApi(IntegrationView):
    """`GET /profile/{userId}`: a profile, with the anonymous ids linked to it."""

    required_scope = SCOPE_READ_WRITE

    @extend_schema(
        operation_id="profile_get",
        parameters=[LOCATION_ENRICHMENT],
        responses={200: ProfileSerializer, **error_responses(404)},
    )
    def get(self, request, user_id: str):
        return Response(
            selectors.profile_get(workspace_id=request.auth.workspace_id, user_id=user_id)
        )


class WorkflowTriggerApi(IntegrationView):
    """`POST /workflow/trigger`: start an enabled workflow trigger for a user."""

    required_scope = SCOPE_READ_WRITE

    @extend_schema(
        operation_id="workflow_trigger",
        request={"application/json": WorkflowTriggerSerializer},
        parameters=[LOCATION_ENRICHMENT],
        responses={204: NO_CONTENT, **error_responses(400, 404, 413, 415)},
    )
    def post(self, request):
        body = parsing.trigger_body(request)
        services.workflow_trigger(
            key=request.auth,
            trigger_id=body.trigger_id,
            user_id=body.user_id,
            variables=body.variables,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
