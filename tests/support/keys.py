"""Fixtures for the Integration API tests: its client and the `acme` workspace's keys."""

import pytest

from apikeys.models import ApiKey
from tests.support.api import Api


@pytest.fixture
def api(client) -> Api:
    return Api(client)


@pytest.fixture
def secrets(created) -> dict[str, str]:
    return created.secrets()


@pytest.fixture
def wo_key(created) -> ApiKey:
    return created.keys["writeOnly"].key


@pytest.fixture
def rw_key(created) -> ApiKey:
    return created.keys["readWrite"].key
