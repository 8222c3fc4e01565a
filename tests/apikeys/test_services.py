"""Key services: every validation error, every audit row, roll grace, revoke and expiry."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apikeys import crypto, keycache
from apikeys.models import ApiKey, IpRule, KeySecret
from apikeys.services import (
    api_key_create,
    api_key_revoke,
    api_key_roll,
    api_key_set_access_mode,
    api_key_set_allowed_events,
    api_key_set_expiry,
    ip_rule_add,
    ip_rule_remove,
    metrics_cache_ttl_set,
)
from workspaces.models import AuditEvent

pytestmark = pytest.mark.django_db


def _key(workspace, kind):
    return ApiKey.objects.get(workspace=workspace, kind=kind)


def _refusal(secret, *, later=timedelta(0)):
    """What the one lifecycle function says of a secret, now or some time from now."""
    keycache.key_config_changed()
    snapshot = keycache.snapshot_for_hash(crypto.secret_hash(secret))
    assert snapshot is not None
    return snapshot.refusal(timezone.now() + later)


def _error_codes(caught) -> set[str]:
    error = caught.value
    if hasattr(error, "error_dict"):
        return {e.code for errors in error.error_dict.values() for e in errors}
    return {e.code for e in error.error_list}


def test_workspace_create_makes_three_keys_and_audits_each(created):
    workspace = created.workspace
    kinds = sorted(workspace.api_keys.values_list("kind", flat=True))
    assert kinds == ["metrics", "read_write", "write_only"]
    secrets = created.secrets()
    assert secrets["writeOnly"].startswith("uf_wo_")
    assert secrets["readWrite"].startswith("uf_rw_")
    assert secrets["metricsApiKey"].startswith("uf_mk_")
    assert secrets["metricsClientSecret"].startswith("uf_cs_")
    for secret in secrets.values():
        assert crypto.secret_kind(secret) is not None
        assert KeySecret.objects.filter(hash=crypto.secret_hash(secret)).exists()
        assert _refusal(secret) is None
    actions = list(workspace.audit_events.values_list("action", flat=True))
    assert sorted(actions) == ["api_key.create"] * 3 + ["workspace.create"]


def test_no_secret_is_stored_anywhere_in_the_database(created):
    from django.db import connection

    secrets = created.secrets().values()
    tables = connection.introspection.table_names()
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')
            dump = repr(cursor.fetchall())
            for secret in secrets:
                assert secret not in dump, table
                assert secret[6:-4] not in dump, table


def test_duplicate_slug_is_refused(created):
    from apikeys.provisioning import workspace_provision
    from core.actors import SYSTEM

    with pytest.raises(ValidationError):
        workspace_provision(name="Again", slug="acme", by=SYSTEM)


def test_a_second_live_metrics_pair_is_refused_in_code_and_in_the_database(workspace, actor):
    with pytest.raises(ValidationError) as caught:
        api_key_create(workspace=workspace, kind=ApiKey.Kind.METRICS, name="Again", by=actor)
    assert _error_codes(caught) == {"metrics_key_exists"}
    assert workspace.api_keys.filter(kind="metrics").count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.create(
            workspace=workspace, kind="metrics", name="Sneaky", created_at=timezone.now()
        )


def test_after_revoking_the_metrics_pair_a_new_one_can_be_made(workspace, actor):
    api_key_revoke(key=_key(workspace, "metrics"), by=actor)
    issued = api_key_create(workspace=workspace, kind="metrics", name="New pair", by=actor)
    assert set(issued.secrets) == {"primary", "client_secret"}


def test_integration_keys_can_be_added(workspace, actor):
    issued = api_key_create(workspace=workspace, kind="write_only", name="Web site", by=actor)
    assert issued.secrets["primary"].startswith("uf_wo_")
    event = AuditEvent.objects.get(action="api_key.create", target_id=str(issued.key.pk))
    assert event.actor == actor.user and event.actor_ip == "198.51.100.7"
    assert event.changes["masks"] == [crypto.secret_mask(issued.secrets["primary"])]


@pytest.mark.parametrize(
    ("kind", "name"), [("admin", "x"), ("write_only", ""), ("write_only", "x" * 101)]
)
def test_bad_key_input_is_refused(workspace, actor, kind, name):
    before = ApiKey.objects.count()
    with pytest.raises(ValidationError):
        api_key_create(workspace=workspace, kind=kind, name=name, by=actor)
    assert ApiKey.objects.count() == before


@pytest.mark.parametrize(
    ("grace", "valid_for"),
    [
        ("none", timedelta(0)),
        ("1h", timedelta(hours=1)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
    ],
)
def test_roll_keeps_the_old_secret_for_the_grace_only(created, actor, grace, valid_for):
    old = created.secrets()["readWrite"]
    key = _key(created.workspace, "read_write")
    new = api_key_roll(key=key, grace=grace, by=actor)
    assert new != old and new.startswith("uf_rw_")
    assert _refusal(new) is None
    assert _refusal(new, later=valid_for + timedelta(days=30)) is None
    if valid_for:
        assert _refusal(old) is None
        assert _refusal(old, later=valid_for - timedelta(seconds=5)) is None
    assert _refusal(old, later=valid_for + timedelta(seconds=1)) == "rolled"
    event = AuditEvent.objects.get(action="api_key.roll")
    assert event.changes["grace"] == grace
    assert event.changes["new_mask"] == crypto.secret_mask(new)
    assert new not in repr(event.changes) and old not in repr(event.changes)


def test_a_roll_never_extends_an_earlier_grace(created, actor):
    old = created.secrets()["readWrite"]
    key = _key(created.workspace, "read_write")
    second = api_key_roll(key=key, grace="7d", by=actor)
    api_key_roll(key=key, grace="none", by=actor)
    assert _refusal(old) == "rolled"
    assert _refusal(second) == "rolled"


def test_metrics_secrets_roll_one_at_a_time(created, actor):
    key = _key(created.workspace, "metrics")
    secrets = created.secrets()
    new_client = api_key_roll(key=key, grace="none", role="client_secret", by=actor)
    assert new_client.startswith("uf_cs_")
    assert _refusal(secrets["metricsClientSecret"]) == "rolled"
    assert _refusal(secrets["metricsApiKey"]) is None


@pytest.mark.parametrize(("grace", "role"), [("2h", "primary"), ("none", "client_secret")])
def test_bad_roll_input_is_refused(created, actor, grace, role):
    key = _key(created.workspace, "write_only")
    with pytest.raises(ValidationError):
        api_key_roll(key=key, grace=grace, role=role, by=actor)
    assert key.secrets.count() == 1
    assert not AuditEvent.objects.filter(action="api_key.roll").exists()


def test_revoke_stops_every_secret_at_once_and_for_good(created, actor):
    key = _key(created.workspace, "write_only")
    rolled = api_key_roll(key=key, grace="7d", by=actor)
    api_key_revoke(key=key, by=actor)
    assert _refusal(created.secrets()["writeOnly"]) == "revoked"
    assert _refusal(rolled) == "revoked"
    assert AuditEvent.objects.filter(action="api_key.revoke", target_id=str(key.pk)).count() == 1
    with pytest.raises(ValidationError) as caught:
        api_key_roll(key=key, grace="none", by=actor)
    assert _error_codes(caught) == {"revoked"}
    with pytest.raises(ValidationError):
        api_key_revoke(key=key, by=actor)


def test_expiry(created, actor):
    key = _key(created.workspace, "write_only")
    secret = created.secrets()["writeOnly"]
    api_key_set_expiry(key=key, expires_at=timezone.now() + timedelta(days=1), by=actor)
    assert _refusal(secret) is None
    assert _refusal(secret, later=timedelta(days=1, seconds=1)) == "expired"
    with pytest.raises(ValidationError):
        api_key_set_expiry(key=key, expires_at=timezone.now() - timedelta(seconds=1), by=actor)
    api_key_set_expiry(key=key, expires_at=None, by=actor)
    assert _refusal(secret, later=timedelta(days=400)) is None
    assert AuditEvent.objects.filter(action="api_key.set_expiry").count() == 2


def test_ip_rules_are_normalised_stored_and_audited(created, actor):
    key = _key(created.workspace, "read_write")
    rule = ip_rule_add(key=key, network="::ffff:10.0.0.1", description=" office ", by=actor)
    assert (rule.network, rule.description) == ("10.0.0.1/32", "office")
    event = AuditEvent.objects.get(action="ip_rule.add")
    assert event.changes == {"network": "10.0.0.1/32", "description": "office"}


@pytest.mark.parametrize(
    ("network", "description", "code"),
    [
        ("10.0.0.1/8", "", "host_bits"),
        ("0.0.0.0/0", "", "everything"),
        ("::/0", "", "everything"),
        ("garbage", "", "invalid"),
        ("10.0.0.1", "x" * 201, "max_length"),
        ("10.0.0.1/32", "", "duplicate"),
        ("::ffff:10.0.0.1", "", "duplicate"),
    ],
)
def test_bad_ip_rules_are_refused(created, actor, network, description, code):
    key = _key(created.workspace, "read_write")
    ip_rule_add(key=key, network="10.0.0.1", by=actor)
    with pytest.raises(ValidationError) as caught:
        ip_rule_add(key=key, network=network, description=description, by=actor)
    assert _error_codes(caught) == {code}
    assert list(key.ip_rules.values_list("network", flat=True)) == ["10.0.0.1/32"]
    assert AuditEvent.objects.filter(action="ip_rule.add").count() == 1


def test_specific_locations_need_a_rule_and_keep_their_last_one(created, actor):
    key = _key(created.workspace, "read_write")
    with pytest.raises(ValidationError) as caught:
        api_key_set_access_mode(key=key, mode="specific", by=actor)
    assert _error_codes(caught) == {"no_rules"}
    key.refresh_from_db()
    assert key.access_mode == "anywhere"

    rule = ip_rule_add(key=key, network="203.0.113.0/24", by=actor)
    api_key_set_access_mode(key=key, mode="specific", by=actor)
    with pytest.raises(ValidationError) as caught:
        ip_rule_remove(rule=rule, by=actor)
    assert _error_codes(caught) == {"last_rule"}
    assert IpRule.objects.filter(pk=rule.pk).exists()

    second = ip_rule_add(key=key, network="2001:db8::/48", by=actor)
    ip_rule_remove(rule=second, by=actor)
    assert not IpRule.objects.filter(pk=second.pk).exists()
    api_key_set_access_mode(key=key, mode="anywhere", by=actor)
    ip_rule_remove(rule=rule, by=actor)
    actions = list(
        AuditEvent.objects.filter(target_id=str(key.pk)).values_list("action", flat=True)
    )
    assert actions.count("ip_rule.remove") == 2
    assert actions.count("api_key.set_access_mode") == 2
    with pytest.raises(ValidationError):
        api_key_set_access_mode(key=key, mode="somewhere", by=actor)


def test_the_access_mode_holds_for_the_next_key_check(
    created, actor, django_capture_on_commit_callbacks
):
    """The process that made a change sees it at once: the commit drops its snapshots."""
    from apikeys.permissions import address_allowed
    from core.networks import address_parse

    key = _key(created.workspace, "write_only")
    ip_rule_add(key=key, network="203.0.113.0/24", by=actor)
    secret = created.secrets()["writeOnly"]
    snapshot = keycache.snapshot_for_hash(crypto.secret_hash(secret))
    assert address_allowed(snapshot, address_parse("192.0.2.1"))  # Anywhere: rules inactive
    with django_capture_on_commit_callbacks(execute=True):
        api_key_set_access_mode(key=key, mode="specific", by=actor)
    snapshot = keycache.snapshot_for_hash(crypto.secret_hash(secret))
    assert address_allowed(snapshot, address_parse("203.0.113.9"))
    assert not address_allowed(snapshot, address_parse("192.0.2.1"))
    assert not address_allowed(snapshot, None)


def test_allowed_events(created, actor):
    key = _key(created.workspace, "write_only")
    api_key_set_allowed_events(key=key, mode="specific", names=["signup", "page_view"], by=actor)
    key.refresh_from_db()
    assert (key.events_mode, key.allowed_events) == ("specific", ["signup", "page_view"])
    snapshot = keycache.snapshot_for_hash(crypto.secret_hash(created.secrets()["writeOnly"]))
    assert snapshot.refused_events(["signup", "purchase", "purchase"]) == ["purchase"]
    api_key_set_allowed_events(key=key, mode="all", names=["ignored"], by=actor)
    key.refresh_from_db()
    # All lets every event through, and keeps the curated list for a switch back.
    assert (key.events_mode, key.allowed_events) == ("all", ["signup", "page_view"])
    assert AuditEvent.objects.filter(action="api_key.set_allowed_events").count() == 2


@pytest.mark.parametrize(
    ("mode", "names", "code"),
    [
        ("specific", [], "empty_list"),
        ("specific", ["ok", ""], "empty"),
        ("specific", ["has space"], "whitespace"),
        ("specific", ["tab\there"], "whitespace"),
        ("specific", ["nul\x00"], "whitespace"),
        ("specific", ["x" * 201], "max_length"),
        ("specific", ["a", "a"], "duplicate"),
        ("specific", "signup", "invalid"),
        ("some", ["a"], "invalid"),
    ],
)
def test_bad_allowed_events_are_refused(created, actor, mode, names, code):
    key = _key(created.workspace, "write_only")
    with pytest.raises(ValidationError) as caught:
        api_key_set_allowed_events(key=key, mode=mode, names=names, by=actor)
    assert _error_codes(caught) == {code}
    key.refresh_from_db()
    assert key.events_mode == "all"
    assert not AuditEvent.objects.filter(action="api_key.set_allowed_events").exists()


def test_metrics_keys_have_no_allowed_events(created, actor):
    with pytest.raises(ValidationError):
        api_key_set_allowed_events(
            key=_key(created.workspace, "metrics"), mode="specific", names=["a"], by=actor
        )


@pytest.mark.parametrize("minutes", [5, 10, 10_080])
def test_cache_ttl_accepted(created, actor, minutes):
    key = metrics_cache_ttl_set(key=_key(created.workspace, "metrics"), minutes=minutes, by=actor)
    key.refresh_from_db()
    assert key.cache_ttl_minutes == minutes
    assert AuditEvent.objects.get(action="metrics.set_cache_ttl").changes == {
        "before": 5,
        "after": minutes,
    }


@pytest.mark.parametrize("minutes", [3, 4, 0, -5, 10_081, "10", 7.5, True, None])
def test_cache_ttl_refused(created, actor, minutes):
    key = _key(created.workspace, "metrics")
    with pytest.raises(ValidationError):
        metrics_cache_ttl_set(key=key, minutes=minutes, by=actor)
    key.refresh_from_db()
    assert key.cache_ttl_minutes == 5
    assert not AuditEvent.objects.filter(action="metrics.set_cache_ttl").exists()


def test_cache_ttl_range_is_a_database_constraint(created):
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.filter(kind="metrics").update(cache_ttl_minutes=4)


def test_only_the_metrics_key_has_a_cache_ttl(created, actor):
    with pytest.raises(ValidationError):
        metrics_cache_ttl_set(key=_key(created.workspace, "write_only"), minutes=10, by=actor)


def test_a_change_commits_its_audit_row_or_neither(created, actor, monkeypatch):
    """The audit row is written in the change's transaction: if it fails, nothing changes."""
    import workspaces.audit

    def broken(**kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(workspaces.audit.AuditEvent.objects, "create", broken)
    key = _key(created.workspace, "read_write")
    with pytest.raises(RuntimeError):
        ip_rule_add(key=key, network="10.0.0.1", by=actor)
    assert not key.ip_rules.exists()
