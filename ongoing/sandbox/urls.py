"""Mounted at /sandbox/ongoing/ only with SANDBOX_ENABLED (config/urls.py). A warehouse's address,
/sandbox/ongoing/<warehouse>/, is both its operator page and the System a person types."""

from django.urls import path

from . import api, operator

app_name = "ongoing_sandbox"

API = "<slug:warehouse>/api/v1/"

urlpatterns = [
    path("<slug:warehouse>/", operator.warehouse_home, name="home"),
    path("<slug:warehouse>/operator/orders/<int:order_id>/", operator.order_detail, name="order"),
    path(
        "<slug:warehouse>/operator/purchase-orders/<int:purchase_order_id>/",
        operator.purchase_order_detail,
        name="purchase_order",
    ),
    path("<slug:warehouse>/operator/adjust/", operator.inventory_adjust, name="adjust"),
    path(
        "<slug:warehouse>/operator/goods-owners/<int:goods_owner_id>/webhook/",
        operator.goods_owner_webhook,
        name="webhook",
    ),
    path(f"{API}goodsOwners", api.endpoint(GET=api.goods_owners_get)),
    path(f"{API}articles", api.endpoint(GET=api.articles_get, PUT=api.articles_put)),
    path(f"{API}orders", api.endpoint(GET=api.orders_get, PUT=api.orders_put)),
    path(f"{API}orders/statuses", api.endpoint(GET=api.order_statuses_get)),
    path(f"{API}orders/types", api.endpoint(GET=api.order_types_get, PUT=api.order_types_put)),
    path(
        f"{API}orders/<int:order_id>",
        api.endpoint(GET=api.order_get, DELETE=api.order_delete),
    ),
    path(
        f"{API}orders/<int:order_id>/setReportedNumberOfItemsToPickedNumberOfItems",
        api.endpoint(PATCH=api.order_reported_picked_patch),
    ),
    path(
        f"{API}orders/<int:order_id>/setReportedReturnedNumberOfItemsToReturnedNumberOfItems",
        api.endpoint(PATCH=api.order_reported_returned_patch),
    ),
    path(
        f"{API}purchaseOrders",
        api.endpoint(GET=api.purchase_orders_get, PUT=api.purchase_orders_put),
    ),
    path(f"{API}purchaseOrders/statuses", api.endpoint(GET=api.purchase_order_statuses_get)),
    path(
        f"{API}purchaseOrders/<int:purchase_order_id>/setReportedNumberOfItemsToReceivedNumberOfItems",
        api.endpoint(PATCH=api.purchase_order_reported_received_patch),
    ),
    path(f"{API}returnOrders", api.endpoint(GET=api.return_orders_get)),
    path(f"{API}inventoryAdjustments", api.endpoint(GET=api.inventory_adjustments_get)),
    path(
        f"{API}inventoryAdjustments/<int:inventory_id>/articles/<int:article_system_id>/setReported",
        api.endpoint(PATCH=api.inventory_adjustment_reported_patch),
    ),
    path(f"{API}<path:rest>", api.not_found),
]
