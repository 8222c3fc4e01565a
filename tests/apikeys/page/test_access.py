"""Who reaches the settings page and its actions: login, picker, members, strangers, CSRF."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apikeys import services
from apikeys.models import IpRule
from core.actors import SYSTEM
from tests.apikeys.page.helpers import PAGE, action_url, key_page, stored_state
from workspaces.models import Membership
from workspaces.services import membership_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(write_only) -> IpRule:
    return services.ip_rule_add(key=write_only, network="198.51.100.0/24", by=SYSTEM)


@pytest.fixture
def actions(write_only, metrics, rule) -> list[tuple[str, dict]]:
    """Every change the page can make, each with data that an admin's request would carry."""
    return [
        (action_url("key_create"), {"name": "New key", "kind": "write_only"}),
        (
            action_url("key_roll", write_only),
            {"grace": "none", "role": "primary", "confirm": "yes"},
        ),
        (action_url("key_rename", write_only), {"name": "Renamed"}),
        (action_url("key_expiry", write_only), {"expires_at": "2099-01-01T00:00"}),
        (action_url("key_event_allow", write_only), {"name": "signup"}),
        (action_url("key_revoke", write_only), {"confirm": "yes"}),
        (action_url("key_access_mode", write_only), {"access_mode": "specific"}),
        (action_url("ip_rule_add", write_only), {"network": "203.0.113.7", "description": "x"}),
        (action_url("ip_rule_remove", write_only, rule_id=rule.pk), {}),
        (
            action_url("key_allowed_events", write_only),
            {"events_mode": "specific", "allowed_events": ["signup"]},
        ),
        (action_url("metrics_cache_ttl", metrics), {"cache_ttl_minutes": "10"}),
    ]


# Reaching the page


def test_anonymous_visitor_is_sent_to_login_and_back():
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={PAGE}"


def test_anonymous_post_changes_nothing(actions):
    before = stored_state()
    for url, data in actions:
        response = Client().post(url, data)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    assert stored_state() == before


def test_login_page_is_the_sites_own_and_returns_to_next(ws_admin):
    client = Client()
    page = client.get(f"/login/?next={PAGE}")
    assert page.status_code == 200
    assert b'<label for="id_username">Username</label>' in page.content
    assert b"/static/css/site.css" in page.content
    response = client.post(
        "/login/", {"username": "alice", "password": "alice-password-1", "next": PAGE}
    )
    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert client.get(PAGE).status_code == 200


def test_login_with_a_wrong_password_says_so(ws_admin):
    client = Client()
    response = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert b'role="alert"' in response.content
    assert b'aria-invalid="true"' in response.content
    assert "_auth_user_id" not in client.session


def test_login_does_not_follow_next_to_another_site(ws_admin):
    response = Client().post(
        "/login/",
        {"username": "alice", "password": "alice-password-1", "next": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_logout_is_a_post(admin_web):
    assert admin_web.get("/logout/").status_code == 405
    response = admin_web.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert admin_web.get(PAGE).status_code == 302


def test_user_of_one_workspace_goes_straight_to_it(admin_web):
    response = admin_web.get("/")
    assert response.status_code == 302
    assert response["Location"] == PAGE


def test_user_of_two_workspaces_picks_one(admin_web, ws_admin, other_created):
    membership_add(
        workspace=other_created.workspace, user=ws_admin, role=Membership.Role.MEMBER, by=SYSTEM
    )
    response = admin_web.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/w/acme/settings/api/"' in html
    assert 'href="/w/globex/settings/api/"' in html
    assert "Acme" in html and "Globex" in html


def test_user_of_no_workspace_is_told_so(db):
    user = get_user_model().objects.create_user("nobody", password="nobody-password-1")
    client = Client()
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    assert b"not a member of any workspace" in response.content


# Strangers


def test_stranger_gets_404_for_the_page_and_for_an_unknown_slug(outsider_web, admin_web):
    assert outsider_web.get(PAGE).status_code == 404
    assert admin_web.get("/w/nope/settings/api/").status_code == 404


def test_stranger_gets_404_for_every_action(outsider_web, actions):
    before = stored_state()
    for url, data in actions:
        assert outsider_web.post(url, data).status_code == 404, url
    assert stored_state() == before


def test_admin_cannot_reach_another_workspaces_key_through_their_own(admin_web, other_created):
    foreign = other_created.keys["writeOnly"].key
    before = stored_state()
    for name, data in (
        ("key_roll", {"grace": "none", "role": "primary", "confirm": "yes"}),
        ("key_rename", {"name": "Mine now"}),
        ("key_revoke", {"confirm": "yes"}),
        ("ip_rule_add", {"network": "203.0.113.7"}),
    ):
        response = admin_web.post(action_url(name, foreign), data)
        assert response.status_code == 404
    assert stored_state() == before


# Members


def test_member_sees_the_page_without_secrets_or_controls(member_web, created, write_only):
    response = member_web.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    for secret in created.secrets().values():
        assert secret not in html
    assert write_only.secrets.get().mask in html
    # The only form is the header's logout; no input, select or textarea anywhere.
    assert re.findall(r"<form[^>]*action=\"([^\"]+)\"", html) == ["/logout/"]
    assert not re.search(r"<(input|select|textarea)\b(?![^>]*name=\"csrfmiddlewaretoken\")", html)
    assert "only its admins can change these settings" in html


def test_member_sees_a_key_page_without_controls(member_web, created, write_only):
    response = member_web.get(key_page(write_only))
    assert response.status_code == 200
    html = response.content.decode()
    for secret in created.secrets().values():
        assert secret not in html
    assert write_only.secrets.get().mask in html
    # Only the logout form posts; the audit trail's filter is a GET form.
    assert re.findall(r'<form method="post"[^>]*action="([^"]+)"', html) == ["/logout/"]
    assert html.count("<form") == 2


def test_the_key_page_of_a_stranger_is_404(outsider_web, write_only):
    assert outsider_web.get(key_page(write_only)).status_code == 404


def test_member_is_refused_every_action(member_web, actions):
    before = stored_state()
    for url, data in actions:
        response = member_web.post(url, data)
        assert response.status_code == 403, url
        assert b"Only a workspace's admins can change its settings." in response.content
    assert stored_state() == before


def test_actions_answer_only_post(admin_web, actions):
    for url, _ in actions:
        assert admin_web.get(url).status_code == 405, url


# CSRF


def test_every_action_needs_the_csrf_token(ws_admin, actions):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ws_admin)
    before = stored_state()
    for url, data in actions:
        response = client.post(url, data)
        assert response.status_code == 403, url
        assert b"Nothing was changed." in response.content
    assert stored_state() == before


def test_with_the_csrf_token_the_same_client_may_act(ws_admin, write_only):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ws_admin)
    page = client.get(PAGE)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    response = client.post(
        action_url("ip_rule_add", write_only),
        {"network": "203.0.113.7", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert write_only.ip_rules.filter(network="203.0.113.7/32").exists()


def test_the_page_is_never_cached(admin_web):
    response = admin_web.get(PAGE)
    assert "no-store" in response["Cache-Control"]
