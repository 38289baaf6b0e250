"""The pages where a person plays the Fortnox user."""

import pytest

from fortnox.sandbox.models import SandboxRecord
from fortnox.sandbox.store import record_find

Kind = SandboxRecord.Kind


@pytest.fixture
def person(client, sandbox):
    client.post("/sandbox/fortnox/login/", {"email": sandbox.email, "password": sandbox.password})
    return client


def test_pages_need_a_sandbox_login(client, sandbox):
    assert "/sandbox/fortnox/login/" in client.get("/sandbox/fortnox/ui/orders/")["Location"]
    wrong = client.post("/sandbox/fortnox/login/", {"email": sandbox.email, "password": "x"})
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "",
        "ui/articles/",
        "ui/articles/1000/",
        "ui/articles/new/",
        "ui/customers/",
        "ui/customers/1/",
        "ui/orders/",
        "ui/orders/?tab=backorders",
        "ui/orders/1/",
        "ui/orders/new/",
        "ui/invoices/",
        "ui/invoices/1001/",
        "marketplace/",
    ],
)
def test_pages_render(person, path):
    assert person.get(f"/sandbox/fortnox/{path}").status_code == 200


def test_warehouse_switch_and_faults(person, sandbox):
    response = person.post(
        "/sandbox/fortnox/",
        {
            "warehouse_module": "on",
            "error_rate": "0.5",
            "throttle_burst": "2",
            "latency_ms": "0",
            "lost_response_rate": "0",
        },
    )
    assert response.status_code == 302
    sandbox.company.refresh_from_db()
    assert sandbox.company.warehouse_module is True
    assert sandbox.company.error_rate == 0.5
    assert sandbox.company.throttle_burst == 2


def test_create_an_article_and_an_order_then_invoice_it(person, sandbox):
    person.post(
        "/sandbox/fortnox/ui/articles/new/",
        {
            "ArticleNumber": "NY-1",
            "Description": "Ny artikel",
            "StockGoods": "on",
            "QuantityInStock": "10",
            "Unit": "st",
            "Active": "on",
        },
    )
    assert record_find(sandbox.company, Kind.ARTICLE, "NY-1").data["Type"] == "STOCK"
    response = person.post(
        "/sandbox/fortnox/ui/orders/new/",
        {
            "CustomerNumber": "1",
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "0",
            "form-0-ArticleNumber": "NY-1",
            "form-0-OrderedQuantity": "4",
            "form-0-DeliveredQuantity": "3",
        },
    )
    assert response.status_code == 302
    number = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    person.post(f"/sandbox/fortnox/ui/orders/{number}/", {"action": "invoice"})
    order = record_find(sandbox.company, Kind.ORDER, number).data
    assert order["InvoiceReference"]
    assert record_find(sandbox.company, Kind.ARTICLE, "NY-1").data["QuantityInStock"] == 7
    back_orders = SandboxRecord.objects.filter(
        company=sandbox.company, kind=Kind.ORDER, data__OrderType="Backorder"
    )
    assert any(f"order {number}" in b.data["Remarks"] for b in back_orders)


@pytest.mark.parametrize(
    "model", ["sandboxcompany", "sandboxuser", "sandboxapp", "sandboxrecord", "sandboxapirequest"]
)
def test_admin_pages(admin_client, sandbox, model):
    assert admin_client.get(f"/admin/fortnox_sandbox/{model}/").status_code == 200
