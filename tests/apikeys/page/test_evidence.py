"""A key's page built from evidence: addresses seen, the chart, the impact preview, monitor mode."""

import re

import pytest

from apikeys import restrict_services, services
from apikeys.models import ApiKey
from core.actors import SYSTEM
from tests.apikeys.page.helpers import action_url, key_page, last_audit, stored_state
from tests.apikeys.usage_helpers import flushed, ingest

pytestmark = pytest.mark.django_db

HOME = "203.0.113.10"
OFFICE = "198.51.100.20"
STRANGER = "192.0.2.99"


@pytest.fixture
def secret(created) -> str:
    return created.secrets()["writeOnly"]


def _calls(client, secret: str, **per_address: int) -> None:
    for address, count in per_address.items():
        for _ in range(count):
            assert ingest(client, secret, address=address) == 204


def _section(html: str, name: str) -> str:
    return html.split(f'<section id="{name}"')[1].split("</section>")[0]


def test_the_key_page_lists_the_addresses_seen_with_their_counts(
    client, admin_web, secret, write_only
):
    _calls(client, secret, **{HOME: 3, OFFICE: 1})
    flushed()
    access = _section(admin_web.get(key_page(write_only)).content.decode(), "access")
    rows = re.findall(r"<code>([\d.]+)</code></td>\s*<td[^>]*>(\d+)</td>", access)
    assert rows == [(HOME, "3"), (OFFICE, "1")]
    assert f'aria-label="Add {HOME}"' in access
    assert "Your current address" not in access or "127.0.0.1" in access


def test_the_list_shows_calls_of_the_last_24_hours(client, admin_web, secret, write_only):
    _calls(client, secret, **{HOME: 2})
    assert ingest(client, secret, address=HOME, names=["x y"]) == 400
    flushed()
    html = admin_web.get("/w/acme/settings/api/").content.decode()
    row = html.split(f'href="{key_page(write_only)}"')[1].split("</tr>")[0]
    assert re.search(r'data-label="Calls, 24 h" class="num">3\b', row)


def test_the_chart_draws_the_numbers_of_the_calls(client, admin_web, secret, write_only):
    services.api_key_set_allowed_events(
        key=write_only, mode="specific", names=["page_view"], by=SYSTEM
    )
    _calls(client, secret, **{HOME: 4})
    assert ingest(client, secret, address=HOME, names=["purchase"]) == 403
    flushed()
    html = admin_web.get(key_page(write_only)).content.decode()
    usage = _section(html, "usage")
    drawn = re.findall(r'data-series="([\w:]+)" data-value="(\d+)"', usage)
    assert drawn == [("accepted", "4"), ("refused:event_not_allowed", "1")]
    assert "4 accepted, 1 refused" in usage  # the figure's caption, read by screen readers
    table = usage.split("<tfoot>")[1]
    assert re.findall(r'<td class="num">(\d+)</td>', table) == ["4", "0", "1"]
    assert "Refused: Event name not allowed for this key" in usage
    month = _section(
        admin_web.get(key_page(write_only), {"range": "30d"}).content.decode(), "usage"
    )
    assert re.findall(r'data-series="([\w:]+)" data-value="(\d+)"', month) == drawn
    assert month.count("<tr>") == 32  # the header, 30 days and the total


