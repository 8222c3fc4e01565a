"""Fixtures for the Metrics page: the settings pages' signed-in clients, and saved metrics."""

import pytest

from core.actors import SYSTEM
from metrics.models import SavedMetric
from metrics.services import saved_metric_create
from tests.support.metrics import events_add

BY_NAME = "SELECT name, userId FROM eventsTable WHERE name = '@{eventName}' ORDER BY userId"


@pytest.fixture
def metric(workspace, actor) -> SavedMetric:
    """A saved metric of `acme` with one variable."""
    return saved_metric_create(
        workspace=workspace,
        name="Signups",
        description="Who signed up",
        sql=BY_NAME,
        variables={"eventName": "signup"},
        by=actor,
    )


@pytest.fixture
def foreign_metric(other_created) -> SavedMetric:
    """A metric of `globex`, which `acme`'s people must not reach."""
    return saved_metric_create(
        workspace=other_created.workspace,
        name="Globex signups",
        sql=BY_NAME,
        variables={"eventName": "signup"},
        by=SYSTEM,
    )


@pytest.fixture
def events(workspace, other_created) -> None:
    """Events of `acme` and of `globex`, written through the ORM as the Integration API would."""
    events_add(workspace, ("signup", "a1"), ("page_view", "a1"), ("signup", "a2"))
    events_add(other_created.workspace, ("signup", "g1"), ("signup", "g2"))
