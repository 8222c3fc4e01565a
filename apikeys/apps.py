from django.apps import AppConfig


class ApikeysConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apikeys"

    def ready(self) -> None:
        from apikeys.usage.recording import recording_connect

        recording_connect()