def test_tightening_shows_the_impact_first_and_changes_nothing(
    client, admin_web, secret, write_only
):
    _calls(client, secret, **{HOME: 3, OFFICE: 2})
    flushed()
    before = stored_state()
    response = admin_web.post(
        action_url("key_access_mode", write_only),
        {"access_mode": "specific", "addresses": [HOME], "step": "save"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        "With these rules, 2 of 5 calls in the last 7 days, from 1 address, would have been "
        "refused." in html
    )
    impact = html.split('id="access-preview"')[1].split("</table>")[0]
    assert OFFICE in impact and HOME not in impact
    assert 'value="enforce"' in html and 'value="monitor"' in html
    assert stored_state() == before


@pytest.mark.parametrize("step", ["enforce", "monitor"])
def test_the_switch_and_its_first_addresses_are_saved_together(
    client, admin_web, secret, write_only, step
):
    _calls(client, secret, **{HOME: 1, OFFICE: 1})
    flushed()
    data = {"access_mode": "specific", "addresses": [HOME], "rules": OFFICE, "step": "preview"}
    preview = admin_web.post(action_url("key_access_mode", write_only), data).content.decode()
    previewed = re.search(r'name="previewed" value="([^"]*)"', preview)[1]
    response = admin_web.post(
        action_url("key_access_mode", write_only), {**data, "step": step, "previewed": previewed}
    )
    assert response["Location"] == key_page(write_only, "access")
    write_only.refresh_from_db()
    assert (write_only.access_mode, write_only.address_enforcement) == ("specific", step)
    assert sorted(write_only.ip_rules.values_list("network", flat=True)) == [
        f"{OFFICE}/32",
        f"{HOME}/32",
    ]
    audit = last_audit()
    assert audit.action == "api_key.set_access"
    assert audit.changes["after"] == {"mode": "specific", "enforcement": step}
    page = admin_web.get(response["Location"]).content.decode()
    feedback = _section(page, "access").split('id="access-feedback"')[1].split("</div>")[0]
    assert ("monitoring its address list" if step == "monitor" else "only from the addresses") in (
        feedback
    )


def test_a_list_changed_after_its_preview_is_previewed_again(admin_web, write_only):
    before = stored_state()
    response = admin_web.post(
        action_url("key_access_mode", write_only),
        {"access_mode": "specific", "rules": HOME, "step": "enforce", "previewed": OFFICE},
    )
    assert response.status_code == 200
    assert 'id="access-preview"' in response.content.decode()
    assert stored_state() == before


def test_add_all_adds_every_address_seen(client, admin_web, secret, write_only):
    services.ip_rule_add(key=write_only, network=HOME, by=SYSTEM)
    restrict_services.api_key_access_set(key=write_only, mode="specific", by=SYSTEM)
    services.ip_rule_add(key=write_only, network=OFFICE, by=SYSTEM)
    _calls(client, secret, **{HOME: 1, OFFICE: 1})
    services.ip_rule_remove(rule=write_only.ip_rules.get(network=f"{OFFICE}/32"), by=SYSTEM)
    assert ingest(client, secret, address=STRANGER) == 403
    flushed()
    response = admin_web.post(
        action_url("key_access_mode", write_only), {"access_mode": "specific", "add_all": "1"}
    )
    assert response.status_code == 302  # loosening a list in force: no preview needed
    assert set(write_only.ip_rules.values_list("network", flat=True)) == {
        f"{HOME}/32",
        f"{OFFICE}/32",
        f"{STRANGER}/32",
    }


def test_a_monitored_list_is_enforced_with_one_click(
    client, admin_web, secret, write_only, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        restrict_services.api_key_access_set(
            key=write_only, mode="specific", rules=[HOME], enforcement="monitor", by=SYSTEM
        )
    assert ingest(client, secret, address=STRANGER) == 204
    flushed()
    html = admin_web.get(key_page(write_only)).content.decode()
    assert "Monitor mode:" in _section(html, "access")
    rejected = _section(html, "rejected")
    assert re.search(rf"<code>{STRANGER}</code></td>\s*<td[^>]*>0</td>\s*<td[^>]*>1</td>", rejected)
    assert f"Allow this address: {STRANGER}" in rejected
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_web.post(action_url("key_enforce", write_only), {"which": "addresses"})
    assert response["Location"] == key_page(write_only, "access")
    write_only.refresh_from_db()
    assert write_only.address_enforcement == ApiKey.Enforcement.ENFORCE
    assert ingest(client, secret, address=STRANGER) == 403


def test_events_from_evidence_and_allow_a_refused_event(
    client, admin_web, secret, write_only, django_capture_on_commit_callbacks
):
    for name, count in (("signup", 3), ("page_view", 1)):
        for _ in range(count):
            assert ingest(client, secret, address=HOME, names=[name]) == 204
    with django_capture_on_commit_callbacks(execute=True):
        services.api_key_set_allowed_events(
            key=write_only, mode="specific", names=["signup"], by=SYSTEM
        )
    assert ingest(client, secret, address=HOME, names=["page_view"]) == 403
    flushed()
    html = admin_web.get(key_page(write_only)).content.decode()
    events = _section(html, "events")
    chips = re.findall(r'value="(\w+)" data-count="(\d+)"', events)
    assert chips == [("signup", "3"), ("page_view", "2")]  # sent by this key, busiest first
    rejected = _section(html, "rejected")
    assert re.search(r"<code>page_view</code></td>\s*<td[^>]*>1</td>", rejected)
    assert "POST /event/ingest/batch" in rejected
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_web.post(action_url("key_event_allow", write_only), {"name": "page_view"})
    assert response["Location"] == key_page(write_only, "events")
    write_only.refresh_from_db()
    assert write_only.allowed_events == ["signup", "page_view"]
    assert ingest(client, secret, address=HOME, names=["page_view"]) == 204


def test_limiting_events_previews_then_monitors(
    client, admin_web, secret, write_only, django_capture_on_commit_callbacks
):
    for name in ("signup", "page_view", "page_view"):
        assert ingest(client, secret, address=HOME, names=[name]) == 204
    flushed()
    data = {"events_mode": "specific", "allowed_events": ["signup"]}
    preview = admin_web.post(action_url("key_allowed_events", write_only), data)
    assert preview.status_code == 200
    html = preview.content.decode()
    assert (
        "With these rules, 2 of 3 events in the last 7 days, from 1 name, would have been" in html
    )
    previewed = re.search(r'name="previewed" value="([^"]*)"', html)[1]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_web.post(
            action_url("key_allowed_events", write_only),
            {**data, "step": "monitor", "previewed": previewed},
        )
    assert response.status_code == 302
    write_only.refresh_from_db()
    assert (write_only.events_mode, write_only.event_enforcement) == ("specific", "monitor")
    assert ingest(client, secret, address=HOME, names=["page_view"]) == 204  # monitored


def test_end_a_previous_secret_now(
    client, admin_web, secret, write_only, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.api_key_roll(key=write_only, grace="7d", by=SYSTEM)
    assert ingest(client, secret, address=HOME) == 204  # the old secret, in its grace
    flushed()
    old = write_only.secrets.get(retires_at__isnull=False)
    html = _section(admin_web.get(key_page(write_only)).content.decode(), "secrets")
    row = html.split(old.mask)[1].split("</tr>")[0]
    assert re.search(r'data-label="Last used"><time', row)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_web.post(action_url("secret_end_now", write_only, secret_id=old.pk))
    assert response["Location"] == key_page(write_only, "secrets")
    assert last_audit().action == "key_secret.end_now"
    assert ingest(client, secret, address=HOME) == 401
