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
from apikeys.keycache import KeySnapshot
from apikeys.permissions import (
    EVENT_NOT_ALLOWED,
    SCOPE_READ_WRITE,
    SCOPE_WRITE,
    AddressAllowed,
    HasKey,
    KeyScope,
    Verdict,
    event_verdict,
    events_check,
)
from apikeys.refusals import RecordsRefusals
from core import rejections
from core.clientip import client_address
from core.exceptions import EventNotAllowed, InvalidBody, InvalidKey, RateLimited
from core.limiter import key_rate_wait
from core.redaction import redact
from ingest import location, parsing, selectors, services
from ingest.schemas import (
    LOCATION_ENRICHMENT,
    BatchAnswerSerializer,
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


def _location(request) -> dict | None:
    """The caller's location when the call asks for it (`?locationEnrichment=true`)."""
    if not location.enrichment_requested(request):
        return None
    return location.location_of(client_address(request))


class EventIngestApi(IntegrationView):
    """`POST /event/ingest`: one event."""

    required_scope = SCOPE_WRITE

    @extend_schema(
        operation_id="event_ingest",
        request={"application/json": EventSerializer},
        parameters=[LOCATION_ENRICHMENT],
        responses={204: NO_CONTENT, **error_responses(400, 413, 415)},
    )
    def post(self, request):
        events = parsing.event_body(request)
        names = [event.name for event in events]
        try:
            monitored = events_check(request.auth, names)
        except EventNotAllowed:
            usage.usage_record_events(snapshot=request.auth, refused=names)
            raise
        services.events_ingest(key=request.auth, events=events, location=_location(request))
        if monitored:
            usage.usage_note_would_refuse(request, EVENT_NOT_ALLOWED)
        usage.usage_record_events(snapshot=request.auth, accepted=names, would_refuse=monitored)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EventBatchApi(IntegrationView):
    """`POST /event/ingest/batch`: `{"events": [...]}`, judged event by event (CONTRACT.md §2).

    The valid events the key may send are stored; the others are listed in the answer, by
    index, and recorded for the workspace's admins with their name and reason.
    """

    required_scope = SCOPE_WRITE

    @extend_schema(
        operation_id="event_ingest_batch",
        request={"application/json": EventBatchSerializer},
        parameters=[LOCATION_ENRICHMENT],
        responses={
            204: NO_CONTENT,
            200: OpenApiResponse(
                BatchAnswerSerializer, description="Some events stored, some rejected."
            ),
            **error_responses(400, 413, 415),
        },
    )
    def post(self, request):
        snapshot: KeySnapshot = request.auth
        events, rejected = parsing.batch_body(request)
        accepted, refused, would_refuse = [], [], []
        for event in events:
            verdict = event_verdict(snapshot, event.name)
            if verdict is Verdict.REFUSE:
                rejected.append(_not_allowed(event))
                refused.append(event.name)
                continue
            accepted.append(event)
            if verdict is Verdict.WOULD_REFUSE:
                would_refuse.append(event.name)
        services.events_ingest(key=snapshot, events=accepted, location=_location(request))
        if would_refuse:
            usage.usage_note_would_refuse(request, EVENT_NOT_ALLOWED)
        usage.usage_record_events(
            snapshot=snapshot,
            accepted=[event.name for event in accepted],
            refused=refused,
            would_refuse=would_refuse,
        )
        if not rejected:
            return Response(status=status.HTTP_204_NO_CONTENT)
        rejected.sort(key=lambda item: item.index)
        self._rejected_record(rejected)
        listed = [item.as_json() for item in rejected]
        if accepted:
            return Response({"accepted": len(accepted), "rejected": listed})
        if all(item.code == EVENT_NOT_ALLOWED for item in rejected):
            error = EventNotAllowed(list(dict.fromkeys(item.name for item in rejected)))
        else:
            error = InvalidBody("No event of the batch can be stored; “rejected” says why.")
        error.extra["rejected"] = listed
        error.recorded = True  # each event is recorded above
        raise error

    def _rejected_record(self, rejected: list[parsing.RejectedEvent]) -> None:
        http_request = self.request._request
        for item in rejected:
            rejections.rejection_record(
                reason=item.code,
                address=client_address(http_request),
                snapshot=self.request.auth,
                method=http_request.method,
                path=http_request.path,
                event_name=item.name,
            )


def _not_allowed(event: parsing.ParsedEvent) -> parsing.RejectedEvent:
    name = redact(event.name)
    return parsing.RejectedEvent(
        index=event.index,
        code=EVENT_NOT_ALLOWED,
        detail=f"This key may not send the event “{name}”.",
        field="name",
        name=name,
    )


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
            device_data=body.device_data,
            location=_location(request),
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
