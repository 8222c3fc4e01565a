"""No response, log line or stored refusal ever holds a secret or an Authorization value."""

import logging
import sys

import pytest

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
