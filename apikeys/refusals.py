"""One recorder of refused API calls, for every API that authenticates by key or token.

A view that inherits `RecordsRefusals` has each refusal it answers with a status in
`RECORDED_STATUSES` noted in the rejected-call log (`core.rejections`, sampled), with the key
when it is known, the client address, the method and the path (never a header or the query
string). A 404 is an answer about data, not a refusal; a 5xx is ours, not the caller's.
The key's usage counts the call once: refused for the same reason, or accepted.
"""

from rest_framework import exceptions
from rest_framework.views import APIView

from apikeys import usage
from apikeys.keycache import KeySnapshot
from core import rejections
from core.clientip import client_address

RECORDED_STATUSES = frozenset({400, 401, 403, 413, 415, 429})


def refusal_reason(exc: Exception, code: str) -> str:
    """Why a call was refused, for the log: the error's own reason, else its code."""
    reason = getattr(exc, "reason", None)
    if reason is not None:
        return reason
    if isinstance(exc, exceptions.NotAuthenticated):
        return "missing_key"  # no credentials at all, whichever kind the API wanted
    return code or "refused"


class RecordsRefusals(APIView):
    """An API view whose refusals are recorded for the workspace's admins."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if response.status_code in RECORDED_STATUSES:
            http_request = self.request._request
            snapshot = getattr(exc, "snapshot", None)
            if snapshot is None and isinstance(getattr(http_request, "auth", None), KeySnapshot):
                snapshot = http_request.auth
            reason = refusal_reason(exc, (response.data or {}).get("code", ""))
            # A batch refused for its events has recorded each of them (ingest.apis) already.
            if not getattr(exc, "recorded", False):
                rejections.rejection_record(
                    reason=reason,
                    address=client_address(http_request),
                    snapshot=snapshot,
                    method=http_request.method,
                    path=http_request.path,
                    event_name=(getattr(exc, "extra", {}).get("events") or [None])[0],
                )
            usage.usage_record_response(http_request, snapshot=snapshot, reason=reason)
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        # Every answer that was not a recorded refusal is a call the key made and was accepted.
        usage.usage_record_response(request)
        return super().finalize_response(request, response, *args, **kwargs)
