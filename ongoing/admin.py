from django.contrib import admin

from .models import OngoingConnection


@admin.register(OngoingConnection)
class OngoingConnectionAdmin(admin.ModelAdmin):
    """Support reads the connection here; the password is never shown (and cannot be typed in
    here either: a changed password must pass the credential check of the onboarding form)."""

    list_display = ["tenant", "warehouse", "goods_owner_id", "username", "status", "verified_at"]
    list_filter = ["status"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__name", "warehouse", "username", "=goods_owner_id"]
    exclude = ["password"]
    readonly_fields = [
        "tenant",
        "system",
        "warehouse",
        "api_base_url",
        "goods_owner_id",
        "goods_owner_name",
        "username",
        "status",
        "verified_at",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return False
