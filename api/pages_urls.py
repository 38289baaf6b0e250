from django.urls import path

from . import pages

app_name = "api_keys"
urlpatterns = [
    path("", pages.api_keys_view, name="list"),
    path("<int:key_id>/revoke/", pages.api_key_revoke_view, name="revoke"),
]
