"""The harness's verdict can fail: a duplicate or a loss planted in a run's final sandboxes is
reported — counted in the table's row for its kind, listed among the differences from the clean
run, and the verdict is NOT PROVED. Without a plant the same two states are PROVED, so the test
would notice a verdict that always says the one thing."""

from decimal import Decimal

import pytest

from bench.chaos.report import summary, table
from bench.chaos.runner import Options, PhaseResult, RunResult
from bench.chaos.scenario import Size
from bench.chaos.state import audit, canonical_state
from fortnox.sandbox.models import SandboxRecord
from ongoing.mappers import ARTICLE_ID_DIGITS, INBOUND_INVENTORY
from ongoing.sandbox.models import Article, OrderLine
from tests.bench.chaos.test_state import NOW, book

pytestmark = pytest.mark.django_db
Kind = SandboxRecord.Kind


def record(company, kind, key, data):
    SandboxRecord.objects.create(
        company=company, kind=kind, key=key, data=data, created_at=NOW, modified_at=NOW
    )


def adjustment_key(category: str, article: Article) -> str:
    return f"{category}:{INBOUND_INVENTORY}:7{article.pk:0{ARTICLE_ID_DIGITS}d}"


@pytest.fixture
def finished():
    """One company's sandboxes after a run: an order delivered short, invoiced, its back order;
    a released receipt; a released inventory document for stock found on the shelf."""
    company, owner = book(1, order_number="4", back_order="7", invoice="1001")
    record(
        company,
        Kind.INCOMING_GOODS,
        "1",
        {
            "deliveryNoteId": "D1",
            "released": True,
            "rows": [{"purchaseOrderId": "3", "purchaseOrderRowId": "301", "receivedQuantity": 5}],
        },
    )
    article = Article.objects.get(goods_owner=owner)
    record(
        company,
        Kind.CUSTOM_DOCUMENT,
        adjustment_key("inbound", article),
        {"type": INBOUND_INVENTORY, "released": True, "rows": [{"itemId": "A", "quantity": 2}]},
    )
    return company, owner


def result(label, company, owner) -> RunResult:
    return RunResult(
        label=label,
        faults=label == "faulty",
        phases=[PhaseResult(name="last orders", converged=True)],
        state=canonical_state(company=company, goods_owner=owner),
        audit=audit(company=company, goods_owner=owner),
    )


def verdict(company, owner, clean: RunResult) -> dict:
    options = Options(size=Size(articles=1, orders=1, purchase_orders=1))
    figures = summary(clean, result("faulty", company, owner), options)
    figures["table"] = table(figures)
    return figures


def plant_invoice(company, owner):
    record(company, Kind.INVOICE, "1002", {"OrderReference": "4", "InvoiceRows": []})


def plant_incoming_goods(company, owner):
    data = SandboxRecord.objects.get(company=company, kind=Kind.INCOMING_GOODS).data
    record(company, Kind.INCOMING_GOODS, "2", data)


def plant_custom_document(company, owner):
    article = Article.objects.get(goods_owner=owner)
    data = SandboxRecord.objects.get(company=company, kind=Kind.CUSTOM_DOCUMENT).data
    record(company, Kind.CUSTOM_DOCUMENT, adjustment_key("outbound", article), data)


def plant_lost_order(company, owner):
    back_order = SandboxRecord.objects.get(company=company, kind=Kind.ORDER, key="7")
    back_order.data["Sent"] = True  # confirmed in Fortnox, never sent to the warehouse
    back_order.save()


def plant_lost_fulfilment(company, owner):
    OrderLine.objects.filter(order__goods_owner=owner).update(picked=3, packed=3)


def plant_wrong_stock(company, owner):
    Article.objects.filter(goods_owner=owner).update(number_of_items=Decimal(6))


@pytest.mark.parametrize(
    ("plant", "row", "difference", "quantity"),
    [
        (plant_invoice, "duplicate invoices", "/fortnox.invoices/C1", True),
        (
            plant_incoming_goods,
            "duplicate incoming goods",
            "/fortnox.incoming_goods/booked/3",
            True,
        ),
        (plant_custom_document, "duplicate custom documents", "/fortnox.custom_documents/", True),
        # The order is there; what is lost is the warehouse order its confirmation asked for.
        (plant_lost_order, "lost orders", "/fortnox.orders/C1/B[0]/Sent", False),
        (plant_lost_fulfilment, "lost fulfilments", "/wms.orders/C1[0]/lines/1/picked", True),
        (plant_wrong_stock, None, "/wms.articles/A/stock", True),
    ],
)
def test_a_planted_duplicate_or_loss_is_reported_and_fails_the_verdict(
    finished, plant, row, difference, quantity
):
    company, owner = finished
    clean = result("clean", company, owner)
    assert verdict(company, owner, clean)["proved"] is True

    plant(company, owner)
    figures = verdict(company, owner, clean)

    assert figures["proved"] is False
    assert "NOT PROVED" in figures["table"]
    assert any(line.startswith(difference) for line in figures["differences"]), figures[
        "differences"
    ]
    assert bool(figures["quantity_differences"]) is quantity, figures["differences"]
    if row is not None:
        kind, what = row.split(" ", 1)
        assert figures["faulty"][f"{kind}s" if kind == "duplicate" else "losses"][what] >= 1
        line = next(line for line in figures["table"].splitlines() if f"| {row} " in line)
        assert [cell.strip() for cell in line.split("|")[2:4]] != ["0", "0"]
