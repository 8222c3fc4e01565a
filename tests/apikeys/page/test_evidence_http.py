"""Over real HTTP (the live server): calls from two addresses; the key's page tells the truth."""

import http.client
import json
import re
from urllib.parse import urlsplit

import pytest

from apikeys import services, usage
from core.actors import SYSTEM
from tests.apikeys.page.helpers import key_page

pytestmark = pytest.mark.django_db(transaction=True)

HOME, OFFICE = "203.0.113.10", "198.51.100.20"


def _call(base: str, secret: str, name: str, address: str) -> int:
    """POST one event as a client behind the trusted proxy at `address`; the status."""
    server = urlsplit(base)
    connection = http.client.HTTPConnection(server.hostname, server.port, timeout=30)
    try:
        connection.request(
            "POST",
            "/event/ingest",
            body=json.dumps({"name": name, "userId": "u1"}),
            headers={
                "Authorization": f"Bearer {secret}",
                "Content-Type": "application/json",
                "X-Forwarded-For": address,
            },
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_the_key_page_lists_each_address_and_charts_the_calls(
    live_server, created, admin_web, settings
):
    settings.TRUSTED_PROXIES = ["127.0.0.1/32", "::1/128"]
    key = created.keys["writeOnly"].key
    secret = created.secrets()["writeOnly"]
    services.api_key_set_allowed_events(key=key, mode="specific", names=["signup"], by=SYSTEM)
    statuses = [_call(live_server.url, secret, "signup", HOME) for _ in range(3)]
    statuses += [_call(live_server.url, secret, "signup", OFFICE)]
    statuses += [_call(live_server.url, secret, "purchase", OFFICE) for _ in range(2)]
    assert statuses == [204, 204, 204, 204, 403, 403]
    usage.usage_flush()

    html = admin_web.get(key_page(key)).content.decode()
    access = html.split('<section id="access"')[1].split("</section>")[0]
    seen = re.findall(
        r"<code>([\d.]+)</code></td>\s*<td[^>]*>(\d+)</td>\s*<td[^>]*>(\d+)</td>", access
    )
    assert sorted(seen) == [(OFFICE, "3", "2"), (HOME, "3", "0")]  # address, calls, refused
    chart = html.split('<section id="usage"')[1].split("</section>")[0]
    drawn = re.findall(r'data-series="([\w:]+)" data-value="(\d+)"', chart)
    assert drawn == [("accepted", "4"), ("refused:event_not_allowed", "2")]
    assert "4 accepted, 2 refused" in chart
    rejected = html.split('<section id="rejected"')[1].split("</section>")[0]
    assert re.search(r"<code>purchase</code></td>\s*<td[^>]*>2</td>", rejected)
    assert "POST /event/ingest" in rejected
    log = rejected.split("Latest refusals")[1]
    assert re.search(r"<code>POST /event/ingest</code></td>\s*<td[^>]*><code>purchase</code>", log)
