"""What the settings page shows: the APIs, every key's state and masks, the audit trail."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apikeys import services
from core.actors import SYSTEM, Actor
from tests.apikeys.page.helpers import PAGE, key_page

pytestmark = pytest.mark.django_db

AUDIT = PAGE + "audit/"


def test_the_list_shows_every_key_in_one_row(admin_web, created, read_write):
    response = admin_web.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    for heading in ("Keys", "Add a key", "The two APIs", "Best practices"):
        assert heading in html, heading
    assert "ad-hoc SQL" in html
    for secret in created.secrets().values():
        assert secret not in html
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert len(rows) == 3
    for issued, row in zip(created.keys.values(), rows, strict=False):
        key = issued.key
        assert f'href="{key_page(key)}"' in row
        assert key.secrets.get(role="primary").mask in row
        assert 'class="state state--live">live<' in row
    # The restrictions and what to fix first, in the row of each key.
    assert "Anywhere" in rows[1] and "All events" in rows[1]
    assert "Read &amp; Write key usable from Anywhere" in rows[1]
    assert "Public key accepts every event name" in rows[0]
    assert "Metrics key usable from Anywhere" in rows[2]
    services.ip_rule_add(key=read_write, network="203.0.113.7", by=SYSTEM)
    services.api_key_set_access_mode(key=read_write, mode="specific", by=SYSTEM)
    rows = admin_web.get(PAGE).content.decode().split("<tbody>")[1].split("<tr>")[1:]
    assert "1 address<" in rows[1] and "usable from Anywhere" not in rows[1]


def test_the_key_page_shows_every_section(admin_web, write_only, metrics, ws_admin):
    html = admin_web.get(key_page(write_only)).content.decode()
    for section in ("summary", "secrets", "usage", "access", "events", "rejected", "audit"):
        assert f'<section id="{section}"' in html, section
    assert 'id="cache"' not in html
    assert write_only.secrets.get().mask in html
    html = admin_web.get(key_page(metrics)).content.decode()
    assert '<section id="cache"' in html and '<section id="events"' not in html
    assert "Roll client secret" in html and "Roll API key" in html


def test_the_key_page_of_another_workspace_is_404(admin_web, other_created):
    foreign = other_created.keys["writeOnly"].key
    assert admin_web.get(key_page(foreign)).status_code == 404


def test_the_audit_trail_says_who_what_when_and_from_where(admin_web, write_only, ws_admin):
    services.ip_rule_add(
        key=write_only,
        network="203.0.113.7",
        description="VPN",
        by=Actor.for_user(ws_admin, ip="198.51.100.7"),
    )
    for url in (AUDIT, key_page(write_only)):
        html = admin_web.get(url).content.decode()
        audit = html.split("<tbody>")[-1]
        row = audit.split("<tr>")[1]  # newest first
        assert "alice" in row
        assert "Added an address" in row
        assert "network: 203.0.113.7/32; description: VPN" in row
        assert '<code class="address">198.51.100.7</code>' in row
        assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT', row)


def test_the_audit_trail_is_the_workspaces_own_filtered_and_paged(
    admin_web, write_only, metrics, other_created
):
    for _ in range(3):
        services.metrics_cache_ttl_set(key=other_created.keys["metrics"].key, minutes=6, by=SYSTEM)
    for minutes in range(6, 36):
        services.metrics_cache_ttl_set(key=metrics, minutes=minutes, by=SYSTEM)
    services.ip_rule_add(key=write_only, network="203.0.113.7", by=SYSTEM)
    first = admin_web.get(AUDIT).content.decode().split("<tbody>")[1]
    assert first.count("Changed the cache TTL") == 24  # 25 a page, the address is newest
    assert "Added an address" in first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    ttl = admin_web.get(AUDIT, {"action": "metrics.set_cache_ttl", "page": 2}).content.decode()
    ttl = ttl.split("<tbody>")[1]
    assert ttl.count("Changed the cache TTL") == 5  # 30 of them: the last 5 on page 2
    assert "Added an address" not in ttl
    assert "5 → 6" in ttl and 'rel="prev"' in ttl
    assert "page 2 of 2" in ttl
    # A key's page shows that key's changes only.
    own = admin_web.get(key_page(write_only)).content.decode().split('id="audit"')[1]
    own = own.split("<tbody>")[1]
    assert "Added an address" in own and "Changed the cache TTL" not in own
    # An unknown action shows everything; a page past the end shows the last.
    assert admin_web.get(AUDIT, {"action": "nope", "page": 99}).status_code == 200


def test_a_revoked_key_shows_its_state_without_controls(admin_web, read_write):
    services.api_key_revoke(key=read_write, by=SYSTEM)
    html = admin_web.get(PAGE).content.decode()
    assert "Revoked keys (1)" in html
    page = admin_web.get(key_page(read_write)).content.decode()
    assert 'class="state state--revoked">revoked<' in page
    assert f"/keys/{read_write.pk}/roll/" not in page
    assert 'method="post"' not in page.split("</header>")[1]


def test_the_page_reads_in_a_fixed_number_of_queries(admin_web, workspace, write_only):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_web.get(PAGE).status_code == 200
        return len(captured)

    few = queries()
    assert few <= 12
    for number in range(5):
        key = services.api_key_create(
            workspace=workspace, kind="write_only", name=f"Key {number}", by=SYSTEM
        ).key
        services.ip_rule_add(key=key, network=f"203.0.113.{number}", by=SYSTEM)
    assert queries() == few
