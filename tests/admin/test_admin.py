"""Django admin: every model shown without secrets; every change made and audited by a service."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from apikeys import crypto
from apikeys.lifecycle import GRACE_PERIODS
from apikeys.models import ApiKey, IpRule, KeySecret
from apikeys.services import api_key_revoke, api_key_set_access_mode, ip_rule_add
from core.actors import SYSTEM
from core.redaction import SECRET_PATTERN
from workspaces.models import AuditEvent, Membership, Workspace

pytestmark = pytest.mark.django_db

APPS = {
    "workspace": "workspaces",
    "membership": "workspaces",
    "auditevent": "workspaces",
    "apikey": "apikeys",
    "keysecret": "apikeys",
    "iprule": "apikeys",
    "event": "ingest",
    "profile": "ingest",
    "profilealias": "ingest",
    "eventname": "ingest",
    "workflowtrigger": "ingest",
    "workflowrun": "ingest",
}
CAN_ADD = {"workspace", "membership", "apikey", "iprule", "workflowtrigger"}
KEYS_URL = "admin:apikeys_apikey_changelist"


def admin_url(model: str, view: str, *args) -> str:
    return reverse(f"admin:{APPS[model]}_{model}_{view}", args=args)


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def assert_nothing_secret(html: str) -> None:
    assert SECRET_PATTERN.search(html) is None
    for stored_hash in KeySecret.objects.values_list("hash", flat=True):
        assert stored_hash not in html


def shown_secrets(response) -> list[str]:
    assert "no-store" in response["Cache-Control"]
    return SECRET_PATTERN.findall(page(response))


def actions(**filters) -> list[str]:
    return list(AuditEvent.objects.filter(**filters).values_list("action", flat=True))


@pytest.mark.parametrize("model", APPS)
def test_every_page_of_every_model_shows_no_secret_or_hash(admin_client, world, model):
    obj = world["rows"][model]
    urls = [
        admin_url(model, "changelist"),
        admin_url(model, "changelist") + "?q=" + world["secrets"][0][-4:],  # as a mask ends
        admin_url(model, "change", obj.pk),
        admin_url(model, "history", obj.pk),
    ]
    if model in CAN_ADD:
        urls.append(admin_url(model, "add"))
    for url in urls:
        html = page(admin_client.get(url))
        assert_nothing_secret(html)
        for secret in world["secrets"]:
            assert secret not in html
    if model not in CAN_ADD:
        assert admin_client.get(admin_url(model, "add")).status_code == 403


def test_key_pages_show_masks_and_confirmations_without_secrets(admin_client, world):
    key = world["rows"]["apikey"]
    change = page(admin_client.get(admin_url("apikey", "change", key.pk)))
    for secret in key.secrets.all():
        assert secret.mask in change
    assert "203.0.113.0/24" in change
    for url in (
        admin_url("apikey", "roll", key.pk),
        admin_url("apikey", "revoke", key.pk),
        admin_url("iprule", "delete", world["rows"]["iprule"].pk),
    ):
        assert_nothing_secret(page(admin_client.get(url)))


def test_adding_a_workspace_shows_its_four_secrets_once(admin_client):
    response = admin_client.post(admin_url("workspace", "add"), {"name": " Beta ", "slug": "beta"})

    secrets = shown_secrets(response)
    assert sorted(secret[:6] for secret in secrets) == ["uf_cs_", "uf_mk_", "uf_rw_", "uf_wo_"]
    workspace = Workspace.objects.get(slug="beta", name="Beta")
    stored = set(KeySecret.objects.filter(key__workspace=workspace).values_list("hash", flat=True))
    assert {crypto.secret_hash(secret) for secret in secrets} == stored
    assert sorted(workspace.api_keys.values_list("kind", flat=True)) == sorted(ApiKey.Kind.values)
    assert sorted(actions(workspace=workspace, actor_label="admin", actor_ip="127.0.0.1")) == [
        "api_key.create",
        "api_key.create",
        "api_key.create",
        "workspace.create",
    ]
    kept = str(dict(admin_client.session.items())) + str(admin_client.cookies)
    assert not any(secret in kept for secret in secrets)
    for url in (
        admin_url("workspace", "changelist"),
        admin_url("workspace", "change", workspace.pk),
        reverse(KEYS_URL),
    ):
        assert_nothing_secret(page(admin_client.get(url)))


def test_a_workspace_links_to_its_keys_members_and_audit_trail(admin_client, world):
    workspace = world["rows"]["workspace"]
    html = page(admin_client.get(admin_url("workspace", "change", workspace.pk)))
    query = f"?workspace__id__exact={workspace.pk}"
    for model, shown in [
        ("apikey", "Write-Only key"),
        ("membership", "member"),
        ("auditevent", "workspace.create"),
    ]:
        url = admin_url(model, "changelist") + query
        assert url in html
        assert shown in page(admin_client.get(url))


def test_adding_a_workspace_with_a_taken_slug_shows_the_error(admin_client, created):
    response = admin_client.post(admin_url("workspace", "add"), {"name": "Other", "slug": "acme"})
    assert "already exists" in page(response)
    assert Workspace.objects.count() == 1
    assert ApiKey.objects.count() == 3


def test_workspaces_cannot_be_edited_or_deleted(admin_client, created):
    workspace = created.workspace
    change = admin_url("workspace", "change", workspace.pk)
    assert admin_client.post(change, {"name": "X", "slug": "x"}).status_code == 403
    assert admin_client.post(admin_url("workspace", "delete", workspace.pk)).status_code == 403
    workspace.refresh_from_db()
    assert (workspace.name, workspace.slug) == ("Acme", "acme")


def test_adding_a_key_shows_its_secret_once(admin_client, created, later):
    moment, expiry = later
    data = {"workspace": created.workspace.pk, "kind": "read_write", "name": "Backend", **expiry}
    secrets = shown_secrets(admin_client.post(admin_url("apikey", "add"), data))

    key = ApiKey.objects.get(name="Backend")
    assert [crypto.secret_hash(secret) for secret in secrets] == [key.secrets.get().hash]
    assert key.expires_at == moment.replace(microsecond=0)
    assert actions(target_id=str(key.pk)) == ["api_key.create"]


def test_a_second_metrics_key_is_refused_on_the_form(admin_client, created):
    data = {"workspace": created.workspace.pk, "kind": "metrics", "name": "Again"}
    html = page(admin_client.post(admin_url("apikey", "add"), data))
    assert "already has a live Metrics key" in html
    assert_nothing_secret(html)
    assert ApiKey.objects.filter(kind="metrics").count() == 1


@pytest.mark.parametrize("grace", GRACE_PERIODS)
def test_roll_action_shows_the_new_secret_and_retires_the_old_per_grace(
    admin_client, created, grace
):
    key = created.keys["writeOnly"].key
    selected = {"action": "roll_secrets", ACTION_CHECKBOX_NAME: [key.pk]}
    confirm = page(admin_client.post(reverse(KEYS_URL), selected))
    assert "Roll" in confirm
    assert_nothing_secret(confirm)

    before = timezone.now()
    response = admin_client.post(reverse(KEYS_URL), {**selected, "grace": grace, "apply": "yes"})
    after = timezone.now()

    [secret] = shown_secrets(response)
    assert secret.startswith("uf_wo_")
    assert KeySecret.objects.get(hash=crypto.secret_hash(secret)).retires_at is None
    old = KeySecret.objects.get(hash=crypto.secret_hash(created.secrets()["writeOnly"]))
    delay = GRACE_PERIODS[grace][0]
    assert before + delay <= old.retires_at <= after + delay
    assert AuditEvent.objects.get(action="api_key.roll").changes["grace"] == grace
    assert_nothing_secret(page(admin_client.get(reverse(KEYS_URL))))


def test_roll_without_a_grace_asks_again_and_rolls_nothing(admin_client, created):
    key = created.keys["writeOnly"].key
    data = {"action": "roll_secrets", ACTION_CHECKBOX_NAME: [key.pk], "apply": "yes"}
    assert "This field is required" in page(admin_client.post(reverse(KEYS_URL), data))
    assert key.secrets.count() == 1
    assert actions(action="api_key.roll") == []


def test_roll_button_rolls_the_metrics_client_secret_alone(admin_client, created):
    key = created.keys["metrics"].key
    url = admin_url("apikey", "roll", key.pk)
    assert "Client secret" in page(admin_client.get(url))

    response = admin_client.post(url, {"grace": "1h", "role": "client_secret"})

    [secret] = shown_secrets(response)
    assert secret.startswith("uf_cs_")
    api_key = KeySecret.objects.get(hash=crypto.secret_hash(created.secrets()["metricsApiKey"]))
    assert api_key.retires_at is None
    assert key.secrets.filter(role="client_secret", retires_at__isnull=False).count() == 1


def test_revoke_action_revokes_and_audits(admin_client, created):
    key = created.keys["readWrite"].key
    selected = {"action": "revoke_keys", ACTION_CHECKBOX_NAME: [key.pk]}
    assert "Revoke" in page(admin_client.post(reverse(KEYS_URL), selected))
    key.refresh_from_db()
    assert key.revoked_at is None

    response = admin_client.post(reverse(KEYS_URL), {**selected, "apply": "yes"})

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert actions(action="api_key.revoke", actor_label="admin") == ["api_key.revoke"]
    change = admin_url("apikey", "change", key.pk)
    assert page(admin_client.get(change))
    assert admin_client.post(change, {"access_mode": "anywhere"}).status_code == 403


def settings_form(key: ApiKey, **changes) -> dict:
    """The key's change form as the browser posts it, with these fields changed."""
    data = {
        "expires_at_0": "",
        "expires_at_1": "",
        "access_mode": key.access_mode,
        "address_enforcement": key.address_enforcement,
    }
    if key.kind == ApiKey.Kind.METRICS:
        data["cache_ttl_minutes"] = key.cache_ttl_minutes
    else:
        data |= {
            "events_mode": key.events_mode,
            "allowed_events": "\n".join(key.allowed_events),
            "event_enforcement": key.event_enforcement,
        }
    return data | changes


