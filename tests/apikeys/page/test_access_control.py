"""A key's address list from the page: add, remove, Anywhere or Specific, allow a refusal."""

import re

import pytest
from django.utils import timezone

from apikeys import restrict_services, services
from apikeys.models import ApiKey, RejectedCall
from core.actors import SYSTEM
from tests.apikeys.page.helpers import action_url, key_page, last_audit, stored_state
from tests.apikeys.usage_helpers import flushed, ingest

pytestmark = pytest.mark.django_db


def test_add_an_address_with_a_description(admin_web, write_only):
    response = admin_web.post(
        action_url("ip_rule_add", write_only),
        {"network": " 203.0.113.7 ", "description": "Office VPN"},
    )
    assert response.status_code == 302
    assert response["Location"] == key_page(write_only, "access")
    rule = write_only.ip_rules.get()
    assert (rule.network, rule.description) == ("203.0.113.7/32", "Office VPN")
    audit = last_audit()
    assert (audit.action, audit.actor_label, audit.actor_ip) == (
        "ip_rule.add",
        "alice",
        "127.0.0.1",
    )
    assert audit.changes == {"network": "203.0.113.7/32", "description": "Office VPN"}
    page = admin_web.get(response["Location"]).content.decode()
    assert "Added 203.0.113.7/32 to “Write-Only key”" in page
    assert "<code>203.0.113.7/32</code>" in page and "Office VPN" in page
    assert "apply only once “Specific locations” is chosen" in page


