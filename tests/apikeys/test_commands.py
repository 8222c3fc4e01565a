"""The provisioning commands of apikeys: `create_workspace` and `demo_setup`."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from apikeys import crypto
from apikeys.models import KeySecret
from workspaces.models import AuditEvent, Membership, Workspace


def _run_json(*args):
    out = StringIO()
    call_command("create_workspace", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_create_workspace_json_prints_one_object_with_working_secrets():
    result = _run_json("acme", "--admin", "alice")
    assert result["workspace"] == "acme"
    assert result["admin"]["username"] == "alice" and result["admin"]["password"]
    assert set(result["keys"]) == {"writeOnly", "readWrite", "metricsApiKey", "metricsClientSecret"}
    for secret in result["keys"].values():
        assert crypto.secret_kind(secret) is not None
        assert KeySecret.objects.filter(hash=crypto.secret_hash(secret)).exists()
    user = get_user_model().objects.get(username="alice")
    assert user.check_password(result["admin"]["password"])
    membership = Membership.objects.get(user=user, workspace__slug="acme")
    assert membership.role == "admin"


@pytest.mark.django_db
def test_create_workspace_with_an_existing_user_keeps_the_password():
    user = get_user_model().objects.create_user("carol", password="carol-password-1")
    result = _run_json("acme", "--admin", "carol")
    assert "password" not in result["admin"]
    user.refresh_from_db()
    assert user.check_password("carol-password-1")


@pytest.mark.django_db
def test_create_workspace_for_an_existing_slug_changes_nothing():
    _run_json("acme", "--admin", "alice")
    counts = (Workspace.objects.count(), KeySecret.objects.count(), Membership.objects.count())
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_workspace", "acme", "--admin", "dave", stdout=StringIO())
    assert (Workspace.objects.count(), KeySecret.objects.count(), Membership.objects.count()) == (
        counts
    )
    assert not get_user_model().objects.filter(username="dave").exists()


@pytest.mark.django_db
def test_create_workspace_with_a_bad_slug_creates_no_user():
    with pytest.raises(CommandError):
        call_command("create_workspace", "not a slug!", "--admin", "erin", stdout=StringIO())
    assert not get_user_model().objects.filter(username="erin").exists()
    assert not Workspace.objects.exists()


@pytest.mark.django_db
def test_demo_setup_is_idempotent():
    first = StringIO()
    call_command("demo_setup", stdout=first)
    assert "password" in first.getvalue() and "uf_rw_" in first.getvalue()
    second = StringIO()
    call_command("demo_setup", stdout=second)
    assert "uf_" not in second.getvalue()
    assert Workspace.objects.filter(slug="demo").count() == 1


@pytest.mark.django_db
def test_add_member_makes_a_new_user_an_admin_audited(workspace):
    out = StringIO()
    call_command("add_member", "acme", "frank", "--role", "admin", stdout=out)
    user = get_user_model().objects.get(username="frank")
    assert Membership.objects.get(workspace=workspace, user=user).role == "admin"
    password = out.getvalue().split("password (shown once): ")[1].strip()
    assert user.check_password(password)
    audit = AuditEvent.objects.filter(workspace=workspace).order_by("-id").first()
    assert (audit.action, audit.changes) == ("membership.add", {"user": "frank", "role": "admin"})


@pytest.mark.django_db
def test_add_member_changes_a_role_and_refuses_a_no_op(workspace, ws_member):
    call_command("add_member", "acme", "bob", "--role", "admin", stdout=StringIO())
    assert Membership.objects.get(workspace=workspace, user=ws_member).role == "admin"
    audit = AuditEvent.objects.filter(workspace=workspace).order_by("-id").first()
    assert (audit.action, audit.changes) == (
        "membership.set_role",
        {"before": "member", "after": "admin"},
    )
    with pytest.raises(CommandError, match="already an admin"):
        call_command("add_member", "acme", "bob", "--role", "admin", stdout=StringIO())


@pytest.mark.django_db
def test_add_member_refuses_an_unknown_workspace_or_role(workspace):
    with pytest.raises(CommandError, match="No workspace"):
        call_command("add_member", "nope", "gina", stdout=StringIO())
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("add_member", "acme", "gina", "--role", "owner", stdout=StringIO())
    assert not get_user_model().objects.filter(username="gina").exists()
