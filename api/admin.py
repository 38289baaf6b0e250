from django.contrib import admin

from .models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "tenant", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["tenant"]
    search_fields = ["name", "=prefix", "tenant__name"]
    # The hash is of no use to a person; keys are created on the company's settings page only.
    exclude = ["key_hash"]
    readonly_fields = ["tenant", "name", "prefix", "created_by", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False
