"""The real client, unchanged, against the sandbox (see conftest: requests are answered by the
sandbox's views in-process)."""

from datetime import timedelta

import pytest

from fortnox.client import FortnoxClient
from fortnox.errors import (
    FortnoxAuthError,
    FortnoxNotFound,
    FortnoxRateLimited,
    FortnoxValidationError,
)
from fortnox.sandbox import store
from fortnox.sandbox.models import SandboxApiRequest, SandboxRecord
from fortnox.sandbox.seed import COMPANY_NAME, ORGANISATION_NUMBER, TENANT_ID
from integrations.metering import metering

Kind = SandboxRecord.Kind


@pytest.fixture
def client(connection, sandbox):
    return FortnoxClient.for_tenant(connection.tenant, sleep=sandbox.clock.sleep)


def test_consent_identifies_the_company(connection):
    assert connection.fortnox_tenant_id == TENANT_ID
    assert connection.company_name == COMPANY_NAME
    assert connection.organisation_number == ORGANISATION_NUMBER
    assert "article" in connection.scopes
    assert connection.tenant.fortnox_tenant_id == TENANT_ID


def test_company_information_and_every_call_is_metered(client):
    with metering() as meter:
        info = client.company_information()
    assert info["CompanyName"] == COMPANY_NAME
    assert meter["fortnox"] == 1


def test_articles_paging_subset_and_full_get(client, monkeypatch):
    monkeypatch.setattr("fortnox.client.PAGE_SIZE", 50)
    with metering() as meter:
        articles = list(client.articles_list())
    assert len(articles) == 220
    assert meter["fortnox"] == 5  # 220 articles, 50 a page
    assert len({article["ArticleNumber"] for article in articles}) == 220
    listed = next(a for a in articles if a["ArticleNumber"] == "1000")
    # List items are a subset, some numbers as strings, plus @url.
    assert "Width" not in listed
    assert isinstance(listed["QuantityInStock"], str)
    assert listed["@url"].endswith("/3/articles/1000")
    full = client.article_get("1000")
    assert full["StockGoods"] is True
    assert full["EAN"] and full["Width"] and full["SupplierNumber"]
    assert client.article_get("T001")["StockGoods"] is False


def test_article_stock_update_and_lastmodified(client, sandbox):
    later = sandbox.clock.now() + 60
    sandbox.clock.sleep(120)
    client.article_stock_update("1001", 77)
    assert client.article_get("1001")["QuantityInStock"] == 77
    from datetime import UTC, datetime

    since = datetime.fromtimestamp(later, tz=UTC)
    changed = list(client.articles_list(lastmodified=since))
    assert [article["ArticleNumber"] for article in changed] == ["1001"]


def test_article_filters(client):
    by_supplier = list(client.articles_list(supplier_number="1"))
    assert by_supplier and all(a["ArticleNumber"] for a in by_supplier)
    ean = client.article_get("1002")["EAN"]
    assert [a["ArticleNumber"] for a in client.articles_list(ean=ean)] == ["1002"]
    assert len(list(client.articles_list(filter="inactive"))) > 0


def test_suppliers_and_customers(client):
    suppliers = list(client.suppliers_list())
    assert len(suppliers) >= 20
    assert client.supplier_get(suppliers[0]["SupplierNumber"])["Name"]
    customers = list(client.customers_list())
    assert len(customers) >= 50
    types = {client.customer_get(c["CustomerNumber"])["Type"] for c in customers[:6]}
    assert types == {"PRIVATE", "COMPANY"}


def test_orders_filters_and_states(client):
    everything = list(client.orders_list())
    open_orders = list(client.orders_list(filter="invoicenotcreated"))
    invoiced = list(client.orders_list(filter="invoicecreated"))
    cancelled = list(client.orders_list(filter="cancelled"))
    assert len(everything) >= 100
    assert open_orders and invoiced and cancelled
    assert not {o["DocumentNumber"] for o in open_orders} & {
        o["DocumentNumber"] for o in invoiced + cancelled
    }
    sent = list(client.orders_list(filter="invoicenotcreated", sent=True))
    assert sent and all(o["Sent"] for o in sent)
    with pytest.raises(FortnoxValidationError) as caught:
        client.request("GET", "3/orders", params=[("filter", "cancelled"), ("filter", "expired")])
    assert caught.value.code == store.INVALID_PARAMETER


def test_fulfil_an_order_partially_makes_an_invoice_and_a_back_order(client):
    number = next(iter(client.orders_list(filter="invoicenotcreated")))["DocumentNumber"]
    order = client.order_get(number)
    first = order["OrderRows"][0]
    ordered = {row["RowId"]: row["OrderedQuantity"] for row in order["OrderRows"]}
    delivered = dict(ordered)
    delivered[first["RowId"]] = ordered[first["RowId"]] - 1 if ordered[first["RowId"]] > 1 else 0
    if not any(delivered.values()):
        delivered[first["RowId"]] = 1
        client.order_quantities_update(number, ordered={first["RowId"]: 2})
    updated = client.order_quantities_update(number, delivered=delivered)
    assert [row["RowId"] for row in updated["OrderRows"]] == list(ordered)
    invoice = client.order_invoice_create(number)
    assert invoice["OrderReference"] == number
    assert (
        client.invoice_get(invoice["DocumentNumber"])["DocumentNumber"] == invoice["DocumentNumber"]
    )
    assert client.order_get(number)["InvoiceReference"] == invoice["DocumentNumber"]
    back_orders = [
        client.order_get(o["DocumentNumber"])
        for o in client.orders_list(filter="invoicenotcreated")
        if o["OrderType"] == "Backorder"
    ]
    assert any(number in back_order["Remarks"] for back_order in back_orders)
    # An invoiced order cannot change any more: Fortnox's validation error, with its code.
    with pytest.raises(FortnoxValidationError) as caught:
        client.order_cancel(number)
    assert caught.value.code == store.CANNOT_CHANGE
    assert caught.value.failure_kind == "validation"


