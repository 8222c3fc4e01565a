"""Who reaches the Metrics page and its actions: login, members, strangers, CSRF."""

import re

import pytest
from django.test import Client

from tests.metrics.page.conftest import BY_NAME
from tests.metrics.page.helpers import PAGE, stored_state, url

pytestmark = pytest.mark.django_db

NEW = {"name": "New", "sql": BY_NAME, "variables": '{"eventName": "x"}'}


@pytest.fixture
def actions(metric) -> list[tuple[str, dict]]:
    """Every POST the page can send, each with data that an admin's request would carry."""
    return [
        (url("create"), NEW),
        (url("update", metric), {**NEW, "version": "1"}),
        (url("delete", metric), {"confirm": "yes"}),
        (url("run", metric), {"variables": ""}),
    ]


@pytest.fixture
def pages(metric) -> list[str]:
    return [PAGE, url("metric", metric)]


def test_anonymous_visitors_are_sent_to_login(pages, actions):
    before = stored_state()
    for page in pages:
        response = Client().get(page)
        assert response.status_code == 302
        assert response["Location"] == f"/login/?next={page}"
    for action, data in actions:
        response = Client().post(action, data)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    assert stored_state() == before


def test_strangers_get_404_for_every_page_and_action(outsider_web, pages, actions):
    before = stored_state()
    for page in pages:
        assert outsider_web.get(page).status_code == 404, page
    for action, data in actions:
        assert outsider_web.post(action, data).status_code == 404, action
    assert stored_state() == before


def test_an_unknown_workspace_is_404(admin_web):
    assert admin_web.get("/w/nope/metrics/").status_code == 404


def test_an_admin_cannot_act_on_another_workspaces_metric(admin_web, foreign_metric):
    before = stored_state()
    for name, data in (
        ("update", {**NEW, "version": "1"}),
        ("delete", {"confirm": "yes"}),
        ("run", {"variables": ""}),
    ):
        assert admin_web.post(url(name, foreign_metric), data).status_code == 404, name
    assert stored_state() == before


def test_members_see_metrics_and_sql_without_controls(member_web, metric, pages):
    for page in pages:
        response = member_web.get(page)
        assert response.status_code == 200
        html = response.content.decode()
        assert "only its admins can" in html
        assert re.findall(r"<form[^>]*action=\"([^\"]+)\"", html) == ["/logout/"]
        assert not re.search(
            r"<(input|select|textarea)\b(?![^>]*name=\"csrfmiddlewaretoken\")", html
        )
        assert f"POST /metrics/query/{metric.pk}" in html
    html = member_web.get(url("metric", metric)).content.decode()
    assert "name = &#x27;@{eventName}&#x27;" in html  # the SQL itself


def test_members_are_refused_every_action(member_web, actions):
    before = stored_state()
    for action, data in actions:
        response = member_web.post(action, data)
        assert response.status_code == 403, action
        assert b"Only a workspace's admins can change its settings." in response.content
    assert stored_state() == before


def test_actions_answer_only_post_and_pages_only_get(admin_web, pages, actions):
    for action, _ in actions:
        assert admin_web.get(action).status_code == 405, action
    for page in pages:
        assert admin_web.post(page).status_code == 405, page


def test_every_action_needs_the_csrf_token(ws_admin, actions):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ws_admin)
    before = stored_state()
    for action, data in actions:
        response = client.post(action, data)
        assert response.status_code == 403, action
        assert b"Nothing was changed." in response.content
    assert stored_state() == before


def test_with_the_csrf_token_the_same_client_may_act(ws_admin, metric):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ws_admin)
    page = client.get(url("metric", metric)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    response = client.post(url("create"), {**NEW, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
