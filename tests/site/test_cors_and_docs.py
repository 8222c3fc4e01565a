"""CORS for the ingestion endpoints only; the OpenAPI schema and a docs page served locally."""

import pytest

pytestmark = pytest.mark.django_db

ORIGIN = "https://shop.example.com"


def _preflight(client, path, method="POST"):
    return client.options(
        path,
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


@pytest.mark.parametrize("path", ["/event/ingest", "/event/ingest/batch", "/profile"])
def test_ingestion_endpoints_answer_preflight_from_any_origin(client, path):
    response = _preflight(client, path)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    allowed = {h.strip() for h in response["Access-Control-Allow-Headers"].lower().split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response


def test_actual_ingestion_answers_carry_cors_headers_so_the_sdk_can_read_errors(api, secrets):
    response = api.post("/event/ingest", "nope", key=secrets["writeOnly"], HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 400
    assert response["Access-Control-Allow-Origin"] == "*"
    response = api.post("/event/ingest", {}, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/login/", "/", "/profile/user-1", "/workflow/trigger", "/api/schema"]
)
def test_other_paths_answer_no_cross_origin_request(client, path):
    response = _preflight(client, path, method="GET")
    assert "Access-Control-Allow-Origin" not in response
    response = client.get(path, HTTP_ORIGIN=ORIGIN)
    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.parametrize("path", ["/event/ingest/", "/event/ingest/batch/", "/profile/"])
def test_trailing_slash_paths_are_not_redirected(api, secrets, path):
    response = api.post(path, {}, key=secrets["writeOnly"])
    assert response.status_code == 404


def test_openapi_schema_lists_every_endpoint(client):
    response = client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path, method in [
        ("/event/ingest", "post"),
        ("/event/ingest/batch", "post"),
        ("/profile", "post"),
        ("/profile/{user_id}", "get"),
        ("/workflow/trigger", "post"),
    ]:
        operation = paths[path][method]
        assert operation["security"] == [{"IntegrationKey": []}]
        assert any(p["name"] == "locationEnrichment" for p in operation.get("parameters", []))
    batch = paths["/event/ingest/batch"]["post"]["requestBody"]["content"]["application/json"]
    assert batch["schema"]["$ref"].endswith("/EventBatch")
    assert "401" in paths["/event/ingest"]["post"]["responses"]
    assert schema["components"]["securitySchemes"]["IntegrationKey"]["scheme"] == "bearer"
    assert not any(path.startswith("/_bench") for path in paths)


def test_docs_page_assets_are_served_locally(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/schema" in html
    assert "cdn" not in html.lower() and "https://" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
