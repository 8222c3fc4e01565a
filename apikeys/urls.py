"""URLs of the apikeys app: a workspace's API settings page and the changes made from it."""

from django.urls import path

from apikeys import views

app_name = "apikeys"

PAGE = "w/<slug:slug>/settings/api/"
KEY = PAGE + "keys/<int:key_id>/"

urlpatterns = [
    path(PAGE, views.settings_page, name="settings"),
    path(PAGE + "keys/", views.key_create, name="key_create"),
    path(KEY + "roll/", views.key_roll, name="key_roll"),
    path(KEY + "revoke/", views.key_revoke, name="key_revoke"),
    path(KEY + "access/", views.key_access_mode, name="key_access_mode"),
    path(KEY + "rules/", views.ip_rule_add, name="ip_rule_add"),
    path(KEY + "rules/<int:rule_id>/remove/", views.ip_rule_remove, name="ip_rule_remove"),
    path(KEY + "events/", views.key_allowed_events, name="key_allowed_events"),
    path(KEY + "cache-ttl/", views.metrics_cache_ttl, name="metrics_cache_ttl"),
]