def test_specific_locations_without_rules_shows_the_service_error(admin_client, created):
    key = created.keys["writeOnly"].key
    url = admin_url("apikey", "change", key.pk)
    html = page(admin_client.post(url, settings_form(key, access_mode="specific")))
    assert "Add at least one IP address" in html
    key.refresh_from_db()
    assert key.access_mode == "anywhere"
    assert actions(action="api_key.set_access_mode") == []

    ip_rule_add(key=key, network="198.51.100.7", by=SYSTEM)
    assert admin_client.post(url, settings_form(key, access_mode="specific")).status_code == 302
    key.refresh_from_db()
    assert key.access_mode == "specific"
    assert actions(action="api_key.set_access_mode", actor_label="admin") == [
        "api_key.set_access_mode"
    ]


@pytest.mark.parametrize(("minutes", "accepted"), [(3, False), (10, True), (10_081, False)])
def test_cache_ttl_goes_through_its_service(admin_client, created, minutes, accepted):
    key = created.keys["metrics"].key
    url = admin_url("apikey", "change", key.pk)
    response = admin_client.post(url, settings_form(key, cache_ttl_minutes=minutes))
    key.refresh_from_db()
    if accepted:
        assert response.status_code == 302
        assert key.cache_ttl_minutes == minutes
        assert AuditEvent.objects.get(action="metrics.set_cache_ttl").changes["after"] == minutes
    else:
        assert "The cache TTL must be at least 5" in page(response)
        assert key.cache_ttl_minutes == 5
        assert actions(action="metrics.set_cache_ttl") == []


