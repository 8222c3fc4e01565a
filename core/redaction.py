"""A logging filter that removes anything shaped like one of our secrets from every record.

The pattern is the shape every secret has (`apikeys/crypto.py`): `uf_`, a two-letter kind, `_`,
then 38 base62 characters (body and checksum). It names no kind, so a kind added to
`crypto.SecretKind` is redacted without a change here; a test holds crypto to this shape.
"""

import logging
import re

SECRET_PREFIX_SHAPE = r"uf_[a-z]{2}_"  # noqa: S105 (a pattern, not a secret)
SECRET_TAIL_LENGTH = 38  # base62 body and checksum after the prefix
SECRET_PATTERN = re.compile(rf"{SECRET_PREFIX_SHAPE}[0-9A-Za-z]{{{SECRET_TAIL_LENGTH}}}")
# A bearer credential is a token68 (RFC 6750): letters, digits and -._~+/ then = padding. Only
# such a run, long enough to be a credential, is redacted: text that merely names the scheme
# ("Bearer <token>", "the scheme “Bearer”") is left as it is, so error messages read intact.
BEARER_PATTERN = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*")


def redact(text: str) -> str:
    """Text with secrets and bearer credentials replaced by a marker."""
    return BEARER_PATTERN.sub(r"\1[redacted]", SECRET_PATTERN.sub("[redacted]", text))


class RedactSecretsFilter(logging.Filter):
    """Rewrites a record's message so that no secret or Authorization value reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose args do not fit its format: leave it to logging
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        # A traceback is formatted after the filters ran: format it now, redacted, and the
        # formatter uses this text instead (an exception's message may quote a request).
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
