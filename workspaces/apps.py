from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "workspaces"

    def ready(self) -> None:
        from axes.signals import user_locked_out

        from workspaces.login_guard import lockout_audit

        user_locked_out.connect(lockout_audit, dispatch_uid="workspaces.lockout_audit")
