"""What the settings page shows: the APIs, every key's state and masks, the audit trail."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apikeys import services
from core.actors import SYSTEM, Actor
from tests.apikeys.page.helpers import PAGE

pytestmark = pytest.mark.django_db


def test_the_page_shows_every_section(admin_web, created):
    response = admin_web.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    for heading in (
        "The two APIs",
        "Integration API keys",
        "Metrics API",
        "Best practices",
        "Audit trail",
        "Access control",
        "Allowed profile events",
        "Recently rejected calls",
    ):
        assert heading in html, heading
    assert "ingest events" in html.lower() or "send events" in html.lower()
    assert "ad-hoc SQL" in html
    assert "Never" in html or "never" in html
    for secret in created.secrets().values():
        assert secret not in html
    for issued in created.keys.values():
        for mask in issued.key.secrets.values_list("mask", flat=True):
            assert mask in html
    # In the table and on the card of each Integration key, and on the Metrics card.
    assert html.count('class="state state--live">live<') == 5


def test_the_audit_trail_says_who_what_when_and_from_where(admin_web, write_only, ws_admin):
    services.ip_rule_add(
        key=write_only,
        network="203.0.113.7",
        description="VPN",
        by=Actor.for_user(ws_admin, ip="198.51.100.7"),
    )
    html = admin_web.get(PAGE).content.decode()
    audit = html.split('id="audit"')[1]
    row = audit.split("<tr>")[2]  # newest first, after the header row
    assert "alice" in row
    assert "Added an address" in row
    assert "network: 203.0.113.7/32; description: VPN" in row
    assert '<code class="address">198.51.100.7</code>' in row
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT', row)


def test_the_audit_trail_is_the_workspaces_own_and_capped(admin_web, write_only, other_created):
    for _ in range(60):
        services.metrics_cache_ttl_set(key=other_created.keys["metrics"].key, minutes=6, by=SYSTEM)
    for minutes in range(6, 66):
        services.metrics_cache_ttl_set(
            key=write_only.workspace.api_keys.get(kind="metrics"), minutes=minutes, by=SYSTEM
        )
    audit = admin_web.get(PAGE).content.decode().split('id="audit"')[1]
    assert audit.count("Changed the cache TTL") == 50
    assert "The latest 50 changes" in audit
    assert "5 → 6" not in audit  # only the newest 50 of this workspace


def test_a_revoked_key_shows_its_state_without_controls(admin_web, read_write):
    services.api_key_revoke(key=read_write, by=SYSTEM)
    html = admin_web.get(PAGE).content.decode()
    assert 'class="state state--revoked">revoked<' in html
    assert f"/keys/{read_write.pk}/" not in html


def test_the_page_reads_in_a_fixed_number_of_queries(admin_web, workspace, write_only):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_web.get(PAGE).status_code == 200
        return len(captured)

    few = queries()
    for number in range(5):
        key = services.api_key_create(
            workspace=workspace, kind="write_only", name=f"Key {number}", by=SYSTEM
        ).key
        services.ip_rule_add(key=key, network=f"203.0.113.{number}", by=SYSTEM)
    assert queries() == few
