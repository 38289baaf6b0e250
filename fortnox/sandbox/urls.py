"""Mounted at /sandbox/fortnox/ only with SANDBOX_ENABLED. Paths mirror Fortnox's own
(apps.fortnox.se/oauth-v1/…, api.fortnox.se/3/…, api.fortnox.se/api/warehouse/…), so the client
differs only by base URL. API paths take no trailing slash, as Fortnox's, and the client follows
no redirects, so none is ever needed."""

from django.urls import path, re_path

from . import api, ui, views

app_name = "fortnox_sandbox"

CLASSIC = "|".join(api.COLLECTIONS)

urlpatterns = [
    path("", ui.home_view, name="index"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("marketplace/", views.marketplace_view, name="marketplace"),
    # OAuth
    path("oauth-v1/auth", views.authorize_view, name="authorize"),
    path("oauth-v1/token", views.token_view, name="token"),
    path("oauth-v1/revoke", views.revoke_view, name="revoke"),
    # Classic API
    path("3/companyinformation", api.company_information, name="companyinformation"),
    re_path(r"^3/orders/(?P<key>[^/]+)/createinvoice$", api.order_create_invoice),
    re_path(r"^3/orders/(?P<key>[^/]+)/cancel$", api.order_cancel),
    re_path(r"^3/orders/(?P<key>[^/]+)/warehouseready$", api.order_warehouse_ready),
    re_path(r"^3/invoices/(?P<key>[^/]+)/warehouseready$", api.invoice_warehouse_ready),
    *[
        re_path(rf"^3/{resource}$", view, name=f"api_{resource}")
        for resource, view in api.COLLECTIONS.items()
    ],
    *[re_path(rf"^3/{resource}/(?P<key>[^/]+)$", view) for resource, view in api.ITEMS.items()],
    # Warehouse API
    path("api/warehouse/tenants-v4", api.warehouse_tenant),
    path("api/warehouse/status-v1/stockbalance", api.stock_balance),
    re_path(
        r"^api/warehouse/documentdeliveries/custom/(?P<category>inbound|outbound)-v1/"
        r"(?P<document_type>[^/]+)/(?P<document_id>[^/]+)$",
        api.custom_document,
    ),
    re_path(
        r"^api/warehouse/documentdeliveries/custom/(?P<category>inbound|outbound)-v1/"
        r"(?P<document_type>[^/]+)/(?P<document_id>[^/]+)/release$",
        api.custom_document_release,
    ),
    re_path(r"^api/warehouse/incominggoods-v1/?$", api.incoming_goods),
    re_path(r"^api/warehouse/incominggoods-v1/(?P<key>[^/]+)/release$", api.incoming_goods_release),
    re_path(
        r"^api/warehouse/incominggoods-v1/(?P<key>[^/]+)/completed$", api.incoming_goods_completed
    ),
    path("api/warehouse/purchaseorders-v1", api.purchase_orders),
    re_path(r"^api/warehouse/purchaseorders-v1/(?P<key>[^/]+)$", api.purchase_order),
    re_path(
        r"^api/warehouse/purchaseorders-v1/(?P<key>[^/]+)/complete$", api.purchase_order_complete
    ),
    # The person playing the Fortnox user
    path("ui/articles/", ui.article_list_view, name="articles"),
    path("ui/articles/new/", ui.article_edit_view, name="article_new"),
    path("ui/articles/<str:key>/", ui.article_edit_view, name="article"),
    path("ui/customers/", ui.customer_list_view, name="customers"),
    path("ui/customers/new/", ui.customer_edit_view, name="customer_new"),
    path("ui/customers/<str:key>/", ui.customer_edit_view, name="customer"),
    path("ui/orders/", ui.order_list_view, name="orders"),
    path("ui/orders/new/", ui.order_edit_view, name="order_new"),
    path("ui/orders/<str:key>/", ui.order_edit_view, name="order"),
    path("ui/invoices/", ui.invoice_list_view, name="invoices"),
    path("ui/invoices/<str:key>/", ui.invoice_detail_view, name="invoice"),
]
