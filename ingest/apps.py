from django.apps import AppConfig


class IngestConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "ingest"

    def ready(self) -> None:
        from apikeys.catalogue import event_catalogue_set
        from ingest.selectors import event_names_seen

        # The settings page offers the names this app has seen when a key's events are chosen.
        event_catalogue_set(event_names_seen)
