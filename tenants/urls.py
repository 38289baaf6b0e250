from django.urls import path

from . import views

app_name = "tenants"
urlpatterns = [
    path("new/", views.tenant_create_view, name="create"),
    path("<int:tenant_id>/switch/", views.tenant_switch_view, name="switch"),
]