def test_a_refused_setting_undoes_the_accepted_ones(admin_client, created, later):
    key = created.keys["metrics"].key
    _, expiry = later
    data = settings_form(key, cache_ttl_minutes=3) | expiry
    assert "The cache TTL" in page(admin_client.post(admin_url("apikey", "change", key.pk), data))
    key.refresh_from_db()
    assert key.expires_at is None
    assert actions(action="api_key.set_expiry") == []


def test_expiry_and_allowed_events_go_through_their_services(admin_client, created, later):
    key = created.keys["writeOnly"].key
    moment, expiry = later
    data = settings_form(key, events_mode="specific", allowed_events="signup\r\npurchase\r\n")
    response = admin_client.post(admin_url("apikey", "change", key.pk), data | expiry)
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.expires_at == moment.replace(microsecond=0)
    assert (key.events_mode, key.allowed_events) == ("specific", ["signup", "purchase"])
    assert sorted(actions(actor_label="admin")) == [
        "api_key.set_allowed_events",
        "api_key.set_expiry",
    ]


def test_monitor_mode_goes_through_its_service(admin_client, created):
    key = created.keys["writeOnly"].key
    data = settings_form(key, address_enforcement="monitor", event_enforcement="monitor")
    response = admin_client.post(admin_url("apikey", "change", key.pk), data)
    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.address_enforcement, key.event_enforcement) == ("monitor", "monitor")
    assert actions(actor_label="admin") == ["api_key.set_enforcement"] * 2


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"events_mode": "specific", "allowed_events": ""}, "Choose at least one event"),
        ({"events_mode": "specific", "allowed_events": "a\na"}, "is listed twice"),
        ({"expires_at_0": "2001-01-01", "expires_at_1": "00:00:00"}, "must be in the future"),
    ],
)
def test_refused_settings_show_the_service_error(admin_client, created, changes, error):
    key = created.keys["writeOnly"].key
    html = page(
        admin_client.post(admin_url("apikey", "change", key.pk), settings_form(key, **changes))
    )
    assert error in html
    key.refresh_from_db()
    assert (key.events_mode, key.expires_at) == ("all", None)
    assert actions(actor_label="admin") == []


