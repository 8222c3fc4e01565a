"""The site's URLs plus `POST /_test/key-change`, for the two-process test only."""

import json
from datetime import timedelta

from django.http import JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apikeys import services
from apikeys.models import ApiKey
from core.actors import SYSTEM
from userflux_site.urls import urlpatterns as site_urlpatterns


@csrf_exempt
@require_POST
def key_change(request):
    """Change a key through the services, as the settings page will: one change per call."""
    body = json.loads(request.body)
    key = ApiKey.objects.get(pk=body["keyId"])
    action = body["action"]
    answer = {}
    if action == "allowed_events":
        services.api_key_set_allowed_events(
            key=key, mode="specific", names=body["names"], by=SYSTEM
        )
    elif action == "ip_rule":
        services.ip_rule_add(key=key, network=body["network"], by=SYSTEM)
        services.api_key_set_access_mode(key=key, mode="specific", by=SYSTEM)
    elif action == "anywhere":
        services.api_key_set_access_mode(key=key, mode="anywhere", by=SYSTEM)
    elif action == "roll":
        answer["secret"] = services.api_key_roll(key=key, grace="none", by=SYSTEM)
    elif action == "expire":
        expires_at = timezone.now() + timedelta(seconds=body["seconds"])
        services.api_key_set_expiry(key=key, expires_at=expires_at, by=SYSTEM)
        answer["expiresAt"] = expires_at.timestamp()
    elif action == "revoke":
        services.api_key_revoke(key=key, by=SYSTEM)
    else:
        return JsonResponse({"error": "unknown action"}, status=400)
    return JsonResponse(answer)


urlpatterns = [path("_test/key-change", key_change), *site_urlpatterns]
