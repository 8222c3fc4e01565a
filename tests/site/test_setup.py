"""Health endpoints and settings that must refuse to start."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_liveness_touches_nothing(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readiness_reports_a_cache_outage_as_degraded_with_200(client, monkeypatch):
    assert client.get("/readyz").status_code == 200

    def down(*args, **kwargs):
        raise ConnectionError("down")

    from userflux_site import health

    monkeypatch.setattr(health.cache, "set", down)
    response = client.get("/readyz")
    assert response.status_code == 200  # the host still serves calls: keep it in the pool
    assert response.json() == {"status": "degraded", "checks": {"database": True, "cache": False}}


@pytest.mark.django_db
def test_readiness_answers_503_when_the_database_is_down(client, monkeypatch):
    from userflux_site import health

    def down(*args, **kwargs):
        raise ConnectionError("down")

    monkeypatch.setattr(health.connection, "cursor", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["database"] is False
    assert response["Retry-After"]


def _manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_debug_the_app_refuses_to_start_without_a_secret_key():
    result = _manage("check", env={"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_settings_pass_check_deploy():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "DEBUG": "false",
            "SECRET_KEY": "x" * 20 + "a-long-random-production-key-for-the-test-only",
            "ALLOWED_HOSTS": "api.example.com",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
