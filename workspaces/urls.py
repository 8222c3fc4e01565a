"""URLs of the workspaces app."""

urlpatterns = []
