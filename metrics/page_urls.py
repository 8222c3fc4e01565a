"""URLs of the Metrics page: a workspace's saved metrics and the changes its admins make."""

from django.urls import path

from metrics import views

app_name = "metrics"

PAGE = "w/<slug:slug>/metrics/"
METRIC = PAGE + "<uuid:metric_id>/"

urlpatterns = [
    path(PAGE, views.metrics_page, name="page"),
    path(PAGE + "new/", views.metric_create, name="create"),
    path(METRIC, views.metric_page, name="metric"),
    path(METRIC + "edit/", views.metric_update, name="update"),
    path(METRIC + "run/", views.metric_run, name="run"),
    path(METRIC + "delete/", views.metric_delete, name="delete"),
]
