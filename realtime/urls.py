from django.urls import path

from . import views

app_name = "realtime"
urlpatterns = [
    path("ongoing/<str:token>/", views.ongoing_webhook_view, name="ongoing_webhook"),
]
