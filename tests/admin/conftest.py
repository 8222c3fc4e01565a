"""State for the admin tests, built through the real services (ingest rows directly: no service)."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apikeys.provisioning import workspace_provision
from apikeys.services import api_key_roll, ip_rule_add
from core.actors import SYSTEM
from ingest.models import Event, EventName, Profile, ProfileAlias, WorkflowRun, WorkflowTrigger
from workspaces.services import membership_add


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """admin_client's superuser is made per test; a slow hasher would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def created():
    """A workspace with its three starting keys; `created.secrets()` are the whole secrets."""
    return workspace_provision(name="Acme", slug="acme", by=SYSTEM)


@pytest.fixture
def world(created):
    """One row of every model admin shows, and every whole secret made on the way."""
    workspace = created.workspace
    now = timezone.now()
    write_only = created.keys["writeOnly"].key
    secrets = list(created.secrets().values())
    secrets.append(api_key_roll(key=write_only, grace="24h", by=SYSTEM))
    rule = ip_rule_add(key=write_only, network="203.0.113.0/24", description="office", by=SYSTEM)
    member = get_user_model().objects.create_user(username="member", password="unused-pw-1")
    membership = membership_add(workspace=workspace, user=member, role="member", by=SYSTEM)
    profile = Profile.objects.create(
        workspace=workspace, user_id="u-1", created_at=now, updated_at=now
    )
    trigger = WorkflowTrigger.objects.create(workspace=workspace, trigger_id="welcome", name="Hi")
    rows = {
        "workspace": workspace,
        "membership": membership,
        "auditevent": workspace.audit_events.first(),
        "apikey": write_only,
        "keysecret": write_only.secrets.first(),
        "iprule": rule,
        "event": Event.objects.create(
            workspace=workspace,
            key=write_only,
            name="signup",
            user_id="u-1",
            timestamp=now,
            received_at=now,
            properties={"plan": "pro"},
        ),
        "profile": profile,
        "profilealias": ProfileAlias.objects.create(
            workspace=workspace, anonymous_id="anon-1", profile=profile
        ),
        "eventname": EventName.objects.create(
            workspace=workspace, name="signup", first_seen=now, last_seen=now, count=1
        ),
        "workflowtrigger": trigger,
        "workflowrun": WorkflowRun.objects.create(
            workspace=workspace, trigger=trigger, user_id="u-1", created_at=now
        ),
    }
    return {"rows": rows, "secrets": secrets, "metrics": created.keys["metrics"].key}


@pytest.fixture
def later():
    """A moment safely in the future, as the admin's split date/time widget posts it."""
    moment = timezone.now() + timedelta(days=30)
    return moment, {"expires_at_0": f"{moment:%Y-%m-%d}", "expires_at_1": f"{moment:%H:%M:%S}"}