def test_order_cancel_and_unknown_row(client):
    number = next(iter(client.orders_list(filter="invoicenotcreated")))["DocumentNumber"]
    with pytest.raises(FortnoxValidationError):
        client.order_quantities_update(number, delivered={"999": 1})
    assert client.order_cancel(number)["Cancelled"] is True


def test_not_found(client):
    with pytest.raises(FortnoxNotFound) as caught:
        client.article_get("NOPE")
    assert caught.value.status == 404
    assert caught.value.code == store.NOT_FOUND_CODE


def test_warehouse_module_off_then_on(client, sandbox):
    assert client.warehouse_tenant() == {"tenantId": TENANT_ID, "activated": False}
    with pytest.raises(FortnoxAuthError) as caught:
        client.purchase_orders_list()
    # A licence missing for one scope stops that process, not the run.
    assert caught.value.stops_run is False
    with pytest.raises(FortnoxAuthError):
        client.order_warehouse_ready("1")
    sandbox.company.warehouse_module = True
    sandbox.company.save()
    assert client.warehouse_tenant()["activated"] is True


def test_warehouse_documents_incoming_goods_and_purchase_orders(client, sandbox):
    sandbox.company.warehouse_module = True
    sandbox.company.save()
    stock_before = client.article_get("1000")["QuantityInStock"]
    balance = client.warehouse_stock_balance(item_ids=["1000", "T001"])
    assert [b["itemId"] for b in balance] == ["1000"]
    assert balance[0]["inStock"] == stock_before

    document = {"date": "2026-11-23", "rows": [{"rowId": 1, "itemId": "1000", "quantity": 5}]}
    saved = client.custom_document_save(
        direction="inbound",
        document_type="OngoingInboundInventory",
        document_id="42",
        document=document,
    )
    assert saved["id"] == "42"
    # Saving again under the same id is harmless (idempotent).
    client.custom_document_save(
        direction="inbound",
        document_type="OngoingInboundInventory",
        document_id="42",
        document=document,
    )
    client.custom_document_release(
        direction="inbound", document_type="OngoingInboundInventory", document_id="42"
    )
    assert client.article_get("1000")["QuantityInStock"] == stock_before + 5
    with pytest.raises(FortnoxValidationError) as caught:
        client.custom_document_save(
            direction="outbound",
            document_type="OngoingInboundInventory",
            document_id="43",
            document={"deliveryState": "delivered", "rows": []},
        )
    assert "registered as INBOUND" in caught.value.message
    with pytest.raises(ValueError):
        client.custom_document_save(
            direction="inbound", document_type="X", document_id="abc", document={}
        )

    purchase_orders = client.purchase_orders_list()
    assert purchase_orders and all(po["purchaseType"] == "WAREHOUSE" for po in purchase_orders)
    po = client.purchase_order_get(purchase_orders[0]["id"])
    row = po["rows"][0]
    goods = client.incoming_goods_create(
        {
            "deliveryNoteId": "FS-1",
            "supplierNumber": po["supplierNumber"],
            "rows": [
                {
                    "itemId": row["itemId"],
                    "receivedQuantity": row["orderedQuantity"],
                    "purchaseOrderId": po["id"],
                    "purchaseOrderRowId": row["id"],
                }
            ],
        }
    )
    # Listed by a text its deliveryNoteId contains, any case; summaries without rows.
    assert [g["id"] for g in client.incoming_goods_list(delivery_note="fs-")] == [goods["id"]]
    assert client.incoming_goods_list(delivery_note="FS-2") == []
    assert "rows" not in client.incoming_goods_list()[0]
    client.incoming_goods_release(goods["id"])
    completed = client.incoming_goods_complete(goods["id"], booking_date="2026-11-23")
    assert completed["completed"] is True
    assert client.purchase_order_complete(po["id"])["id"] == po["id"]
    assert po["id"] not in [p["id"] for p in client.purchase_orders_list()]


def test_a_throttle_burst_is_waited_out(client, sandbox):
    sandbox.company.throttle_burst = 2
    sandbox.company.save()
    assert client.company_information()["CompanyName"] == COMPANY_NAME
    assert sandbox.router.count("/3/companyinformation") == 3 + 1  # + the consent's own call
    assert sandbox.clock.slept  # Retry-After honoured, in simulated time


def test_rate_limited_for_good_gives_up_typed(client, sandbox, settings):
    settings.FORTNOX_RATE_LIMIT_RETRIES = 2
    sandbox.company.throttle_burst = 10
    sandbox.company.save()
    with pytest.raises(FortnoxRateLimited) as caught:
        client.company_information()
    assert caught.value.failure_kind == "rate_limit"
    assert caught.value.retry_after == 1


def test_expired_access_token_is_refreshed_once_and_retried(client, connection, sandbox):
    # Fortnox rejects the token although we think it is valid (clock skew, a revoked token):
    # the sandbox's clock runs past the token's exp.
    sandbox.clock.sleep(3700)
    assert client.company_information()["CompanyName"] == COMPANY_NAME
    assert sandbox.router.count("/oauth-v1/token") == 2  # the consent's code + one refresh
    connection.refresh_from_db()
    assert connection.last_refresh_success_at is not None
    assert connection.access_expires_at > connection.connected_at + timedelta(seconds=1)


def test_request_log_is_per_company(client, sandbox):
    client.company_information()
    assert SandboxApiRequest.objects.filter(company=sandbox.company).count() >= 2
