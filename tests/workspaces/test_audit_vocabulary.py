"""Audit actions are one vocabulary: defined once with their words, and nothing else is written."""

import re
from pathlib import Path

import pytest

from core.actors import SYSTEM
from workspaces.audit import AuditAction, audit_action_label, audit_record
from workspaces.models import AuditEvent

ROOT = Path(__file__).resolve().parents[2]
APPS = ["core", "workspaces", "apikeys", "ingest", "metrics"]
FREE_STRING = re.compile(r"""action\s*=\s*["'][a-z_]+\.[a-z_]+["']""")


@pytest.mark.django_db
def test_an_action_off_the_list_is_refused_and_writes_nothing(workspace):
    with pytest.raises(ValueError):
        audit_record(workspace=workspace, by=SYSTEM, action="key.frobnicate", target=workspace)
    assert not AuditEvent.objects.filter(action="key.frobnicate").exists()


@pytest.mark.django_db
def test_a_listed_action_is_stored_as_its_plain_name(workspace):
    event = audit_record(
        workspace=workspace, by=SYSTEM, action=AuditAction.API_KEY_ROLL, target=workspace
    )
    assert AuditEvent.objects.get(pk=event.pk).action == "api_key.roll"


def test_every_action_has_its_words_and_an_unknown_one_is_shown_as_stored():
    for action in AuditAction:
        assert audit_action_label(action.value) == action.label != action.value
    assert audit_action_label("old.action") == "old.action"


def test_no_app_writes_an_audit_action_as_a_free_string():
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        for match in FREE_STRING.finditer(path.read_text())
    ]
    assert found == []
