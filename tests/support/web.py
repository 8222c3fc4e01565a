"""Fixtures for the settings pages: signed-in clients and the keys of the `acme` workspace."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from apikeys.models import ApiKey
from core.actors import SYSTEM
from ingest.models import EventName
from workspaces.models import Membership
from workspaces.services import membership_add


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_web(ws_admin) -> Client:
    return _signed_in(ws_admin)


@pytest.fixture
def member_web(ws_member) -> Client:
    return _signed_in(ws_member)


@pytest.fixture
def outsider_web(other_created) -> Client:
    """An admin of another workspace: a stranger to `acme`."""
    user = get_user_model().objects.create_user("mallory", password="mallory-password-1")
    membership_add(
        workspace=other_created.workspace, user=user, role=Membership.Role.ADMIN, by=SYSTEM
    )
    return _signed_in(user)


@pytest.fixture
def write_only(created) -> ApiKey:
    return created.keys["writeOnly"].key


@pytest.fixture
def read_write(created) -> ApiKey:
    return created.keys["readWrite"].key


@pytest.fixture
def metrics(created) -> ApiKey:
    return created.keys["metrics"].key


@pytest.fixture
def catalogue(workspace) -> list[str]:
    """Event names the workspace has sent, as the Integration API records them."""
    now = timezone.now()
    names = ["page_view", "purchase", "signup"]
    for name in names:
        EventName.objects.create(
            workspace=workspace, name=name, first_seen=now, last_seen=now, count=1
        )
    return names
