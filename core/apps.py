from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The request edge every app stands on: addresses, limits, refusals, errors, admin base."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
