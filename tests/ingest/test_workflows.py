"""`POST /workflow/trigger`: a durable run for an enabled trigger of the workspace, else 404."""

import pytest

from ingest.models import WorkflowRun, WorkflowTrigger
from tests.support.api import NOTHING, stored

pytestmark = pytest.mark.django_db


@pytest.fixture
def welcome(workspace):
    return WorkflowTrigger.objects.create(workspace=workspace, trigger_id="welcome", name="Welcome")


def test_trigger_records_a_run(api, secrets, welcome, rw_key):
    body = {"triggerId": "welcome", "userId": "user-1", "variables": {"coupon": "SPRING", "n": 2}}
    response = api.post(
        "/workflow/trigger?locationEnrichment=false", body, key=secrets["readWrite"]
    )
    assert response.status_code == 204
    assert response.content == b""
    run = WorkflowRun.objects.get()
    assert run.trigger == welcome
    assert run.workspace_id == welcome.workspace_id
    assert run.user_id == "user-1"
    assert run.variables == {"coupon": "SPRING", "n": 2}
    assert run.key_id == rw_key.id
    assert run.created_at is not None


def test_variables_may_be_absent(api, secrets, welcome):
    body = {"triggerId": "welcome", "userId": "user-1"}
    assert api.post("/workflow/trigger", body, key=secrets["readWrite"]).status_code == 204
    assert WorkflowRun.objects.get().variables == {}


@pytest.mark.parametrize("trigger_id", ["nope", "WELCOME", "welcome "])
def test_unknown_trigger_is_404(api, secrets, welcome, trigger_id):
    body = {"triggerId": trigger_id, "userId": "user-1"}
    response = api.post("/workflow/trigger", body, key=secrets["readWrite"])
    assert response.status_code == 404
    assert response.json()["code"] == "trigger_not_found"
    assert stored() == NOTHING


def test_switched_off_trigger_is_404(api, secrets, welcome):
    WorkflowTrigger.objects.filter(pk=welcome.pk).update(enabled=False)
    response = api.post("/workflow/trigger", {"triggerId": "welcome"}, key=secrets["readWrite"])
    assert response.status_code == 404
    assert response.json()["code"] == "trigger_not_found"
    assert stored() == NOTHING


def test_another_workspaces_trigger_is_404(api, welcome, other_created):
    key = other_created.secrets()["readWrite"]
    response = api.post("/workflow/trigger", {"triggerId": "welcome"}, key=key)
    assert response.status_code == 404
    assert stored() == NOTHING


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "triggerId"),
        ({"triggerId": None}, "triggerId"),
        ({"triggerId": 5}, "triggerId"),
        ({"triggerId": "welcome", "userId": 5}, "userId"),
        ({"triggerId": "welcome", "variables": [1]}, "variables"),
        ({"triggerId": "welcome", "variables": "a=1"}, "variables"),
    ],
)
def test_invalid_trigger_body_is_400(api, secrets, welcome, body, field):
    response = api.post("/workflow/trigger", body, key=secrets["readWrite"])
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert stored() == NOTHING
