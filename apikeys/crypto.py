"""Secret generation, checksums, hashing and masking: pure functions, no ORM, no settings.

A secret reads `uf_<kind>_<body><checksum>`:

- the prefix names what it is, so that a leaked secret is recognisable and a scanner can tell
  a Write-Only key from a Metrics credential;
- the body is 32 base62 characters from `secrets` (about 190 bits of randomness);
- the checksum is the CRC32 of prefix and body, as 6 base62 characters, so that a typo or a
  look-alike is rejected offline, before any database or cache is asked (GitHub's token format).

Only `secret_hash()` (SHA-256) and `secret_mask()` are ever stored. A secret with 190 random
bits needs no slow password hash: SHA-256 cannot be brute-forced at that entropy.
"""

import enum
import hashlib
import hmac
import secrets
import zlib

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BODY_LENGTH = 32
CHECKSUM_LENGTH = 6
_ALPHABET_SET = frozenset(ALPHABET)


class SecretKind(enum.StrEnum):
    """What a secret is; its value is the secret's prefix."""

    WRITE_ONLY = "uf_wo_"
    READ_WRITE = "uf_rw_"
    METRICS_API_KEY = "uf_mk_"
    CLIENT_SECRET = "uf_cs_"  # noqa: S105 (a prefix, not a secret)
    ACCESS_TOKEN = "uf_at_"  # noqa: S105 (a prefix, not a secret)


PREFIX_LENGTH = len(SecretKind.WRITE_ONLY)
SECRET_LENGTH = PREFIX_LENGTH + BODY_LENGTH + CHECKSUM_LENGTH
_KINDS_BY_PREFIX = {kind.value: kind for kind in SecretKind}


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(ALPHABET[remainder])
    return "".join(reversed(digits))


def _checksum(prefix_and_body: str) -> str:
    return _base62(zlib.crc32(prefix_and_body.encode("ascii")), CHECKSUM_LENGTH)


def secret_generate(kind: SecretKind) -> str:
    """A new secret of this kind: prefix, random body, checksum."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    head = kind.value + body
    return head + _checksum(head)


def secret_kind(secret: str) -> SecretKind | None:
    """The kind of a well-formed secret, or None when its shape or checksum is wrong.

    This is the offline check: it never needs the database.
    """
    if not isinstance(secret, str) or len(secret) != SECRET_LENGTH:
        return None
    kind = _KINDS_BY_PREFIX.get(secret[:PREFIX_LENGTH])
    if kind is None:
        return None
    rest = secret[PREFIX_LENGTH:]
    if not _ALPHABET_SET.issuperset(rest):
        return None
    head, checksum = secret[:-CHECKSUM_LENGTH], secret[-CHECKSUM_LENGTH:]
    if not hmac.compare_digest(_checksum(head), checksum):
        return None
    return kind


def secret_hash(secret: str) -> str:
    """The SHA-256 hex digest under which a secret is stored and looked up."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_mask(secret: str) -> str:
    """What may be shown of a secret forever: its prefix and the last four characters."""
    return f"{secret[:PREFIX_LENGTH]}{'•' * 8}{secret[-4:]}"
