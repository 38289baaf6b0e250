from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import views

app_name = "api"
urlpatterns = [
    path("integration/", views.IntegrationStatusView.as_view(), name="integration"),
    path("integration/run-now/", views.RunNowView.as_view(), name="run_now"),
    path("integration/pause/", views.PauseView.as_view(), name="pause"),
    path("integration/resume/", views.ResumeView.as_view(), name="resume"),
    path("settings/", views.SettingsView.as_view(), name="settings"),
    path("runs/", views.RunListView.as_view(), name="runs"),
    # Any integer reaches the view, which answers 404 in JSON for ids that cannot exist.
    re_path(r"^runs/(?P<pk>-?\d+)/$", views.RunDetailView.as_view(), name="run"),
    path("failures/", views.FailureListView.as_view(), name="failures"),
    re_path(
        r"^failures/(?P<pk>-?\d+)/retry/$", views.FailureRetryView.as_view(), name="failure_retry"
    ),
    path("links/", views.RecordLinkListView.as_view(), name="links"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]
