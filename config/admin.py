"""The admin site support staff work in: its index page is the dashboard."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class SupportAdminSite(admin.AdminSite):
    site_header = _("Ongoing WMS ⇄ Fortnox · support")
    site_title = _("Ongoing WMS ⇄ Fortnox support")
    index_title = _("Dashboard")
    index_template = "admin/dashboard.html"

    def get_app_list(self, request, app_label=None):
        """Built once per request: the index shows the list and every admin page's context holds it
        again for the sidebar; each build checks a permission and reverses URLs for every model
        (9 ms for a superuser on the loaded benchmark machine)."""
        if app_label is not None:
            return super().get_app_list(request, app_label)
        if not hasattr(request, "_support_app_list"):
            request._support_app_list = super().get_app_list(request)
        return request._support_app_list

    def index(self, request, extra_context=None):
        from integrations.dashboard import dashboard_cached

        return super().index(request, {"dashboard": dashboard_cached(), **(extra_context or {})})


# Support staff see everything these apps hold and use the actions; they change integrations and
# failures (settings, resolving) but delete nothing. Secrets are excluded from every admin form,
# so viewing cannot reveal them.
SUPPORT_GROUP = "Support"
SUPPORT_APPS = ("tenants", "integrations", "fortnox", "ongoing", "api", "account")
SUPPORT_CHANGE = ("change_integration", "change_processsetting", "change_syncfailure")


def support_group_sync(**kwargs):
    """Create or update the Support group after every migrate."""
    from django.contrib.auth.models import Group, Permission

    group, _created = Group.objects.get_or_create(name=SUPPORT_GROUP)
    permissions = Permission.objects.filter(content_type__app_label__in=SUPPORT_APPS).filter(
        codename__startswith="view_"
    ) | Permission.objects.filter(
        content_type__app_label="integrations", codename__in=SUPPORT_CHANGE
    )
    group.permissions.set(permissions)


class SupportAdminConfig(AdminConfig):
    default_site = "config.admin.SupportAdminSite"

    def ready(self):
        super().ready()
        post_migrate.connect(support_group_sync, dispatch_uid="support_group_sync")
