"""Every change to a key: validated, written and audited in one transaction.

The settings page, Django admin and the management commands all call these functions; nothing
else writes keys, secrets or address rules. Each change bumps the key's `version` in its own
transaction, and once it commits every process drops what it knew of keys
(`keycache.key_config_changed`): the change holds at once through Redis, and within the key
cache's staleness bound through the version whatever Redis does.

`keys` holds a key's life (create, roll, rename, revoke, expiry, cache TTL), `access` who may
use it (access mode, address rules, allowed events), `common` the lock and change record both
share; `apikeys.restrict_services` builds the evidence-based restrictions on them.
"""

from apikeys.services.access import (
    MAX_ALLOWED_EVENTS,
    api_key_set_access_mode,
    api_key_set_allowed_events,
    event_names_check,
    ip_rule_add,
    ip_rule_remove,
)
from apikeys.services.keys import (
    SENT_TWICE,
    IssuedKey,
    api_key_create,
    api_key_rename,
    api_key_revoke,
    api_key_roll,
    api_key_set_expiry,
    metrics_cache_ttl_set,
)

__all__ = [
    "MAX_ALLOWED_EVENTS",
    "SENT_TWICE",
    "IssuedKey",
    "api_key_create",
    "api_key_rename",
    "api_key_revoke",
    "api_key_roll",
    "api_key_set_access_mode",
    "api_key_set_allowed_events",
    "api_key_set_expiry",
    "event_names_check",
    "ip_rule_add",
    "ip_rule_remove",
    "metrics_cache_ttl_set",
]