@pytest.mark.parametrize(
    ("network", "error"),
    [
        ("10.0.0.1/8", "has host bits set. Did you mean 10.0.0.0/8?"),
        ("0.0.0.0/0", "would allow every address"),
        ("::/0", "would allow every address"),
        ("garbage", "is not an IPv4 or IPv6 address"),
        ("10.0.0.1/33", "prefix longer than 32"),
    ],
)
def test_a_bad_ip_rule_shows_the_error(admin_client, created, network, error):
    key = created.keys["writeOnly"].key
    data = {"key": key.pk, "network": network, "description": ""}
    assert error in page(admin_client.post(admin_url("iprule", "add"), data))
    assert not IpRule.objects.exists()
    assert actions(action="ip_rule.add") == []


@pytest.mark.parametrize(
    ("network", "stored"),
    [
        (" 198.51.100.0/24 ", "198.51.100.0/24"),
        ("203.0.113.9", "203.0.113.9/32"),
        ("::ffff:10.0.0.1", "10.0.0.1/32"),
        ("2001:db8::1", "2001:db8::1/128"),
    ],
)
def test_a_good_ip_rule_is_stored_normalised_and_audited(admin_client, created, network, stored):
    key = created.keys["writeOnly"].key
    data = {"key": key.pk, "network": network, "description": " office "}
    assert admin_client.post(admin_url("iprule", "add"), data).status_code == 302
    rule = IpRule.objects.get()
    assert (rule.key, rule.network, rule.description) == (key, stored, "office")
    assert AuditEvent.objects.get(action="ip_rule.add").changes["network"] == stored


def test_removing_the_last_rule_of_a_specific_key_is_refused_with_a_message(admin_client, created):
    key = created.keys["writeOnly"].key
    rule = ip_rule_add(key=key, network="203.0.113.9", by=SYSTEM)
    api_key_set_access_mode(key=key, mode="specific", by=SYSTEM)
    url = admin_url("iprule", "delete", rule.pk)

    response = admin_client.post(url, {"post": "yes"}, follow=True)

    assert "last address" in page(response)
    assert IpRule.objects.filter(pk=rule.pk).exists()
    assert actions(action="ip_rule.remove") == []

    api_key_set_access_mode(key=key, mode="anywhere", by=SYSTEM)
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not IpRule.objects.exists()
    assert actions(action="ip_rule.remove", actor_label="admin") == ["ip_rule.remove"]


def test_rules_of_a_revoked_key_cannot_be_added(admin_client, created):
    key = created.keys["writeOnly"].key
    api_key_revoke(key=key, by=SYSTEM)
    data = {"key": key.pk, "network": "203.0.113.9", "description": ""}
    assert "revoked" in page(admin_client.post(admin_url("iprule", "add"), data))
    assert not IpRule.objects.exists()


def test_memberships_are_added_and_changed_through_the_services(admin_client, admin_user, created):
    workspace = created.workspace
    data = {"workspace": workspace.pk, "user": admin_user.pk, "role": "member"}
    assert admin_client.post(admin_url("membership", "add"), data).status_code == 302
    membership = Membership.objects.get()
    assert "already a member" in page(admin_client.post(admin_url("membership", "add"), data))

    change = admin_url("membership", "change", membership.pk)
    assert admin_client.post(change, {"role": "admin"}).status_code == 302
    membership.refresh_from_db()
    assert membership.role == "admin"
    assert actions(actor_label="admin")[::-1] == ["membership.add", "membership.set_role"]
    assert admin_client.post(admin_url("membership", "delete", membership.pk)).status_code == 403


