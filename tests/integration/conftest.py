"""Fixtures for the Integration API tests."""

import pytest

from apikeys.models import ApiKey
from tests.integration.helpers import Api


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
