"""Health endpoints for load balancers: liveness touches nothing, readiness checks the services."""

import secrets

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
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def _cache_ok() -> bool:
    probe = secrets.token_hex(4)
    try:
        cache.set("health:probe", probe, timeout=10)
        return cache.get("health:probe") == probe
    except Exception:
        return False