@pytest.mark.parametrize("model", ["auditevent", "keysecret"])
def test_records_cannot_be_added_changed_or_deleted(admin_client, created, model):
    obj = {"auditevent": AuditEvent, "keysecret": KeySecret}[model].objects.first()
    before = {field.name: getattr(obj, field.name) for field in obj._meta.fields}
    assert admin_client.get(admin_url(model, "add")).status_code == 403
    assert admin_client.post(admin_url(model, "add"), {"action": "x"}).status_code == 403
    assert admin_client.post(admin_url(model, "change", obj.pk), {"role": "x"}).status_code == 403
    assert admin_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    obj.refresh_from_db()
    assert {field.name: getattr(obj, field.name) for field in obj._meta.fields} == before


def test_the_key_secret_page_never_names_the_hash(admin_client, created):
    secret = KeySecret.objects.first()
    html = page(admin_client.get(admin_url("keysecret", "change", secret.pk)))
    assert secret.mask in html
    assert secret.hash not in html
    assert "Hash" not in html


def test_workflow_triggers_are_plain_staff_edits(admin_client, created):
    data = {
        "workspace": created.workspace.pk,
        "trigger_id": "t-1",
        "name": "Welcome",
        "enabled": "on",
    }
    assert admin_client.post(admin_url("workflowtrigger", "add"), data).status_code == 302
    assert created.workspace.workflow_triggers.get().trigger_id == "t-1"


def test_roll_of_several_keys_reports_the_refused_ones(admin_client, created):
    write_only, read_write = created.keys["writeOnly"].key, created.keys["readWrite"].key
    api_key_revoke(key=read_write, by=SYSTEM)
    data = {
        "action": "roll_secrets",
        ACTION_CHECKBOX_NAME: [write_only.pk, read_write.pk],
        "grace": "none",
        "apply": "yes",
    }
    response = admin_client.post(reverse(KEYS_URL), data)
    [secret] = shown_secrets(response)
    assert secret.startswith("uf_wo_")
    assert "revoked keys cannot be changed" in page(response)
    assert actions(action="api_key.roll") == ["api_key.roll"]
    assert read_write.secrets.filter(retires_at__isnull=False).count() == 0
    old = KeySecret.objects.get(hash=crypto.secret_hash(created.secrets()["writeOnly"]))
    assert old.retires_at <= timezone.now()


def test_an_add_key_form_sent_twice_adds_one_key(admin_client, created):
    form = page(admin_client.get(admin_url("apikey", "add")))
    seen = form.split('name="seen_latest_key_id" value="')[1].split('"')[0]
    data = {
        "workspace": created.workspace.pk,
        "kind": "write_only",
        "name": "Website",
        "seen_latest_key_id": seen,
    }
    first = admin_client.post(admin_url("apikey", "add"), data)
    assert len(shown_secrets(first)) == 1
    again = page(admin_client.post(admin_url("apikey", "add"), data))
    assert "was it sent twice?" in again
    assert_nothing_secret(again)
    assert ApiKey.objects.filter(name="Website").count() == 1
    assert actions(action="api_key.create").count("api_key.create") == 4  # 3 provisioned + 1


def test_a_roll_action_sent_twice_rolls_once(admin_client, created):
    key = created.keys["writeOnly"].key
    selected = {"action": "roll_secrets", ACTION_CHECKBOX_NAME: [key.pk]}
    confirm = page(admin_client.post(reverse(KEYS_URL), selected))
    seen = confirm.split('name="seen" value="')[1].split('"')[0]
    assert seen == f"{key.pk}:primary:{key.secrets.get().pk}"
    data = {**selected, "grace": "1h", "apply": "yes", "seen": seen}
    assert len(shown_secrets(admin_client.post(reverse(KEYS_URL), data))) == 1
    again = admin_client.post(reverse(KEYS_URL), data)
    assert shown_secrets(again) == []
    assert "was it sent twice?" in page(again)
    assert key.secrets.count() == 2
    assert actions(action="api_key.roll") == ["api_key.roll"]
