"""An authenticated no-op twin of the query endpoints, for the benchmark only (bench/README.md).

`POST /_bench/baseline/metrics` goes through exactly what `POST /metrics/query` goes through
before it looks at the body (the same view base: `AccessTokenAuthentication`, `HasKey`,
`AddressAllowed`, refusals recorded), then answers a tiny constant JSON with the same headers:
no body parsing, no result cache, no SQL. The cache-hit query path is measured against it.
`metrics/urls.py` mounts it only when `settings.BENCH_BASELINE_ENDPOINTS` is true, which only
the benchmark's settings module sets; it is never part of the served API.
"""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from metrics.apis import _QueryView

ANSWER = {"ok": True}


@extend_schema(exclude=True)
class BaselineQueryView(_QueryView):
    """Answers `{"ok": true}` to a caller with a live Metrics access token (benchmark baseline)."""

    def post(self, request):
        return Response(ANSWER, headers={"Cache-Control": "no-store"})
