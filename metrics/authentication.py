"""Authentication of Metrics queries by access token, and nothing else."""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object

from apikeys import crypto, keycache
from apikeys.authentication import BearerSecretAuthentication
from apikeys.models import KeySecret
from metrics.exceptions import InvalidToken


class AccessTokenAuthentication(BearerSecretAuthentication):
    """Accepts a live Metrics access token as `Authorization: Bearer <token>`; no key, no secret.

    An Integration key, a Metrics API key or client secret, an expired token and one ended by
    a roll are all the same 401, with `error="invalid_token"` in `WWW-Authenticate`.
    """

    def snapshot_for(self, request, token, address):
        request._token_refused = True
        if crypto.secret_kind(token) is not crypto.SecretKind.ACCESS_TOKEN:
            raise InvalidToken("malformed_token")
        snapshot = keycache.snapshot_for_hash(crypto.secret_hash(token))
        if snapshot is None or snapshot.role != KeySecret.Role.ACCESS_TOKEN:
            self.refuse(address, InvalidToken("unknown_token"))
        refusal = snapshot.refusal(timezone.now())
        if refusal is not None:
            raise InvalidToken(f"token_{refusal.value}", snapshot)
        request._token_refused = False
        return snapshot

    def authenticate_header(self, request) -> str:
        if getattr(request, "_token_refused", False):
            return 'Bearer realm="metrics", error="invalid_token"'
        return 'Bearer realm="metrics"'


class AccessTokenScheme(OpenApiAuthenticationExtension):
    """Describes Metrics access-token authentication in the OpenAPI schema."""

    target_class = AccessTokenAuthentication
    name = "MetricsAccessToken"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Bearer",  # noqa: S106 (a scheme name, not a secret)
        )