def test_the_audit_records_the_proxy_aware_client_address(admin_web, write_only, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    admin_web.post(
        action_url("ip_rule_add", write_only),
        {"network": "203.0.113.7"},
        HTTP_X_FORWARDED_FOR="198.51.100.23",
    )
    assert last_audit().actor_ip == "198.51.100.23"


def test_an_untrusted_forwarded_for_is_ignored(admin_web, write_only):
    admin_web.post(
        action_url("ip_rule_add", write_only),
        {"network": "203.0.113.7"},
        HTTP_X_FORWARDED_FOR="198.51.100.23",
    )
    assert last_audit().actor_ip == "127.0.0.1"


@pytest.mark.parametrize(
    ("network", "message"),
    [
        ("", "Enter an IP address or network."),
        ("not-an-ip", "is not an IPv4 or IPv6 address or network"),
        ("10.0.0.1/8", "has host bits set. Did you mean 10.0.0.0/8?"),
        ("0.0.0.0/0", "would allow every address; choose “Anywhere” instead."),
        ("::/0", "would allow every address"),
        ("198.51.100.0/24", "198.51.100.0/24 is already on this key"),
    ],
)
def test_a_refused_address_is_explained_next_to_the_field(admin_web, write_only, network, message):
    services.ip_rule_add(key=write_only, network="198.51.100.0/24", by=SYSTEM)
    before = stored_state()
    response = admin_web.post(
        action_url("ip_rule_add", write_only), {"network": network, "description": "kept"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    field = "access-network"
    assert f'id="{field}-error" role="alert"' in html
    assert message in html.split(f'id="{field}-error"')[1].split("</div>")[0]
    assert f'aria-describedby="{field}-help {field}-error"' in html
    assert f'value="{network}"' in html and 'value="kept"' in html
    assert stored_state() == before


def test_a_description_too_long_is_refused(admin_web, write_only):
    before = stored_state()
    response = admin_web.post(
        action_url("ip_rule_add", write_only), {"network": "203.0.113.7", "description": "d" * 201}
    )
    assert response.status_code == 400
    assert "200 characters or fewer" in response.content.decode()
    assert stored_state() == before


def test_remove_an_address(admin_web, write_only):
    rule = services.ip_rule_add(key=write_only, network="203.0.113.7", by=SYSTEM)
    response = admin_web.post(action_url("ip_rule_remove", write_only, rule_id=rule.pk))
    assert response.status_code == 302
    assert not write_only.ip_rules.exists()
    assert (last_audit().action, last_audit().changes["network"]) == (
        "ip_rule.remove",
        "203.0.113.7/32",
    )


def test_the_last_address_of_a_specific_key_stays(admin_web, write_only):
    rule = services.ip_rule_add(key=write_only, network="203.0.113.7", by=SYSTEM)
    services.api_key_set_access_mode(key=write_only, mode="specific", by=SYSTEM)
    before = stored_state()
    response = admin_web.post(action_url("ip_rule_remove", write_only, rule_id=rule.pk))
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="access-remove-errors" role="alert"' in html
    assert "This is the key&#x27;s last address" in html
    assert stored_state() == before


def test_remove_of_another_keys_rule_is_404(admin_web, write_only, read_write):
    rule = services.ip_rule_add(key=read_write, network="203.0.113.7", by=SYSTEM)
    before = stored_state()
    response = admin_web.post(action_url("ip_rule_remove", write_only, rule_id=rule.pk))
    assert response.status_code == 404
    assert stored_state() == before


def test_specific_with_no_address_is_refused_next_to_the_choice(admin_web, write_only):
    before = stored_state()
    response = admin_web.post(
        action_url("key_access_mode", write_only), {"access_mode": "specific"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    error_id = "access-mode-error"
    assert f'id="{error_id}" role="alert"' in html
    assert "Add at least one IP address before choosing “Specific locations”" in html
    # The admin's choice is kept, and the focus lands on it with the error attached.
    chosen = r'value="specific" checked autofocus\s+aria-invalid="true"\s+aria-describedby='
    assert re.search(chosen + f'"{error_id}"', html)
    assert stored_state() == before


def test_specific_with_an_address_is_previewed_then_enforced(admin_web, write_only):
    services.ip_rule_add(key=write_only, network="203.0.113.7", by=SYSTEM)
    before = stored_state()
    preview = admin_web.post(action_url("key_access_mode", write_only), {"access_mode": "specific"})
    assert preview.status_code == 200
    assert "With these rules, none of the 0 calls in the last 7 days" in preview.content.decode()
    assert stored_state() == before
    response = admin_web.post(
        action_url("key_access_mode", write_only),
        {"access_mode": "specific", "step": "enforce", "previewed": "203.0.113.7/32"},
    )
    assert response.status_code == 302
    write_only.refresh_from_db()
    assert write_only.access_mode == ApiKey.AccessMode.SPECIFIC
    assert last_audit().changes["after"] == {"mode": "specific", "enforcement": "enforce"}
    assert (
        "only from the addresses on its list"
        in admin_web.get(response["Location"]).content.decode()
    )


def test_an_unknown_access_mode_is_refused(admin_web, write_only):
    before = stored_state()
    response = admin_web.post(action_url("key_access_mode", write_only), {"access_mode": "mars"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert stored_state() == before


def test_metrics_has_its_own_address_list(admin_web, metrics, write_only):
    response = admin_web.post(action_url("ip_rule_add", metrics), {"network": "2001:db8::1"})
    assert response.status_code == 302
    assert metrics.ip_rules.get().network == "2001:db8::1/128"
    assert not write_only.ip_rules.exists()


# Recently rejected calls


def _rejected(key, reason: str, ip: str | None) -> RejectedCall:
    return RejectedCall.objects.create(
        workspace=key.workspace,
        key=key,
        client_ip=ip,
        reason=reason,
        method="POST",
        path="/event/ingest",
        created_at=timezone.now(),
    )


def test_rejected_calls_offer_to_allow_a_refused_address(
    client, admin_web, created, write_only, django_capture_on_commit_callbacks
):
    secret = created.secrets()["writeOnly"]
    with django_capture_on_commit_callbacks(execute=True):
        restrict_services.api_key_access_set(
            key=write_only, mode="specific", rules=["198.51.100.0/24"], by=SYSTEM
        )
        services.api_key_set_allowed_events(
            key=write_only, mode="specific", names=["signup"], by=SYSTEM
        )
    assert ingest(client, secret, address="203.0.113.9") == 403
    assert ingest(client, secret, address="198.51.100.20", names=["purchase"]) == 403
    flushed()
    html = admin_web.get(key_page(write_only)).content.decode()
    rejected = html.split('<section id="rejected"')[1]
    assert "Address not on the key&#x27;s list" in rejected
    assert "Event name not allowed for this key" in rejected
    assert 'aria-label="Allow this address: 203.0.113.9"' in rejected
    assert 'data-confirm="Allow 203.0.113.9 to use “Write-Only key”?' in rejected
    assert "Allow this address: 198.51.100.20" not in rejected  # already covered by a rule
    assert 'aria-label="Allow this event: purchase"' in rejected

    response = admin_web.post(
        action_url("ip_rule_add", write_only),
        {"network": "203.0.113.9", "description": "Allowed from a rejected call"},
    )
    assert response.status_code == 302
    assert write_only.ip_rules.filter(network="203.0.113.9/32").exists()
    assert (
        "Allow this address: 203.0.113.9"
        not in admin_web.get(key_page(write_only)).content.decode()
    )


def test_rejected_calls_of_other_workspaces_are_not_shown(admin_web, other_created, write_only):
    _rejected(other_created.keys["writeOnly"].key, "ip_not_allowed", "203.0.113.66")
    assert "203.0.113.66" not in admin_web.get(key_page(write_only)).content.decode()


def test_member_sees_rejected_calls_without_the_button(member_web, write_only):
    _rejected(write_only, "ip_not_allowed", "203.0.113.9")
    html = member_web.get(key_page(write_only)).content.decode()
    assert "203.0.113.9" in html
    assert "Allow this address" not in html
