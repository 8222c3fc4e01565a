"""Monitor or enforce, restrict with first addresses in one save, end a previous secret now."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apikeys import services
from apikeys.models import ApiKey, IpRule, KeySecret
from apikeys.restrict_services import (
    api_key_access_set,
    api_key_enforcement_set,
    key_secret_end_now,
)
from workspaces.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(created) -> ApiKey:
    return created.keys["readWrite"].key


def _codes(error: ValidationError) -> set[str]:
    return {e.code for errors in error.error_dict.values() for e in errors}


def test_restrict_with_first_addresses_in_one_save(key, actor):
    api_key_access_set(
        key=key,
        mode="specific",
        rules=["203.0.113.10", ("198.51.100.0/24", "office"), "203.0.113.10/32"],
        enforcement="monitor",
        by=actor,
    )
    key.refresh_from_db()
    assert (key.access_mode, key.address_enforcement) == ("specific", "monitor")
    assert list(key.ip_rules.values_list("network", "description")) == [
        ("203.0.113.10/32", ""),
        ("198.51.100.0/24", "office"),
    ]
    audit = AuditEvent.objects.get(action="api_key.set_access")
    assert audit.changes["added"] == ["203.0.113.10/32", "198.51.100.0/24"]
    assert audit.changes["after"] == {"mode": "specific", "enforcement": "monitor"}
    assert audit.actor_label == "alice"


@pytest.mark.parametrize(
    ("rules", "enforcement", "field", "code"),
    [
        ([], None, "access_mode", "no_rules"),
        (["203.0.113.10", "not an address"], None, "rules", "invalid"),
        (["0.0.0.0/0"], None, "rules", "everything"),
        (["203.0.113.10"], "sometimes", "enforcement", "invalid"),
        ([("203.0.113.10", "x" * 201)], None, "rules", "max_length"),
    ],
)
def test_a_bad_restriction_writes_nothing(key, actor, rules, enforcement, field, code):
    with pytest.raises(ValidationError) as raised:
        api_key_access_set(key=key, mode="specific", rules=rules, enforcement=enforcement, by=actor)
    assert field in raised.value.error_dict
    assert code in _codes(raised.value)
    key.refresh_from_db()
    assert (key.access_mode, key.address_enforcement) == ("anywhere", "enforce")
    assert not IpRule.objects.exists()
    assert not AuditEvent.objects.filter(action="api_key.set_access").exists()


def test_enforcement_switch_is_audited_and_validated(key, actor):
    api_key_enforcement_set(key=key, which="events", mode="monitor", by=actor)
    api_key_enforcement_set(key=key, which="events", mode="monitor", by=actor)  # no change
    api_key_enforcement_set(key=key, which="addresses", mode="monitor", by=actor)
    key.refresh_from_db()
    assert (key.address_enforcement, key.event_enforcement) == ("monitor", "monitor")
    changes = [
        event.changes
        for event in AuditEvent.objects.filter(action="api_key.set_enforcement").order_by("id")
    ]
    assert changes == [
        {"list": "events", "before": "enforce", "after": "monitor"},
        {"list": "addresses", "before": "enforce", "after": "monitor"},
    ]
    for which, mode in [("cookies", "monitor"), ("events", "maybe")]:
        with pytest.raises(ValidationError):
            api_key_enforcement_set(key=key, which=which, mode=mode, by=actor)


def test_metrics_keys_have_no_event_list_to_monitor(created, actor):
    metrics = created.keys["metrics"].key
    with pytest.raises(ValidationError) as raised:
        api_key_enforcement_set(key=metrics, which="events", mode="monitor", by=actor)
    assert raised.value.code == "wrong_kind"


def test_end_now_ends_a_previous_secret_in_grace_only(key, actor):
    services.api_key_roll(key=key, grace="7d", by=actor)
    old = key.secrets.get(retires_at__isnull=False)
    current = key.secrets.get(retires_at__isnull=True)

    with pytest.raises(ValidationError) as raised:
        key_secret_end_now(secret=current, by=actor)
    assert raised.value.code == "current_secret"

    ended = key_secret_end_now(secret=old, by=actor)
    assert ended.retires_at <= timezone.now()
    audit = AuditEvent.objects.get(action="key_secret.end_now")
    assert audit.changes["mask"] == old.mask

    with pytest.raises(ValidationError) as raised:
        key_secret_end_now(secret=old, by=actor)
    assert raised.value.code == "already_ended"


def test_end_now_refuses_a_revoked_key(key, actor):
    services.api_key_roll(key=key, grace="24h", by=actor)
    old = key.secrets.get(retires_at__isnull=False)
    services.api_key_revoke(key=key, by=actor)
    with pytest.raises(ValidationError) as raised:
        key_secret_end_now(secret=old, by=actor)
    assert raised.value.code == "revoked"
    assert KeySecret.objects.get(pk=old.pk).retires_at > timezone.now() + timedelta(hours=23)
