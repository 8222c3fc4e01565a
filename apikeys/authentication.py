"""Authentication of Integration API calls by key, and what a key-authenticated caller is."""

from typing import NoReturn

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework.authentication import BaseAuthentication

from apikeys import crypto, keycache
from core import limiter
from core.clientip import client_address
from core.exceptions import InvalidKey, TooManyAttempts

INTEGRATION_KINDS = frozenset({crypto.SecretKind.WRITE_ONLY, crypto.SecretKind.READ_WRITE})


class KeyClient:
    """The caller of a key-authenticated call: a program, never a person, never staff."""

    __slots__ = ("key_id", "workspace_id")
    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, snapshot: keycache.KeySnapshot):
        self.key_id = snapshot.key_id
        self.workspace_id = snapshot.workspace_id

    def __str__(self) -> str:
        return f"key {self.key_id}"


class BearerSecretAuthentication(BaseAuthentication):
    """Reads `Authorization: Bearer <secret>` and nothing else; subclasses decide the secret.

    A live, valid secret is always accepted, even from an address blocked for guessing: a block
    must never lock out the honest callers who share a guesser's address (a NAT, a proxy, a unix
    socket). Only failing attempts are counted and refused with 429 once over the limit; with
    160+ random bits a secret cannot be guessed, so the limit sheds load, it is not what keeps
    secrets safe. A header of another scheme is not ours: None.
    """

    keyword = "bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != self.keyword:
            return None
        address = client_address(request)
        snapshot = self.snapshot_for(request, secret.strip(), address)
        keycache.key_used(snapshot)
        return KeyClient(snapshot), snapshot

    def snapshot_for(self, request, secret: str, address) -> keycache.KeySnapshot:
        """The live key snapshot of this secret, or raise the scheme's 401."""
        raise NotImplementedError

    @staticmethod
    def refuse(address, error: Exception, snapshot=None) -> NoReturn:
        """Count a failed attempt from this address, then raise: 429 past the limit, else error."""
        wait = limiter.blocked_for(address) or limiter.failure_record(address)
        if wait is not None:
            too_many = TooManyAttempts(wait)
            too_many.snapshot = snapshot
            raise too_many
        raise error


class IntegrationKeyAuthentication(BearerSecretAuthentication):
    """Accepts a live Integration key sent as `Authorization: Bearer <key>`, and nothing else.

    Order matters: the secret's shape and checksum are checked offline (no database, no cache);
    only a well-formed secret is looked up, in the per-process key cache. Every refusal is the
    same 401, whatever its reason, or 429 once its address is over the failed-attempt limit.
    """

    def snapshot_for(self, request, secret, address):
        if crypto.secret_kind(secret) not in INTEGRATION_KINDS:
            raise InvalidKey("malformed_key")
        snapshot = keycache.snapshot_for_hash(crypto.secret_hash(secret))
        if snapshot is None:
            self.refuse(address, InvalidKey("unknown_key"))
        refusal = snapshot.refusal(timezone.now())
        if refusal is not None:
            self.refuse(address, InvalidKey(refusal.value, snapshot), snapshot)
        return snapshot

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class IntegrationKeyScheme(OpenApiAuthenticationExtension):
    """Describes Integration key authentication in the OpenAPI schema."""

    target_class = IntegrationKeyAuthentication
    name = "IntegrationKey"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Bearer",  # noqa: S106 (a scheme name, not a secret)
        )
