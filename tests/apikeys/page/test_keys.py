"""Adding, rolling and revoking keys from the page; a new secret is shown once and never again."""

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from apikeys import crypto, services
from apikeys.models import ApiKey, KeySecret
from core.actors import SYSTEM
from tests.apikeys.page.helpers import PAGE, action_url, key_page, last_audit, stored_state

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"uf_(?:wo|rw|mk|cs)_[0-9A-Za-z]{38}")


def shown_secret(response) -> str:
    """The one whole secret on a page (the one-time page shows exactly one per role)."""
    found = SECRET.findall(response.content.decode())
    assert len(found) == 1, found
    return found[0]


def assert_secret_gone(client, secret: str, key: ApiKey) -> None:
    """The secret is in no later page, message, session value or cookie; its mask is."""
    for url in (PAGE, key_page(key)):
        page = client.get(url)
        assert page.status_code == 200
        assert secret not in page.content.decode()
        assert all(secret not in str(message) for message in get_messages(page.wsgi_request))
        assert all(secret not in str(value) for value in client.session.values())
        assert all(secret not in morsel.value for morsel in client.cookies.values())
        assert crypto.secret_mask(secret) in page.content.decode()


# Add a key


def test_create_shows_the_secret_once_never_cached(admin_web, workspace):
    response = admin_web.post(action_url("key_create"), {"name": "Website", "kind": "write_only"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert not response.cookies.get("messages")
    secret = shown_secret(response)
    key = ApiKey.objects.get(workspace=workspace, name="Website")
    assert key.kind == ApiKey.Kind.WRITE_ONLY
    assert key.secrets.get().hash == crypto.secret_hash(secret)
    audit = last_audit()
    assert (audit.action, audit.actor_label, audit.actor_ip) == (
        "api_key.create",
        "alice",
        "127.0.0.1",
    )
    assert secret not in str(audit.changes)
    assert_secret_gone(admin_web, secret, key)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "kind": "write_only"}, "Give the key a name"),
        ({"name": "   ", "kind": "write_only"}, "Give the key a name"),
        ({"name": "x" * 101, "kind": "write_only"}, "at most 100 characters"),
        ({"name": "Backend", "kind": "admin"}, "Select a valid choice"),
    ],
)
def test_create_refuses_bad_input_and_keeps_it(admin_web, data, message):
    before = stored_state()
    response = admin_web.post(action_url("key_create"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'id="add-key' in html and 'aria-invalid="true"' in html
    assert stored_state() == before


def test_create_refuses_a_second_metrics_pair(admin_web):
    before = stored_state()
    response = admin_web.post(action_url("key_create"), {"name": "Metrics 2", "kind": "metrics"})
    assert response.status_code == 400
    assert "already has a live Metrics key" in response.content.decode()
    assert stored_state() == before


def test_create_sent_twice_adds_one_key(admin_web, workspace):
    page = admin_web.get(PAGE).content.decode()
    after = re.search(r'name="after" value="(\d+)"', page)[1]
    data = {"name": "Website", "kind": "write_only", "after": after}
    assert admin_web.post(action_url("key_create"), data).status_code == 200
    again = admin_web.post(action_url("key_create"), data)
    assert again.status_code == 302
    assert ApiKey.objects.filter(workspace=workspace, name="Website").count() == 1
    assert SECRET.search(admin_web.get(again["Location"]).content.decode()) is None


def test_metrics_pair_can_be_created_when_none_is_live(admin_web, metrics, workspace):
    services.api_key_revoke(key=metrics, by=SYSTEM)
    page = admin_web.get(PAGE).content.decode()
    assert "no live Metrics credentials" in page
    response = admin_web.post(action_url("key_create"), {"name": "Metrics API", "kind": "metrics"})
    assert response.status_code == 200
    found = SECRET.findall(response.content.decode())
    assert sorted(secret[:6] for secret in found) == ["uf_cs_", "uf_mk_"]


# Roll


def test_roll_without_grace_shows_the_new_secret_once(admin_web, write_only, created):
    old = write_only.secrets.get()
    current = str(old.pk)
    response = admin_web.post(
        action_url("key_roll", write_only),
        {"grace": "none", "role": "primary", "current": current, "confirm": "yes"},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = shown_secret(response)
    assert secret.startswith("uf_wo_")
    assert "stopped working now" in response.content.decode()
    old.refresh_from_db()
    assert old.retires_at <= timezone.now()
    assert write_only.secrets.get(retires_at__isnull=True).hash == crypto.secret_hash(secret)
    audit = last_audit()
    assert audit.action == "api_key.roll"
    assert audit.changes["grace"] == "none"
    assert audit.actor_ip == "127.0.0.1"
    assert_secret_gone(admin_web, secret, write_only)


def test_roll_sent_twice_rolls_once(admin_web, write_only):
    data = {
        "grace": "1h",
        "role": "primary",
        "current": str(write_only.secrets.get().pk),
        "confirm": "yes",
    }
    first = admin_web.post(action_url("key_roll", write_only), data)
    secret = shown_secret(first)
    again = admin_web.post(action_url("key_roll", write_only), data)
    assert again.status_code == 302
    assert again["Location"] == key_page(write_only, "secrets")
    assert write_only.secrets.count() == 2
    page = admin_web.get(again["Location"]).content.decode()
    assert "already rolled" in page
    assert secret not in page


def test_roll_with_grace_shows_rolling_until(admin_web, write_only):
    old = write_only.secrets.get()
    admin_web.post(
        action_url("key_roll", write_only),
        {"grace": "24h", "role": "primary", "current": str(old.pk), "confirm": "yes"},
    )
    old.refresh_from_db()
    assert timedelta(hours=23) < old.retires_at - timezone.now() <= timedelta(hours=24)
    page = admin_web.get(key_page(write_only)).content.decode()
    assert f"rolling until {old.retires_at:%Y-%m-%d %H:%M} UTC" in page
    assert old.mask in page


def test_roll_metrics_client_secret_only(admin_web, metrics):
    api_key = metrics.secrets.get(role=KeySecret.Role.PRIMARY)
    response = admin_web.post(
        action_url("key_roll", metrics),
        {"grace": "none", "role": "client_secret", "confirm": "yes"},
    )
    assert response.status_code == 200
    assert shown_secret(response).startswith("uf_cs_")
    assert "Client secret" in response.content.decode()
    assert metrics.secrets.get(role=KeySecret.Role.PRIMARY, retires_at__isnull=True) == api_key


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"grace": "forever", "role": "primary", "confirm": "yes"}, "Select a valid choice"),
        ({"role": "primary", "confirm": "yes"}, "Choose how long the old secret stays valid"),
        (
            {"grace": "none", "role": "client_secret", "confirm": "yes"},
            "This key has no such secret",
        ),
    ],
)
def test_roll_refuses_bad_input(admin_web, write_only, data, message):
    before = stored_state()
    response = admin_web.post(action_url("key_roll", write_only), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert SECRET.search(response.content.decode()) is None
    assert stored_state() == before


def test_roll_of_a_revoked_key_is_refused(admin_web, write_only):
    services.api_key_revoke(key=write_only, by=SYSTEM)
    before = stored_state()
    response = admin_web.post(
        action_url("key_roll", write_only), {"grace": "none", "confirm": "yes"}
    )
    assert response.status_code == 400
    assert "revoked keys cannot be changed" in response.content.decode()
    assert stored_state() == before


def test_roll_without_confirmation_restates_the_key_and_the_grace(admin_web, write_only):
    old = write_only.secrets.get()
    services.api_key_roll(key=write_only, grace="7d", by=SYSTEM)
    before = stored_state()
    response = admin_web.post(
        action_url("key_roll", write_only), {"grace": "none", "role": "primary"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Roll the secret key of “Write-Only key” (Write-Only)?" in html
    assert "every client still using it is refused from this moment" in html
    assert f"Older secret keys still in their grace ({old.mask}) are cut to the new grace" in html
    assert 'name="confirm" value="yes"' in html and 'name="grace" value="none"' in html
    assert stored_state() == before


@pytest.mark.parametrize(
    ("grace", "said"), [("1h", "1 hour"), ("24h", "24 hours"), ("7d", "7 days")]
)
def test_the_roll_dialog_of_each_grace_says_how_long(admin_web, write_only, grace, said):
    html = admin_web.get(key_page(write_only)).content.decode()
    option = re.search(rf'<option value="{grace}" data-confirm="([^"]+)"', html)[1]
    assert "“Write-Only key”" in option
    assert f"keeps working for {said}, then stops." in option


# Name and expiry


def test_rename_lands_on_the_summary(admin_web, write_only):
    response = admin_web.post(action_url("key_rename", write_only), {"name": " Website "})
    assert response["Location"] == key_page(write_only, "summary")
    write_only.refresh_from_db()
    assert write_only.name == "Website"
    assert (last_audit().action, last_audit().changes) == (
        "api_key.rename",
        {"before": "Write-Only key", "after": "Website"},
    )
    html = admin_web.get(response["Location"]).content.decode()
    assert "Renamed “Write-Only key” to “Website”." in html.split('id="summary"')[1]


def test_live_keys_cannot_share_a_name(admin_web, write_only, read_write):
    before = stored_state()
    response = admin_web.post(action_url("key_rename", write_only), {"name": "read & WRITE key"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="rename-error" role="alert"' in html
    assert "Another live key of this workspace is called" in html
    created = admin_web.post(
        action_url("key_create"), {"name": "Write-Only key", "kind": "write_only"}
    )
    assert created.status_code == 400
    assert "Another live key of this workspace is called" in created.content.decode()
    assert stored_state() == before
    # A revoked key's name is free again.
    services.api_key_revoke(key=read_write, by=SYSTEM)
    assert (
        admin_web.post(
            action_url("key_rename", write_only), {"name": "Read & Write key"}
        ).status_code
        == 302
    )


def test_expiry_set_and_cleared(admin_web, write_only):
    response = admin_web.post(
        action_url("key_expiry", write_only), {"expires_at": "2099-01-31T18:00"}
    )
    assert response["Location"] == key_page(write_only, "summary")
    write_only.refresh_from_db()
    assert write_only.expires_at.isoformat() == "2099-01-31T18:00:00+00:00"
    assert (
        "stops working at 2099-01-31 18:00 UTC"
        in admin_web.get(response["Location"]).content.decode()
    )
    admin_web.post(action_url("key_expiry", write_only), {"expires_at": "", "clear": "1"})
    write_only.refresh_from_db()
    assert write_only.expires_at is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Enter a date and time"),
        ("soon", "Enter a date and time"),
        ("2001-01-01T00:00", "in the future"),
    ],
)
def test_a_refused_expiry_is_explained(admin_web, write_only, value, message):
    before = stored_state()
    response = admin_web.post(action_url("key_expiry", write_only), {"expires_at": value})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html.split('id="expiry-error"')[1].split("</div>")[0]
    assert stored_state() == before


# Revoke


def test_revoke_without_confirmation_asks_first(admin_web, write_only):
    before = stored_state()
    response = admin_web.post(action_url("key_revoke", write_only))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Revoke “Write-Only key”?" in html
    assert 'name="confirm" value="yes"' in html
    assert stored_state() == before


def test_revoke_confirmed(admin_web, write_only):
    response = admin_web.post(action_url("key_revoke", write_only), {"confirm": "yes"})
    assert response.status_code == 302
    assert response["Location"] == PAGE
    write_only.refresh_from_db()
    assert write_only.revoked_at is not None
    assert last_audit().action == "api_key.revoke"
    page = admin_web.get(PAGE).content.decode()
    assert "is revoked" in page
    assert "Revoked keys (1)" in page
    key_html = admin_web.get(key_page(write_only)).content.decode()
    assert 'class="state state--revoked">revoked<' in key_html
    assert f"/keys/{write_only.pk}/roll/" not in key_html  # no controls for a revoked key


def test_revoke_twice_is_refused(admin_web, write_only):
    services.api_key_revoke(key=write_only, by=SYSTEM)
    before = stored_state()
    response = admin_web.post(action_url("key_revoke", write_only), {"confirm": "yes"})
    assert response.status_code == 400
    assert "revoked keys cannot be changed" in response.content.decode()
    assert stored_state() == before
