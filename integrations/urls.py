from django.urls import path

from . import views

app_name = "integrations"
urlpatterns = [
    path("", views.home_view, name="home"),
    path("settings/", views.settings_view, name="settings"),
    path("runs/<int:run_id>/", views.run_detail_view, name="run"),
    path("activate/", views.activate_view, name="activate"),
    path("pause/", views.pause_view, name="pause"),
    path("resume/", views.resume_view, name="resume"),
    path("run-now/", views.run_now_view, name="run_now"),
    path("failures/<int:failure_id>/retry/", views.failure_retry_view, name="failure_retry"),
    path("reactivate/<str:token>/", views.reactivate_view, name="reactivate"),
]
