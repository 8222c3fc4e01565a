"""Health endpoints for load balancers: liveness touches nothing, readiness asks the database.

A host can serve calls as long as its database answers: every use of the shared cache (Redis)
degrades without it (docs/operations.md). So `/readyz` is 503 only when the database cannot be
reached; a Redis outage is reported as `degraded` with 200, so that a load balancer following
it does not take every host out at once for something none of them can fix.
"""

import secrets

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def live(request):
    """The process answers: nothing else is asked."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request):
    """503 when the database does not answer; 200 `degraded` when only the shared cache fails."""
    checks = {"database": _database_ok(), "cache": _cache_ok()}
    if not checks["database"]:
        status = "unavailable"
    elif not checks["cache"]:
        status = "degraded"
    else:
        status = "ok"
    response = JsonResponse(
        {"status": status, "checks": checks}, status=503 if status == "unavailable" else 200
    )
    if status == "unavailable":
        response["Retry-After"] = str(settings.UNAVAILABLE_RETRY_AFTER_SECONDS)
    return response


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def _cache_ok() -> bool:
    """Whether the shared cache stores and returns a value; an open breaker answers at once."""
    # A key of its own: probes running at once (two workers, two load balancers) must not
    # read each other's value.
    probe = secrets.token_hex(8)
    key = f"health:probe:{probe}"
    try:
        cache.set(key, probe, timeout=10)
        ok = cache.get(key) == probe
        cache.delete(key)
        return ok
    except Exception:
        return False
