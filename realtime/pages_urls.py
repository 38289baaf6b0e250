from django.urls import path

from . import views

app_name = "realtime_pages"
urlpatterns = [
    path("renew/", views.webhook_renew_view, name="webhook_renew"),
]
