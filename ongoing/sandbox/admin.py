"""The sandbox in the admin: mostly to set a goods owner's fault profile for reliability tests."""

from django.contrib import admin

from .models import (
    ApiUser,
    Article,
    GoodsOwner,
    InventoryAdjustment,
    Order,
    OrderLine,
    PurchaseOrder,
    PurchaseOrderLine,
    Warehouse,
)


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["name", "display_name", "customer_id"]


@admin.register(GoodsOwner)
class GoodsOwnerAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "warehouse",
        "error_rate",
        "throttle_burst",
        "latency_ms",
        "lost_response_rate",
    ]
    list_filter = ["warehouse"]


@admin.register(ApiUser)
class ApiUserAdmin(admin.ModelAdmin):
    list_display = ["username", "warehouse", "goods_owner"]
    exclude = ["password_salt", "password_digest"]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["article_number", "goods_owner", "number_of_items", "data_updated_at"]
    list_filter = ["goods_owner"]
    search_fields = ["article_number"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ["article"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["order_number", "goods_owner", "status", "status_changed_at", "shipped_at"]
    list_filter = ["goods_owner", "status"]
    search_fields = ["order_number"]
    inlines = [OrderLineInline]


class PurchaseOrderLineInline(admin.TabularInline):
    model = PurchaseOrderLine
    extra = 0
    raw_id_fields = ["article"]


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin):
    list_display = ["purchase_order_number", "goods_owner", "status", "last_received_at"]
    list_filter = ["goods_owner", "status"]
    inlines = [PurchaseOrderLineInline]


@admin.register(InventoryAdjustment)
class InventoryAdjustmentAdmin(admin.ModelAdmin):
    list_display = ["pk", "article", "number_of_items", "adjusted_at", "is_reported"]
    list_filter = ["goods_owner", "is_reported"]
