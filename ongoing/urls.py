from django.urls import path

from . import views

app_name = "ongoing"
urlpatterns = [
    path("", views.connection_view, name="connection"),
    path("disconnect/", views.disconnect_view, name="disconnect"),
]
