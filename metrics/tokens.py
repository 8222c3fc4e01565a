"""The client-credentials exchange: a Metrics API key and client secret for an access token.

Tokens are KeySecrets of the Metrics key with the role `access_token` and `retires_at` at their
expiry, so the one lifecycle function decides them too: a revoked or expired key ends them, and
rolling either half of the pair retires them at once (`apikeys.services.api_key_roll`).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apikeys import crypto, keycache, lifecycle, usage
from apikeys.keycache import KeySnapshot
from apikeys.models import ApiKey, KeySecret
from apikeys.permissions import IP_NOT_ALLOWED, Verdict, address_verdict
from core import limiter
from core.exceptions import IpNotAllowed, RateLimited, TooManyAttempts
from core.networks import IPAddress
from metrics.exceptions import InvalidClient

# Expired tokens are deleted when their key issues a new one, this long after they expired.
EXPIRED_TOKENS_KEPT = timedelta(hours=1)


@dataclass(frozen=True)
class IssuedToken:
    """An access token, shown once, and its lifetime in seconds."""

    token: str
    expires_in: int


def _credential(secret: object, kind: crypto.SecretKind, role: str) -> KeySnapshot | None:
    if not isinstance(secret, str) or crypto.secret_kind(secret) is not kind:
        return None
    snapshot = keycache.snapshot_for_hash(crypto.secret_hash(secret))
    if snapshot is None or snapshot.kind != ApiKey.Kind.METRICS or snapshot.role != role:
        return None
    if snapshot.refusal(timezone.now()) is not None:
        return None
    return snapshot


def _failure_bucket(api_key: object, address: IPAddress | None) -> str:
    """Where a failed exchange counts: per (API key, address) for a live API key, else per address.

    Someone who knows only the API key (not the secret) then fills a bucket of their own address
    and never the owner's; guessing API keys is counted per address like any unknown key.
    """
    key = _credential(api_key, crypto.SecretKind.METRICS_API_KEY, KeySecret.Role.PRIMARY)
    if key is None:
        return limiter.address_bucket(address)
    return f"mk:{key.key_id}:{limiter.address_bucket(address)}"


def _failed(address: IPAddress | None, api_key: object) -> InvalidClient:
    """Count a failed exchange; 429 once its bucket is over the limit, else one answer for all."""
    bucket = _failure_bucket(api_key, address)
    wait = limiter.bucket_blocked_for(bucket) or limiter.failure_record_bucket(bucket)
    if wait is not None:
        raise TooManyAttempts(wait)
    return InvalidClient()


def access_token_exchange(
    *, api_key: object, client_secret: object, address: IPAddress | None
) -> IssuedToken:
    """Issue a token for a valid pair used from an allowed address; one answer for bad pairs.

    A valid pair is never refused for failed attempts, its own address's or anyone else's; a
    key's successful exchanges are limited to `METRICS_TOKEN_EXCHANGES_PER_MINUTE` (429).
    """
    key = _credential(api_key, crypto.SecretKind.METRICS_API_KEY, KeySecret.Role.PRIMARY)
    client = _credential(
        client_secret, crypto.SecretKind.CLIENT_SECRET, KeySecret.Role.CLIENT_SECRET
    )
    if key is None or client is None or key.key_id != client.key_id:
        raise _failed(address, api_key)
    verdict = address_verdict(key, address)
    if verdict is Verdict.REFUSE:
        usage.usage_record_call(snapshot=key, address=address, reason=IP_NOT_ALLOWED)
        raise IpNotAllowed()
    wait = limiter.rate_wait(
        f"exchange:{key.key_id}", limit=settings.METRICS_TOKEN_EXCHANGES_PER_MINUTE, window=60
    )
    if wait is not None:
        raise RateLimited(wait, "This Metrics key exchanged too many tokens; retry later.")
    token = _token_issue(key, [crypto.secret_hash(api_key), crypto.secret_hash(client_secret)])
    if token is None:  # the pair was rolled or revoked a moment ago
        raise _failed(address, api_key)
    would_refuse = [IP_NOT_ALLOWED] if verdict is Verdict.WOULD_REFUSE else []
    usage.usage_record_call(snapshot=key, address=address, would_refuse=would_refuse)
    usage.usage_record_secret(client.secret_id)
    return token


def _token_issue(snapshot: KeySnapshot, pair_hashes: list[str]) -> IssuedToken | None:
    """Store a new token, unless the pair changed since the snapshot was taken.

    The key's row lock orders this against a roll or revoke (which take the same lock), so no
    token outlives the pair it was issued under, even by a moment. Its expiry is the earliest of
    its lifetime, the key's expiry and the end of either secret's grace: a token obtained with a
    rolled secret ends when that secret does. (A revoke or a later roll ends it at once.)
    """
    lifetime = max(1, int(settings.METRICS_TOKEN_LIFETIME_SECONDS))
    token = crypto.secret_generate(crypto.SecretKind.ACCESS_TOKEN)
    now = timezone.now()
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=snapshot.key_id)
        pair = list(KeySecret.objects.filter(key=key, hash__in=pair_hashes))
        honoured = [
            secret
            for secret in pair
            if lifecycle.secret_refusal(
                now=now,
                revoked_at=key.revoked_at,
                expires_at=key.expires_at,
                retires_at=secret.retires_at,
            )
            is None
        ]
        if len(honoured) != 2:
            return None
        ends = [now + timedelta(seconds=lifetime), key.expires_at]
        ends += [secret.retires_at for secret in honoured]
        expires_at = min(end for end in ends if end is not None)
        expires_in = int((expires_at - now).total_seconds())
        if expires_in < 1:
            return None  # the pair ends within the second: no token worth having
        access_tokens_prune(key_id=snapshot.key_id, now=now)
        KeySecret.objects.create(
            key_id=snapshot.key_id,
            role=KeySecret.Role.ACCESS_TOKEN,
            hash=crypto.secret_hash(token),
            mask=crypto.secret_mask(token),
            created_at=now,
            retires_at=expires_at,
        )
    keycache.key_used(snapshot)
    return IssuedToken(token=token, expires_in=expires_in)


def access_tokens_prune(*, key_id: int | None = None, now: datetime | None = None) -> int:
    """Delete tokens that expired over `EXPIRED_TOKENS_KEPT` ago (of one key, or of all).

    Each exchange prunes its own key's (so a busy key never piles up rows), and the
    `metrics_tokens_prune` management command prunes every key's, for keys that stopped
    exchanging. Returns how many were deleted.
    """
    now = now or timezone.now()
    expired = KeySecret.objects.filter(
        role=KeySecret.Role.ACCESS_TOKEN, retires_at__lt=now - EXPIRED_TOKENS_KEPT
    )
    if key_id is not None:
        expired = expired.filter(key_id=key_id)
    deleted, _ = expired.delete()
    return deleted
