"""URLs of the apikeys app."""

urlpatterns = []
