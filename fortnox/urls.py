from django.urls import path

from . import views

app_name = "fortnox"
urlpatterns = [
    path("", views.connection_view, name="connection"),
    path("connect/", views.connect_view, name="connect"),
    path("disconnect/", views.disconnect_view, name="disconnect"),
    # The redirect URI registered with Fortnox (settings.FORTNOX_REDIRECT_URI).
    path("callback/", views.callback_view, name="callback"),
    path("activation/", views.activation_view, name="activation"),
    path("consent-link/", views.consent_link_create_view, name="consent_link_create"),
    path("consent/<str:token>/", views.consent_link_view, name="consent_link"),
]
