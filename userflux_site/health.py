"""Health endpoints for load balancers: liveness touches nothing, readiness checks the services."""

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
    """503 unless the database and the shared cache both answer."""
    checks = {"database": _database_ok(), "cache": _cache_ok()}
    ok = all(checks.values())
    response = JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )
    if not ok:
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
