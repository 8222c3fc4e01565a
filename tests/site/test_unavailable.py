"""A database that cannot be reached is a 503 with Retry-After; an API path never gets HTML.

The database here is really unreachable (a PostgreSQL port nothing listens on); the whole-stack
outage, with a real server stopped and started, is test_database_outage.py.
"""

import pytest

pytestmark = [pytest.mark.urls("tests.site.unavailable_urls"), pytest.mark.django_db]


@pytest.fixture
def client(client):
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize("path", ["/event/plain", "/event/drf"])
def test_an_api_path_answers_503_json_with_retry_after(client, settings, path):
    settings.UNAVAILABLE_RETRY_AFTER_SECONDS = 7
    response = client.get(path)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "unavailable"
    assert response["Retry-After"] == "7"


def test_a_page_answers_a_503_page_with_retry_after(client):
    response = client.get("/w/acme/plain/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) >= 1


def test_any_other_failure_on_an_api_path_is_a_json_500(client, settings):
    settings.DEBUG = False
    response = client.get("/event/broken")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "a bug" not in response.content.decode()
