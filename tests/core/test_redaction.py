"""No response, log line or stored refusal ever holds a secret or an Authorization value."""

import logging
import re
import sys

import pytest

from apikeys import crypto
from core import redaction
from tests.support.api import event, unknown_key

pytestmark = pytest.mark.django_db


def _calls(api, secret: str):
    """Every kind of answer, each carrying the secret in every place a client might put it."""
    yield api.post("/event/ingest", event(), key=secret)
    yield api.post(f"/event/ingest?apiKey={secret}", event(name=secret), key=secret)
    yield api.post("/event/ingest", event(userId=secret * 10), key=secret)
    yield api.post("/event/ingest/batch", {"events": [event(name=secret)]}, key=secret)
    yield api.post("/event/ingest/batch", {"events": secret}, key=secret)
    yield api.post("/event/ingest", f'{{"name": "{secret}", "name": 1}}', key=secret)
    yield api.post("/event/ingest", secret, key=secret, content_type="text/plain")
    yield api.get(f"/profile/{secret}", key=secret)
    yield api.post("/workflow/trigger", {"triggerId": secret}, key=secret)
    yield api.post("/profile", {"userId": secret, "properties": {"k": secret}}, key=secret)


@pytest.mark.parametrize("which", ["writeOnly", "readWrite", "unknown", "mangled", "metrics"])
def test_secrets_never_reach_responses_or_logs(api, secrets, caplog, which, settings, wo_key):
    from apikeys import services
    from core.actors import SYSTEM

    services.api_key_set_allowed_events(key=wo_key, mode="specific", names=["ok"], by=SYSTEM)
    secret = {
        "writeOnly": secrets["writeOnly"],
        "readWrite": secrets["readWrite"],
        "unknown": unknown_key(),
        "mangled": secrets["writeOnly"][:-1] + ("A" if secrets["writeOnly"][-1] != "A" else "B"),
        "metrics": secrets["metricsClientSecret"],
    }[which]
    settings.AUTH_FAILURE_LIMIT = 3  # some answers are 429s
    caplog.set_level(logging.DEBUG)
    statuses = set()
    for response in _calls(api, secret):
        statuses.add(response.status_code)
        assert secret not in response.content.decode()
        assert secret not in str(response.headers)
    assert statuses - {204}  # refusals were made and logged
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in record.getMessage()


@pytest.mark.parametrize("kind", list(crypto.SecretKind))
def test_every_kind_of_secret_crypto_makes_is_redacted(kind):
    secret = crypto.secret_generate(kind)
    assert redaction.redact(f"before {secret} after") == "before [redacted] after"
    assert re.fullmatch(redaction.SECRET_PREFIX_SHAPE, kind.value)
    assert len(secret) - len(kind.value) == redaction.SECRET_TAIL_LENGTH


def test_a_kind_crypto_does_not_know_yet_is_redacted_too():
    new_kind = "uf_zz_"  # what a kind added to crypto.SecretKind tomorrow would look like
    secret = new_kind + crypto.secret_generate(crypto.SecretKind.WRITE_ONLY)[len(new_kind) :]
    assert crypto.secret_kind(secret) is None
    assert "[redacted]" in redaction.redact(secret)
    assert secret[len(new_kind) :] not in redaction.redact(secret)


def test_a_traceback_that_quotes_a_secret_is_redacted_too():
    """An exception's message may quote a request line: its traceback passes the filter too."""
    from core.redaction import RedactSecretsFilter

    secret = "uf_wo_" + "Ab3" * 12 + "xy"
    try:
        raise ValueError(f"bad request line 'GET /?k={secret}'")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    handler = logging.StreamHandler()
    assert RedactSecretsFilter().filter(record)
    text = handler.format(record)
    assert "ValueError" in text and "[redacted]" in text
    assert secret not in text
