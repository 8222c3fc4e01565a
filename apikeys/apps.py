from django.apps import AppConfig


class ApikeysConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apikeys"

    def ready(self) -> None:
        from apikeys.models import RejectedCall
        from apikeys.usage.recording import recording_connect
        from core import rejections

        # The rejected-call log samples in `core`; its rows are stored in this app's table.
        rejections.rejection_writer_set(lambda row: RejectedCall.objects.create(**row.__dict__))
        recording_connect()
