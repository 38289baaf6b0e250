"""The Fortnox sandbox in the admin: support staff set a company's warehouse module and fault
profile here too (the company's own page at /sandbox/fortnox/ does the same)."""

from django.contrib import admin

from .models import SandboxApiRequest, SandboxApp, SandboxCompany, SandboxRecord, SandboxUser


@admin.register(SandboxCompany)
class SandboxCompanyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "tenant_id",
        "organisation_number",
        "warehouse_module",
        "error_rate",
        "throttle_burst",
        "latency_ms",
        "lost_response_rate",
    ]
    search_fields = ["name", "organisation_number", "=tenant_id"]


@admin.register(SandboxUser)
class SandboxUserAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "company"]
    exclude = ["password"]


@admin.register(SandboxApp)
class SandboxAppAdmin(admin.ModelAdmin):
    list_display = ["name", "client_id", "redirect_uri"]
    exclude = ["client_secret"]


@admin.register(SandboxRecord)
class SandboxRecordAdmin(admin.ModelAdmin):
    list_display = ["kind", "key", "company", "modified_at"]
    list_filter = ["kind", "company"]
    search_fields = ["key"]


@admin.register(SandboxApiRequest)
class SandboxApiRequestAdmin(admin.ModelAdmin):
    list_display = ["company", "method", "path", "at", "limited"]
    list_filter = ["limited", "company"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
