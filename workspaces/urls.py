"""URLs of the workspaces app: signing in and out (Django's views), and the workspace picker."""

from django.contrib.auth import views as auth_views
from django.urls import path

from workspaces import views

urlpatterns = [
    path("", views.workspace_picker, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    # Django's LogoutView accepts POST only: a link or an image cannot sign anyone out.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
