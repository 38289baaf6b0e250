"""The canonical state ignores only what two runs of the same business may number or time
differently, and the audit finds duplicates and losses it is shown."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bench.chaos.state import Names, audit, canonical_state, differences, quantity_differences
from fortnox.sandbox.models import SandboxCompany, SandboxRecord
from ongoing.sandbox.models import Article, GoodsOwner, Order, OrderLine, Warehouse
from ongoing.statuses import OrderStatus

pytestmark = pytest.mark.django_db
Kind = SandboxRecord.Kind
NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)


def test_back_orders_are_named_after_the_order_they_came_from():
    names = Names(
        {
            "5": {"YourOrderNumber": "C1", "Remarks": ""},
            "9": {
                "YourOrderNumber": "C1",
                "OrderType": "Backorder",
                "Remarks": "Restorder från order 5.",
            },
            "12": {
                "YourOrderNumber": "C1",
                "OrderType": "Backorder",
                "Remarks": "Restorder från order 9. Restorder från order 5.",
            },
        }
    )
    assert [names.of(n) for n in ("5", "9", "12", "77")] == ["C1", "C1/B", "C1/B/B", "?77"]
    assert names.text("Restorder från order 9. Retur på order 12") == (
        "Restorder från order C1/B. Retur på order C1/B/B"
    )


def book(tenant_id: int = 1, *, order_number: str, back_order: str, invoice: str, delivered=2):
    """One company: an order delivered short, its invoice and back order, and the warehouse
    order it came from, numbered as this run happened to number them."""
    company = SandboxCompany.objects.create(
        tenant_id=tenant_id, database_number=tenant_id, name="AB", organisation_number="1"
    )
    warehouse = Warehouse.objects.create(name=f"w{tenant_id}", display_name="W")
    owner = GoodsOwner.objects.create(warehouse=warehouse, name="Ägare")

    def record(kind, key, data):
        SandboxRecord.objects.create(
            company=company, kind=kind, key=key, data=data, created_at=NOW, modified_at=NOW
        )

    row = {"RowId": 1, "ArticleNumber": "A", "OrderedQuantity": 3, "DeliveredQuantity": delivered}
    record(
        Kind.ORDER,
        order_number,
        {
            "DocumentNumber": order_number,
            "YourOrderNumber": "C1",
            "Sent": True,
            "InvoiceReference": invoice,
            "OrderDate": f"2026-03-0{tenant_id % 9}",
            "Remarks": "",
            "OrderRows": [row],
        },
    )
    record(
        Kind.ORDER,
        back_order,
        {
            "DocumentNumber": back_order,
            "YourOrderNumber": "C1",
            "OrderType": "Backorder",
            "Sent": False,
            "InvoiceReference": "",
            "Remarks": f"Restorder från order {order_number}.",
            "OrderRows": [{**row, "OrderedQuantity": 1, "DeliveredQuantity": 1}],
        },
    )
    record(
        Kind.INVOICE,
        invoice,
        {
            "DocumentNumber": invoice,
            "OrderReference": order_number,
            "InvoiceDate": "2026-03-02",
            "InvoiceRows": [{"ArticleNumber": "A", "DeliveredQuantity": delivered}],
        },
    )
    article = Article.objects.create(
        goods_owner=owner,
        article_number="A",
        number_of_items=Decimal(5),
        data_updated_at=NOW,
        stock_changed_at=NOW,
    )
    order = Order.objects.create(
        goods_owner=owner,
        order_number=order_number,
        status=OrderStatus.SENT,
        updated_at=NOW,
        status_changed_at=NOW,
    )
    OrderLine.objects.create(
        order=order,
        row_number="1",
        article=article,
        ordered=3,
        picked=delivered,
        packed=delivered,
        reported=delivered,
    )
    return company, owner


def state_of(**numbers) -> dict:
    company, owner = book(**numbers)
    return canonical_state(company=company, goods_owner=owner)


def test_runs_that_numbered_the_same_business_differently_have_one_state():
    first = state_of(tenant_id=1, order_number="4", back_order="7", invoice="1001")
    second = state_of(tenant_id=2, order_number="5", back_order="9", invoice="1003")

    assert differences(first, second) == []
    assert set(first["fortnox.orders"]) == {"C1", "C1/B"}
    assert set(first["fortnox.invoices"]) == {"C1"}


def test_a_different_quantity_is_a_difference_and_a_quantity_difference():
    company, owner = book(1, order_number="4", back_order="7", invoice="1001")
    expected = canonical_state(company=company, goods_owner=owner)
    OrderLine.objects.filter(order__goods_owner=owner).update(picked=3)

    found = differences(expected, canonical_state(company=company, goods_owner=owner))

    assert found == ["/wms.orders/C1[0]/lines/1/picked: expected '2', found '3'"]
    assert quantity_differences(found) == found


def test_the_audit_finds_a_second_invoice_and_a_confirmed_order_missing_in_the_warehouse():
    company, owner = book(1, order_number="4", back_order="7", invoice="1001")
    assert not any(audit(company=company, goods_owner=owner)["duplicates"].values())
    assert not any(audit(company=company, goods_owner=owner)["losses"].values())
    SandboxRecord.objects.create(
        company=company,
        kind=Kind.INVOICE,
        key="1002",
        data={"DocumentNumber": "1002", "OrderReference": "4", "InvoiceRows": []},
        created_at=NOW,
        modified_at=NOW,
    )
    back_order = SandboxRecord.objects.get(company=company, kind=Kind.ORDER, key="7")
    back_order.data["Sent"] = True
    back_order.save()

    found = audit(company=company, goods_owner=owner)

    assert found["duplicates"]["invoices"] == ["C1 (x2)"]
    assert found["losses"]["orders"] == ["C1/B"]


def test_the_audit_finds_a_fulfilment_fortnox_never_got():
    company, owner = book(1, order_number="4", back_order="7", invoice="1001", delivered=2)
    OrderLine.objects.filter(order__goods_owner=owner).update(picked=3, packed=3)

    found = audit(company=company, goods_owner=owner)["losses"]["fulfilments"]

    assert found == ["C1 row 1 delivered", "C1 row 1 not acknowledged"]
