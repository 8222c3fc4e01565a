"""URLs of the apikeys app: a workspace's key list, each key's page, and the changes made there."""

from django.urls import path

from apikeys import access_views, key_views, views

app_name = "apikeys"

PAGE = "w/<slug:slug>/settings/api/"
KEY = PAGE + "keys/<int:key_id>/"

urlpatterns = [
    path(PAGE, views.settings_page, name="settings"),
    path(PAGE + "audit/", views.audit_page, name="audit"),
    path(PAGE + "keys/", views.key_create, name="key_create"),
    path(KEY, key_views.key_page, name="key"),
    path(KEY + "rename/", key_views.key_rename, name="key_rename"),
    path(KEY + "expiry/", key_views.key_expiry, name="key_expiry"),
    path(KEY + "roll/", key_views.key_roll, name="key_roll"),
    path(KEY + "secrets/<int:secret_id>/end/", key_views.secret_end_now, name="secret_end_now"),
    path(KEY + "revoke/", key_views.key_revoke, name="key_revoke"),
    path(KEY + "cache-ttl/", key_views.metrics_cache_ttl, name="metrics_cache_ttl"),
    path(KEY + "access/", access_views.key_access_mode, name="key_access_mode"),
    path(KEY + "access/enforce/", access_views.key_enforce, name="key_enforce"),
    path(KEY + "rules/", access_views.key_rule_add, name="ip_rule_add"),
    path(KEY + "rules/<int:rule_id>/remove/", access_views.key_rule_remove, name="ip_rule_remove"),
    path(KEY + "events/", access_views.key_allowed_events, name="key_allowed_events"),
    path(KEY + "events/allow/", access_views.key_event_allow, name="key_event_allow"),
]
