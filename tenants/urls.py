from django.urls import path

from . import views

app_name = "tenants"
urlpatterns = [
    path("new/", views.tenant_create_view, name="create"),
    path("<int:tenant_id>/switch/", views.tenant_switch_view, name="switch"),
    path("team/", views.team_view, name="team"),
    path("team/invite/", views.team_invite_view, name="team_invite"),
    path("team/members/<int:membership_id>/role/", views.team_role_view, name="team_role"),
    path("team/members/<int:membership_id>/remove/", views.team_remove_view, name="team_remove"),
    path(
        "team/invitations/<int:invitation_id>/revoke/",
        views.team_revoke_view,
        name="team_revoke",
    ),
    path("invitations/<str:token>/", views.invitation_view, name="invitation"),
]
