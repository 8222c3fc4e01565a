"""Sign-in brute force: locked per (username, address), with a clear page, unlocked by time or
by a management command, and recorded in the audit trail of the user's workspaces."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import F
from django.test import Client

from workspaces.models import AuditEvent

pytestmark = pytest.mark.django_db

X = {"REMOTE_ADDR": "203.0.113.21"}
Y = {"REMOTE_ADDR": "198.51.100.34"}
PASSWORD = "alice-password-1"  # the ws_admin fixture's


def _sign_in(client, path, username, password, **meta):
    return client.post(path, {"username": username, "password": password}, **meta)


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_21_wrong_passwords_lock_the_user_at_that_address(path, ws_admin):
    ws_admin.is_staff = True
    ws_admin.save()
    client = Client()
    statuses = [_sign_in(client, path, "alice", "wrong", **X).status_code for _ in range(21)]
    assert statuses[:19] == [200] * 19  # the form again, with its error
    assert statuses[19:] == [429, 429]
    locked = _sign_in(client, path, "alice", PASSWORD, **X)
    assert locked.status_code == 429  # the right password is refused while locked
    assert "_auth_user_id" not in client.session
    page = locked.content.decode()
    assert "Sign-in locked" in page and "alice" in page and "axes_reset_username" in page
    # Only that pair is locked: the same user elsewhere, another user here, still sign in.
    assert _sign_in(Client(), path, "alice", PASSWORD, **Y).status_code == 302
    get_user_model().objects.create_user("carol", password="carol-password-1", is_staff=True)
    assert _sign_in(Client(), path, "carol", "carol-password-1", **X).status_code == 302


def test_a_lock_ends_with_its_cool_off(ws_admin, settings):
    for _ in range(20):
        _sign_in(Client(), "/login/", "alice", "wrong", **X)
    assert _sign_in(Client(), "/login/", "alice", PASSWORD, **X).status_code == 429
    # The cool-off (15 minutes by default) passes: the last attempt is that old now.
    cool_off = settings.AXES_COOLOFF_TIME
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - cool_off - timedelta(seconds=1))
    assert _sign_in(Client(), "/login/", "alice", PASSWORD, **X).status_code == 302


def test_the_management_command_unlocks(ws_admin):
    for _ in range(20):
        _sign_in(Client(), "/login/", "alice", "wrong", **X)
    assert _sign_in(Client(), "/login/", "alice", PASSWORD, **X).status_code == 429
    call_command("axes_reset_username", "alice", stdout=_Sink())
    assert _sign_in(Client(), "/login/", "alice", PASSWORD, **X).status_code == 302


def test_a_success_resets_the_count(ws_admin):
    for _ in range(19):
        _sign_in(Client(), "/login/", "alice", "wrong", **X)
    assert _sign_in(Client(), "/login/", "alice", PASSWORD, **X).status_code == 302
    assert _sign_in(Client(), "/login/", "alice", "wrong", **X).status_code == 200


def test_a_lockout_is_audited_in_the_users_workspaces(ws_admin, workspace):
    for _ in range(20):
        _sign_in(Client(), "/login/", "alice", "wrong", **X)
    event = AuditEvent.objects.get(action="login.locked_out")
    assert event.workspace == workspace
    assert event.actor is None and event.actor_ip == "203.0.113.21"
    assert event.target_label == "alice"
    assert "wrong" not in str(event.changes)  # never a password


def test_the_forwarded_address_counts_only_from_a_trusted_proxy(ws_admin, settings):
    """A guesser cannot get fresh buckets by writing X-Forwarded-For itself."""
    for n in range(20):
        _sign_in(Client(), "/login/", "alice", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}", **X)
    assert _sign_in(Client(), "/login/", "alice", PASSWORD, **X).status_code == 429


class _Sink:
    def write(self, *args, **kwargs):
        pass

    def flush(self):
        pass
