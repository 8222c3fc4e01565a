"""No-check twins of the event endpoints, for the benchmark only (bench/README.md).

They parse and store exactly as `POST /event/ingest` and `POST /event/ingest/batch` do, with no
key, address, scope or event check, into the workspace named by `BENCH_BASELINE_WORKSPACE`.
`ingest/urls.py` mounts them only when `settings.BENCH_BASELINE_ENDPOINTS` is true, which only
the benchmark's settings module sets; they are never part of the served API.
"""

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ingest import eventstore, parsing
from workspaces.models import Workspace

_workspace_ids: dict[str, int] = {}


def _workspace_id() -> int:
    slug = getattr(settings, "BENCH_BASELINE_WORKSPACE", "bench")
    if slug not in _workspace_ids:
        _workspace_ids[slug] = Workspace.objects.only("id").get(slug=slug).id
    return _workspace_ids[slug]


@extend_schema(exclude=True)
class BaselineEventApi(APIView):
    """Stores one event with no check at all (benchmark baseline)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []
    body = staticmethod(parsing.event_body)

    def post(self, request):
        eventstore.events_insert(
            workspace_id=_workspace_id(),
            key_id=None,
            events=self.body(request),
            received_at=timezone.now(),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(exclude=True)
class BaselineBatchApi(BaselineEventApi):
    """Stores a batch of events with no check at all (benchmark baseline)."""

    @staticmethod
    def body(request):
        events, _ = parsing.batch_body(request)
        return events
