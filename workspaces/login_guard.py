"""Sign-in brute-force protection (django-axes): the client address it counts, and the audit.

django-axes counts failed sign-ins on `/login/` and `/admin/login/` per (username, address) in
the database, so every process and host sees the same count. Past `LOGIN_FAILURE_LIMIT` the
pair is locked for `LOGIN_LOCKOUT_MINUTES`, the right password included; `manage.py
axes_reset_username <name>` (or `axes_reset_ip_username`, `axes_reset`) unlocks at once.

Each lock-out is logged and written to the audit trail of every workspace the user belongs to,
so that its admins see that someone was guessing a member's password (axes keeps its own
record of attempts for staff, in Django admin).
"""

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from core.actors import Actor
from core.clientip import client_address
from workspaces.audit import AuditAction, audit_record
from workspaces.models import Membership

logger = logging.getLogger(__name__)


def client_ip(request: Any) -> str | None:
    """The address axes counts: the same proxy-aware client address as everywhere else."""
    address = client_address(request)
    return str(address) if address is not None else None


def lockout_audit(sender: Any, request: Any = None, username: str = "", ip_address=None, **_):
    """Log a lock-out and record it in the audit trail of the user's workspaces."""
    logger.warning("Sign-in locked for %r from %s after too many failures.", username, ip_address)
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is None:
        return  # an unknown name: axes' own records (Django admin) are the trail
    by = Actor(user=None, ip=ip_address, label="anonymous")
    path = getattr(request, "path", "")[:200]
    with transaction.atomic():
        for membership in Membership.objects.filter(user=user).select_related("workspace"):
            audit_record(
                workspace=membership.workspace,
                by=by,
                action=AuditAction.LOGIN_LOCKED_OUT,
                target=user,
                changes={"path": path},
            )
