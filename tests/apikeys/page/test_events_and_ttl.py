"""Allowed profile events (chips) and the Metrics cache TTL, set from the page."""

import re

import pytest

from apikeys import services
from apikeys.models import ApiKey
from core.actors import SYSTEM
from tests.apikeys.page.helpers import action_url, key_page, last_audit, stored_state

pytestmark = pytest.mark.django_db


def chips(html: str, key: ApiKey) -> dict[str, bool]:
    """The chips of a key's events form: name -> switched on."""
    section = html.split('id="events"')[1].split("</section>")[0]
    found = re.findall(
        r'<input type="checkbox" name="allowed_events" value="([^"]+)"([^>]*)>', section
    )
    return {name: "checked" in rest for name, rest in found}


def test_chips_show_the_catalogue_and_the_allowed_names(admin_web, write_only, catalogue):
    services.api_key_set_allowed_events(
        key=write_only, mode="specific", names=["signup", "legacy_event"], by=SYSTEM
    )
    html = admin_web.get(key_page(write_only)).content.decode()
    assert chips(html, write_only) == {
        "legacy_event": True,
        "page_view": False,
        "purchase": False,
        "signup": True,
    }


def test_chips_of_other_workspaces_are_not_shown(admin_web, write_only, other_created):
    services.api_key_set_allowed_events(
        key=other_created.keys["writeOnly"].key, mode="specific", names=["secret_op"], by=SYSTEM
    )
    assert "secret_op" not in admin_web.get(key_page(write_only)).content.decode()


def test_allow_chosen_and_new_names(admin_web, write_only, catalogue):
    response = admin_web.post(
        action_url("key_allowed_events", write_only),
        {
            "events_mode": "specific",
            "allowed_events": ["signup", "purchase"],
            "new_names": "checkout  signup\tcart_viewed",
            "step": "enforce",
            "previewed": "cart_viewed checkout purchase signup",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == key_page(write_only, "events")
    write_only.refresh_from_db()
    assert write_only.events_mode == ApiKey.EventsMode.SPECIFIC
    assert write_only.allowed_events == ["signup", "purchase", "checkout", "cart_viewed"]
    audit = last_audit()
    assert audit.action == "api_key.set_allowed_events"
    assert audit.changes["after"]["names"] == write_only.allowed_events
    html = admin_web.get(response["Location"]).content.decode()
    assert "now accepts only these events: signup, purchase, checkout, cart_viewed." in html
    assert chips(html, write_only)["cart_viewed"] is True


def test_all_events_and_back_keeps_the_curated_list(admin_web, write_only, catalogue):
    services.api_key_set_allowed_events(key=write_only, mode="specific", names=["a"], by=SYSTEM)
    response = admin_web.post(
        action_url("key_allowed_events", write_only),
        {"events_mode": "all", "allowed_events": ["a"]},
    )
    assert response.status_code == 302
    write_only.refresh_from_db()
    assert (write_only.events_mode, write_only.allowed_events) == ("all", ["a"])
    # The chips still show the list, switched on, ready for "Specific" again.
    assert chips(admin_web.get(key_page(write_only)).content.decode(), write_only)["a"] is True


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"events_mode": "specific"}, "Choose at least one event, or allow all profile events."),
        (
            {"events_mode": "specific", "new_names": "bad\x07name"},
            "has whitespace or a control character in it",
        ),
        (
            {"events_mode": "specific", "new_names": "x" * 201},
            "Event names are at most 200 characters.",
        ),
        ({"events_mode": "some", "allowed_events": ["signup"]}, "Select a valid choice"),
    ],
)
def test_refused_event_lists_keep_the_input(admin_web, write_only, catalogue, data, message):
    before = stored_state()
    response = admin_web.post(action_url("key_allowed_events", write_only), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'aria-invalid="true"' in html
    assert stored_state() == before


def test_refused_event_list_keeps_the_chips_as_chosen(admin_web, write_only, catalogue):
    response = admin_web.post(
        action_url("key_allowed_events", write_only),
        {"events_mode": "specific", "allowed_events": ["purchase"], "new_names": "ok bad\x07"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert chips(html, write_only)["purchase"] is True
    assert chips(html, write_only)["signup"] is False
    assert 'name="new_names" value="ok bad\x07"' in html


def test_metrics_key_has_no_allowed_events(admin_web, metrics):
    before = stored_state()
    response = admin_web.post(
        action_url("key_allowed_events", metrics),
        {"events_mode": "specific", "allowed_events": ["signup"]},
    )
    assert response.status_code == 400
    assert "Only Integration keys have allowed events." in response.content.decode()
    assert stored_state() == before


# Metrics cache TTL


def test_cache_ttl_below_five_is_refused_with_a_clear_message(admin_web, metrics):
    before = stored_state()
    response = admin_web.post(action_url("metrics_cache_ttl", metrics), {"cache_ttl_minutes": "3"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="ttl-error" role="alert"' in html
    assert "The cache TTL must be at least 5 and at most 10,080 minutes (7 days)." in html
    assert re.search(r'step="1" min="5" max="10080"\s+value="3"', html)
    assert "the 7-day maximum" in html
    assert stored_state() == before


@pytest.mark.parametrize(
    ("value", "message"),
    [("", "Enter the cache TTL in minutes."), ("ten", "Enter a whole number of minutes")],
)
def test_cache_ttl_must_be_a_number(admin_web, metrics, value, message):
    before = stored_state()
    response = admin_web.post(
        action_url("metrics_cache_ttl", metrics), {"cache_ttl_minutes": value}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert stored_state() == before


def test_cache_ttl_of_ten(admin_web, metrics):
    response = admin_web.post(action_url("metrics_cache_ttl", metrics), {"cache_ttl_minutes": "10"})
    assert response.status_code == 302
    assert response["Location"] == key_page(metrics, "cache")
    metrics.refresh_from_db()
    assert metrics.cache_ttl_minutes == 10
    audit = last_audit()
    assert (audit.action, audit.changes) == ("metrics.set_cache_ttl", {"before": 5, "after": 10})
    html = admin_web.get(response["Location"]).content.decode()
    section = html.split('id="cache"')[1]
    assert 'id="cache-feedback"' in section
    assert "Metrics results are now cached for 10 minutes." in section


def test_an_integration_key_has_no_cache_ttl(admin_web, write_only):
    before = stored_state()
    response = admin_web.post(
        action_url("metrics_cache_ttl", write_only), {"cache_ttl_minutes": "10"}
    )
    assert response.status_code == 400
    assert "Only the Metrics key has a cache TTL." in response.content.decode()
    assert stored_state() == before
