"""The Metrics API (../shared/CONTRACT.md §3): token exchange and queries, thin over services."""

import uuid

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from apikeys.keycache import KeySnapshot
from apikeys.permissions import AddressAllowed, HasKey
from apikeys.refusals import RecordsRefusals
from core.clientip import client_address
from core.exceptions import InvalidBody
from core.jsonbody import json_object_read
from metrics import services, tokens
from metrics.authentication import AccessTokenAuthentication
from metrics.exceptions import InvalidToken, MetricNotFound, QueryError
from metrics.models import SavedMetric
from metrics.sql import SqlError, decode_query

MAX_BODY_BYTES = 256 * 1024

ERRORS = {
    status: OpenApiResponse(description=text)
    for status, text in {
        400: "invalid_body, invalid_sql, missing_variable, invalid_variable, query_failed, "
        "query_timeout",
        401: "invalid_client / invalid_token",
        403: "ip_not_allowed, forbidden_table, forbidden_function",
        404: "metric_not_found",
        413: "body_too_large, result_too_large",
        415: "unsupported_media_type",
        429: "too_many_attempts (with Retry-After)",
    }.items()
}
RESULT = inline_serializer(
    "MetricsResult",
    {
        "columns": serializers.ListField(child=serializers.CharField()),
        "rows": serializers.ListField(child=serializers.DictField()),
        "rowCount": serializers.IntegerField(),
        "truncated": serializers.BooleanField(),
        "cached": serializers.BooleanField(),
        "cachedUntil": serializers.DateTimeField(allow_null=True),
    },
)


def _json_body(request, *, optional: bool = False) -> dict:
    return json_object_read(request, limit=MAX_BODY_BYTES, optional=optional)


def _variables(body: dict) -> dict:
    variables = body.get("variables")
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise InvalidBody("variables must be an object.", field="variables")
    return variables


class TokenView(RecordsRefusals):
    """`POST /metrics/auth/token`: the API key and client secret, for a short-lived token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []  # bodies are read by core.jsonbody, never by DRF

    @extend_schema(
        request=inline_serializer(
            "TokenRequest",
            {"clientSecret": serializers.CharField(), "environmentApiKey": serializers.CharField()},
        ),
        responses={
            200: inline_serializer(
                "TokenResponse",
                {
                    "accessToken": serializers.CharField(),
                    "tokenType": serializers.CharField(),
                    "expiresIn": serializers.IntegerField(),
                },
            ),
            **ERRORS,
        },
        auth=[],
        operation_id="metrics_token",
    )
    def post(self, request):
        body = _json_body(request)
        issued = tokens.access_token_exchange(
            api_key=body.get("environmentApiKey"),
            client_secret=body.get("clientSecret"),
            address=client_address(request),
        )
        return Response(
            {"accessToken": issued.token, "tokenType": "Bearer", "expiresIn": issued.expires_in},
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )


class _QueryView(RecordsRefusals):
    authentication_classes = [AccessTokenAuthentication]
    permission_classes = [HasKey, AddressAllowed]
    parser_classes: list = []  # bodies are read by core.jsonbody, never by DRF
    unauthenticated_error = InvalidToken

    def _answer(self, run) -> Response:
        try:
            result = run()
        except SqlError as error:
            raise QueryError(error) from None
        return Response(result, headers={"Cache-Control": "no-store"})


class QueryView(_QueryView):
    """`POST /metrics/query`: ad-hoc SQL, base64-encoded, over the workspace's own tables."""

    @extend_schema(
        request=inline_serializer(
            "QueryRequest",
            {"encodedQuery": serializers.CharField(), "variables": serializers.DictField()},
        ),
        responses={200: RESULT, **ERRORS},
        operation_id="metrics_query",
    )
    def post(self, request):
        body = _json_body(request)
        variables = _variables(body)
        snapshot: KeySnapshot = request.auth

        def run():
            text = decode_query(
                body.get("encodedQuery"), max_length=settings.METRICS_MAX_QUERY_LENGTH
            )
            return services.query_run(
                workspace_id=snapshot.workspace_id,
                cache_ttl_minutes=snapshot.cache_ttl_minutes,
                request={"sql": text.strip(), "variables": variables},
                sql=text,
                variables=variables,
            )

        return self._answer(run)


class SavedQueryView(_QueryView):
    """`POST /metrics/query/{metricId}`: a saved metric of the token's workspace, by id."""

    @extend_schema(
        request=inline_serializer("SavedQueryRequest", {"variables": serializers.DictField()}),
        responses={200: RESULT, **ERRORS},
        operation_id="metrics_saved_query",
    )
    def post(self, request, metric_id):
        # UserFlux's example calls a saved metric with headers only: no body runs its defaults.
        body = _json_body(request, optional=True)
        variables = _variables(body)
        snapshot: KeySnapshot = request.auth
        try:
            metric_uuid = uuid.UUID(str(metric_id))
        except ValueError:
            raise MetricNotFound() from None
        metric = SavedMetric.objects.filter(
            pk=metric_uuid, workspace_id=snapshot.workspace_id
        ).first()
        if metric is None:
            raise MetricNotFound()
        return self._answer(
            lambda: services.saved_metric_run(metric=metric, snapshot=snapshot, variables=variables)
        )
