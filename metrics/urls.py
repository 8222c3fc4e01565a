"""URLs of the metrics app."""

urlpatterns = []
