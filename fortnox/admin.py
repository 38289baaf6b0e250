from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from .errors import FortnoxError
from .models import FortnoxConnection, PendingFortnoxActivation
from .services.tokens import connection_token_refresh

# Tokens are never shown, not even encrypted.
TOKEN_FIELDS = ["access_token", "refresh_token"]


@admin.register(FortnoxConnection)
class FortnoxConnectionAdmin(admin.ModelAdmin):
    list_display = [
        "tenant",
        "company_name",
        "fortnox_tenant_id",
        "status",
        "access_expires_at",
        "last_refresh_success_at",
        "last_refresh_failure_at",
        "refresh_failures",
    ]
    list_filter = ["status"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__name", "company_name", "organisation_number", "=fortnox_tenant_id"]
    exclude = TOKEN_FIELDS
    actions = ["refresh_now"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in TOKEN_FIELDS]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Refresh the tokens now"))
    def refresh_now(self, request, queryset):
        for connection in queryset:
            try:
                connection_token_refresh(connection_id=connection.pk)
            except FortnoxError as error:
                self.message_user(request, f"{connection}: {error}", messages.WARNING)
            else:
                self.message_user(request, f"{connection}: {_('refreshed')}", messages.SUCCESS)


@admin.register(PendingFortnoxActivation)
class PendingFortnoxActivationAdmin(admin.ModelAdmin):
    list_display = ["company_name", "fortnox_tenant_id", "created_at", "claimed_at", "claimed_by"]
    search_fields = ["company_name", "organisation_number", "=fortnox_tenant_id"]
    exclude = TOKEN_FIELDS

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in TOKEN_FIELDS]

    def has_add_permission(self, request):
        return False
