"""The admin site support staff work in: its index page is the dashboard."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _


class SupportAdminSite(admin.AdminSite):
    site_header = _("Ongoing WMS ⇄ Fortnox · support")
    site_title = _("Ongoing WMS ⇄ Fortnox support")
    index_title = _("Dashboard")
    index_template = "admin/dashboard.html"

    def index(self, request, extra_context=None):
        from integrations.dashboard import dashboard

        return super().index(request, {"dashboard": dashboard(), **(extra_context or {})})


class SupportAdminConfig(AdminConfig):
    default_site = "config.admin.SupportAdminSite"
