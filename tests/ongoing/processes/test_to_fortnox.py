"""Warehouse → Fortnox, end to end: the sync task runs the real processes with the real clients
against both sandboxes; the warehouse staff's actions are the Ongoing sandbox's services."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from fortnox.client import FortnoxClient
from fortnox.errors import FortnoxUnavailable, FortnoxValidationError
from fortnox.sandbox import store
from fortnox.sandbox.models import SandboxRecord
from integrations.models import ProcessSetting, SyncCursor, SyncFailure, SyncRun
from integrations.processes import (
    ARTICLES,
    FULFILMENT,
    PURCHASE_ORDERS,
    STOCK_BALANCE,
    WAREHOUSE_MODULE,
)
from integrations.services import links
from ongoing.client import OngoingClient
from ongoing.models import OngoingConnection
from ongoing.processes import fulfilment
from ongoing.sandbox import services as warehouse
from ongoing.sandbox.models import Article, Order, PurchaseOrder
from ongoing.statuses import PurchaseOrderStatus
from tests.ongoing.processes.support import Kind, records, run

pytestmark = pytest.mark.django_db


def configure(world, process: str, *, enabled: bool = True, **options) -> None:
    setting, _created = ProcessSetting.objects.get_or_create(
        integration=world.integration, process=process, defaults={"enabled": enabled}
    )
    setting.enabled = enabled
    setting.options = {**setting.options, **options}
    setting.save()


def wms_order(world, number: str) -> Order:
    return Order.objects.get(goods_owner=world.goods_owner, order_number=number)


def invoices_of(world, number: str) -> list[dict]:
    return [i for i in records(world, Kind.INVOICE).values() if i["OrderReference"] == number]


def rows(order: dict) -> dict[str, dict]:
    return {str(row["RowId"]): row for row in order["OrderRows"]}


def acknowledged(order: Order) -> bool:
    return all(line.reported == line.picked for line in order.lines.all())


@pytest.fixture
def shop(world):
    """Two open confirmed orders with several rows each, already in the warehouse."""
    orders = records(world, Kind.ORDER)
    candidates = sorted(
        (
            number
            for number, order in orders.items()
            if order.get("Sent")
            and not order.get("Cancelled")
            and not order.get("InvoiceReference")
            and len(order["OrderRows"]) >= 2
        ),
        key=int,
    )
    keep = candidates[:2]
    articles = {row["ArticleNumber"] for number in keep for row in orders[number]["OrderRows"]}
    company_records = SandboxRecord.objects.filter(company=world.company)
    company_records.filter(kind=Kind.ORDER).exclude(key__in=keep).delete()
    company_records.filter(kind=Kind.ARTICLE).exclude(key__in=articles).delete()
    first = run(world)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    Article.objects.filter(goods_owner=world.goods_owner).update(number_of_items=500)
    world.orders = keep
    world.catch_up()
    return world


def ship(world, number: str, quantities: dict[str, Decimal] | None = None) -> Order:
    order = wms_order(world, number)
    warehouse.order_start_picking(order=order)
    warehouse.order_pick(order=order, quantities=quantities)
    return warehouse.order_send(order=order)


def test_a_sent_order_gets_its_delivered_quantities_and_one_invoice_and_is_acknowledged(shop):
    number = shop.orders[0]
    ship(shop, number)

    result = run(shop)

    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    assert result.counts[FULFILMENT]["updated"] == 1
    order = records(shop, Kind.ORDER)[number]
    picked = {line.row_number: line.picked for line in wms_order(shop, number).lines.all()}
    assert {r: Decimal(str(row["DeliveredQuantity"])) for r, row in rows(order).items()} == picked
    (invoice,) = invoices_of(shop, number)
    assert order["InvoiceReference"] == invoice["DocumentNumber"]
    assert not [o for o in records(shop, Kind.ORDER).values() if o["OrderType"] == "Backorder"]
    assert acknowledged(wms_order(shop, number))
    # The other order was not sent: untouched.
    assert not records(shop, Kind.ORDER)[shop.orders[1]]["InvoiceReference"]

    again = run(shop)

    assert again.counts[FULFILMENT] == {"created": 0, "updated": 0, "skipped": 0, "failed": 0}
    assert len(invoices_of(shop, number)) == 1


def test_a_picked_order_waits_until_it_is_sent(shop):
    number = shop.orders[0]
    order = wms_order(shop, number)
    warehouse.order_start_picking(order=order)
    warehouse.order_pick(order=order)

    run(shop)

    assert not records(shop, Kind.ORDER)[number]["InvoiceReference"]
    warehouse.order_send(order=order)
    run(shop)
    assert len(invoices_of(shop, number)) == 1


def test_reporting_when_collected_waits_for_collection(shop):
    configure(shop, FULFILMENT, report_at="collected")
    number = shop.orders[0]
    order = ship(shop, number)

    run(shop)
    assert not invoices_of(shop, number)

    warehouse.order_collect(order=order)
    run(shop)
    assert len(invoices_of(shop, number)) == 1


def short_delivery(world, number: str) -> tuple[str, dict[str, Decimal]]:
    """Pick one item less of the first row; returns that row and the picked quantities."""
    lines = list(wms_order(world, number).lines.order_by("row_number"))
    short = lines[0]
    quantities = {line.row_number: line.ordered for line in lines}
    quantities[short.row_number] = short.ordered - 1
    return short.row_number, quantities


def test_a_partial_delivery_makes_a_back_order_for_the_rest(shop):
    number = shop.orders[0]
    row_id, quantities = short_delivery(shop, number)
    ordered = Decimal(str(rows(records(shop, Kind.ORDER)[number])[row_id]["OrderedQuantity"]))
    ship(shop, number, quantities)

    run(shop)

    order = records(shop, Kind.ORDER)[number]
    assert Decimal(str(rows(order)[row_id]["DeliveredQuantity"])) == ordered - 1
    assert Decimal(str(rows(order)[row_id]["OrderedQuantity"])) == ordered
    assert len(invoices_of(shop, number)) == 1
    (back_order,) = [o for o in records(shop, Kind.ORDER).values() if o["OrderType"] == "Backorder"]
    assert [Decimal(str(r["OrderedQuantity"])) for r in back_order["OrderRows"]] == [1]


def test_lowering_the_ordered_quantity_instead_makes_no_back_order(shop):
    configure(shop, FULFILMENT, lower_ordered_quantity=True)
    number = shop.orders[0]
    row_id, quantities = short_delivery(shop, number)
    ordered = Decimal(str(rows(records(shop, Kind.ORDER)[number])[row_id]["OrderedQuantity"]))
    ship(shop, number, quantities)

    run(shop)

    row = rows(records(shop, Kind.ORDER)[number])[row_id]
    assert Decimal(str(row["OrderedQuantity"])) == Decimal(str(row["DeliveredQuantity"]))
    assert Decimal(str(row["OrderedQuantity"])) == ordered - 1
    assert len(invoices_of(shop, number)) == 1
    assert not [o for o in records(shop, Kind.ORDER).values() if o["OrderType"] == "Backorder"]


def test_without_invoicing_the_quantities_are_set_and_the_order_acknowledged(shop):
    configure(shop, FULFILMENT, create_invoice=False)
    number = shop.orders[0]
    ship(shop, number)

    run(shop)

    order = records(shop, Kind.ORDER)[number]
    assert not order["InvoiceReference"]
    assert not invoices_of(shop, number)
    assert acknowledged(wms_order(shop, number))


def test_an_order_invoiced_by_hand_in_fortnox_is_not_invoiced_again(shop):
    number = shop.orders[0]
    ship(shop, number)
    from fortnox.sandbox import store

    store.order_invoice_create(shop.company, number)

    result = run(shop)

    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    assert len(invoices_of(shop, number)) == 1
    assert acknowledged(wms_order(shop, number))


def with_warehouse_module(world) -> None:
    world.company.warehouse_module = True
    world.company.save(update_fields=["warehouse_module"])


# Each step of a fulfilment, and where a crash right after it is injected: the step's effect
# happened, the worker died before anything else.
STEPS = [
    (FortnoxClient, "order_quantities_update"),
    (FortnoxClient, "order_warehouse_ready"),
    (FortnoxClient, "order_invoice_create"),
    (OngoingClient, "order_set_reported_picked"),
]


@pytest.mark.parametrize(("owner", "method"), STEPS, ids=[method for _owner, method in STEPS])
def test_a_crash_after_any_step_and_a_rerun_leave_one_invoice(shop, monkeypatch, owner, method):
    with_warehouse_module(shop)
    configure(shop, WAREHOUSE_MODULE)
    number = shop.orders[0]
    _row_id, quantities = short_delivery(shop, number)
    ship(shop, number, quantities)
    real = getattr(owner, method)

    def crash_after(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise RuntimeError("the worker died")

    monkeypatch.setattr(owner, method, crash_after)
    crashed = run(shop)
    monkeypatch.setattr(owner, method, real)

    assert crashed.status == SyncRun.Status.FAILED
    rerun = run(shop)

    assert rerun.status == SyncRun.Status.SUCCEEDED, rerun.error
    order = records(shop, Kind.ORDER)[number]
    picked = {line.row_number: line.picked for line in wms_order(shop, number).lines.all()}
    assert {r: Decimal(str(row["DeliveredQuantity"])) for r, row in rows(order).items()} == picked
    assert order["WarehouseReady"] is True
    assert len(invoices_of(shop, number)) == 1
    back_orders = [o for o in records(shop, Kind.ORDER).values() if o["OrderType"] == "Backorder"]
    assert len(back_orders) == 1
    assert acknowledged(wms_order(shop, number))
    assert not SyncFailure.objects.filter(resolved_at__isnull=True).exists()
    assert run(shop).counts[FULFILMENT]["updated"] == 0


def test_a_crash_after_recording_a_step_is_harmless_too(shop, monkeypatch):
    number = shop.orders[0]
    ship(shop, number)
    real = links.record_link_save
    crashes = []

    def crash_after_invoiced(**kwargs):
        link = real(**kwargs)
        if kwargs["fingerprint"] == fulfilment.INVOICED and not crashes:
            crashes.append(link)
            raise RuntimeError("the worker died")
        return link

    monkeypatch.setattr(fulfilment, "record_link_save", crash_after_invoiced)
    assert run(shop).status == SyncRun.Status.FAILED
    rerun = run(shop)

    assert rerun.status == SyncRun.Status.SUCCEEDED, rerun.error
    assert crashes
    assert len(invoices_of(shop, number)) == 1
    assert acknowledged(wms_order(shop, number))


def test_with_the_warehouse_module_the_order_is_marked_warehouse_ready(shop):
    with_warehouse_module(shop)
    configure(shop, WAREHOUSE_MODULE)
    number = shop.orders[0]
    ship(shop, number)

    result = run(shop)

    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    order = records(shop, Kind.ORDER)[number]
    assert order["WarehouseReady"] is True
    assert order["DeliveryState"] == "delivery"
    assert len(invoices_of(shop, number)) == 1


def test_module_on_in_fortnox_but_not_here_fails_with_the_setting_to_change(shop):
    with_warehouse_module(shop)
    number = shop.orders[0]
    ship(shop, number)

    result = run(shop)

    assert result.status == SyncRun.Status.FAILED
    failure = SyncFailure.objects.get(process=FULFILMENT, resolved_at__isnull=True)
    assert failure.kind == SyncFailure.Kind.VALIDATION
    assert "activated in Fortnox but not in this integration" in failure.message
    assert "Fortnox warehouse module (Fortnox Lager)" in failure.message
    assert not records(shop, Kind.ORDER)[number]["InvoiceReference"]
    assert not acknowledged(wms_order(shop, number))

    configure(shop, WAREHOUSE_MODULE)
    fixed = run(shop)

    assert fixed.status == SyncRun.Status.SUCCEEDED, fixed.error
    assert len(invoices_of(shop, number)) == 1
    failure.refresh_from_db()
    assert failure.resolved_at is not None


# --- the warehouse module ---------------------------------------------------------------------


@pytest.fixture
def module_on(shop):
    with_warehouse_module(shop)
    configure(shop, WAREHOUSE_MODULE)
    return shop


def documents(world) -> dict[str, dict]:
    return records(world, Kind.CUSTOM_DOCUMENT)


def stock_articles(world) -> list[Article]:
    fortnox = records(world, Kind.ARTICLE)
    return [
        article
        for article in Article.objects.filter(goods_owner=world.goods_owner).order_by("pk")
        if fortnox.get(article.article_number, {}).get("StockGoods")
    ]


def in_stock(world, number: str) -> Decimal:
    return Decimal(str(records(world, Kind.ARTICLE)[number].get("QuantityInStock") or 0))


def test_inventory_adjustments_become_released_documents_and_are_acknowledged(module_on):
    found, lost = stock_articles(module_on)[:2]
    before = {a.article_number: in_stock(module_on, a.article_number) for a in (found, lost)}
    plus = warehouse.inventory_adjust(article=found, number_of_items=Decimal(3), comment="Hittad")
    minus = warehouse.inventory_adjust(article=lost, number_of_items=Decimal(-2))

    result = run(module_on)

    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    assert result.counts[WAREHOUSE_MODULE]["created"] == 2
    inbound = documents(module_on)[f"inbound:OngoingInboundInventory:{plus.pk}{found.pk:012d}"]
    outbound = documents(module_on)[f"outbound:OngoingOutboundInventory:{minus.pk}{lost.pk:012d}"]
    assert inbound["released"] and outbound["released"]
    assert inbound["rows"][0] == {"rowId": 1, "itemId": found.article_number, "quantity": 3}
    assert in_stock(module_on, found.article_number) == before[found.article_number] + 3
    assert in_stock(module_on, lost.article_number) == before[lost.article_number] - 2
    plus.refresh_from_db()
    minus.refresh_from_db()
    assert plus.is_reported and minus.is_reported

    again = run(module_on)

    assert again.counts[WAREHOUSE_MODULE] == {"created": 0, "updated": 0, "skipped": 0, "failed": 0}
    assert len(documents(module_on)) == 2


@pytest.mark.parametrize(
    "method",
    ["custom_document_save", "custom_document_release", "inventory_adjustment_set_reported"],
)
def test_a_document_keeps_its_id_across_a_crash_and_moves_stock_once(
    module_on, monkeypatch, method
):
    article = stock_articles(module_on)[0]
    before = in_stock(module_on, article.article_number)
    warehouse.inventory_adjust(article=article, number_of_items=Decimal(5))
    owner = OngoingClient if method.startswith("inventory") else FortnoxClient
    real = getattr(owner, method)

    def crash_after(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise RuntimeError("the worker died")

    monkeypatch.setattr(owner, method, crash_after)
    assert run(module_on).status == SyncRun.Status.FAILED
    monkeypatch.setattr(owner, method, real)
    rerun = run(module_on)

    assert rerun.status == SyncRun.Status.SUCCEEDED, rerun.error
    (document,) = documents(module_on).values()
    assert document["released"]
    assert in_stock(module_on, article.article_number) == before + 5
    assert not SyncFailure.objects.filter(resolved_at__isnull=True).exists()


def test_a_return_becomes_an_inbound_return_document(module_on):
    number = module_on.orders[0]
    order = ship(module_on, number)
    run(module_on)
    line = order.lines.order_by("row_number").first()
    before = in_stock(module_on, line.article.article_number)
    returned = warehouse.return_register(order=order, quantities={line.row_number: Decimal(1)})

    result = run(module_on)

    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    document = documents(module_on)[f"inbound:OngoingInboundReturn:{returned.pk}"]
    assert document["released"]
    assert document["rows"] == [{"rowId": 1, "itemId": line.article.article_number, "quantity": 1}]
    assert in_stock(module_on, line.article.article_number) == before + 1
    line.refresh_from_db()
    assert line.reported_returned == line.returned == 1
    assert run(module_on).counts[WAREHOUSE_MODULE]["created"] == 0


def test_module_on_here_but_not_in_fortnox_fails_with_what_to_do(shop):
    configure(shop, WAREHOUSE_MODULE)
    warehouse.inventory_adjust(article=stock_articles(shop)[0], number_of_items=Decimal(1))

    result = run(shop)

    failure = SyncFailure.objects.get(process=WAREHOUSE_MODULE, resolved_at__isnull=True)
    assert result.status == SyncRun.Status.FAILED
    assert "Fortnox Lager is not activated in Fortnox" in failure.message
    assert not documents(shop)


# --- the classic stock balance ----------------------------------------------------------------


def sellable(world) -> dict[str, Decimal]:
    fortnox = records(world, Kind.ARTICLE)
    client = OngoingClient.for_connection(OngoingConnection.objects.get(tenant=world.tenant))
    return {
        article["articleNumber"]: Decimal(str(article["inventoryInfo"]["sellableNumberOfItems"]))
        for page in client.articles_list()
        for article in page.items
        if article["isStockArticle"] and article["articleNumber"] in fortnox
    }


def test_stock_balance_writes_the_sellable_quantity_only_where_it_differs(shop):
    configure(shop, STOCK_BALANCE)

    first = run(shop)

    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    wanted = sellable(shop)
    assert wanted
    assert {number: in_stock(shop, number) for number in wanted} == wanted
    assert first.counts[STOCK_BALANCE]["updated"] >= 1

    again = run(shop)
    assert again.counts[STOCK_BALANCE]["updated"] == 0

    article = stock_articles(shop)[0]
    warehouse.inventory_adjust(article=article, number_of_items=Decimal(-3))
    changed = run(shop)

    assert changed.counts[STOCK_BALANCE]["updated"] == 1
    assert in_stock(shop, article.article_number) == wanted[article.article_number] - 3


def fortnox_gets(world, since: int, path: str) -> int:
    return sum(
        1
        for method, called, _status in world.router.calls[since:]
        if method == "GET" and called.endswith(f"/sandbox/fortnox/{path}")
    )


def all_an_hour_ago(world) -> None:
    """an_hour_ago, and the Fortnox sandbox's records too."""
    an_hour_ago(world)
    SandboxRecord.objects.filter(company=world.company).update(
        modified_at=timezone.now() - timedelta(hours=1)
    )


def quantity_set_by_hand(world) -> tuple[str, Decimal]:
    """Someone sets a stock article's QuantityInStock in Fortnox: its number, and the warehouse's
    sellable quantity the stock balance should put back."""
    article = stock_articles(world)[0]
    wanted = sellable(world)[article.article_number]
    store.article_write(world.company, {"QuantityInStock": 999}, key=article.article_number)
    return article.article_number, wanted


def assert_put_right(world, result: SyncRun, number: str, wanted: Decimal) -> None:
    assert result.counts[STOCK_BALANCE]["updated"] == 1
    assert in_stock(world, number) == wanted


def test_the_stock_balance_compares_only_when_a_side_changed(shop):
    configure(shop, STOCK_BALANCE)
    assert run(shop).counts[STOCK_BALANCE]["updated"] >= 1
    all_an_hour_ago(shop)
    for _quiet_run in range(2):
        calls = len(shop.router.calls)

        quiet = run(shop)

        assert quiet.status == SyncRun.Status.SUCCEEDED, quiet.error
        # One probe of one article, no list of them all; only the article pull's Fortnox list.
        assert ongoing_lists(shop, calls) == {"orders": 1, "articles": 1}
        assert fortnox_gets(shop, calls, "3/articles") == 1
    # A quantity changed by hand in Fortnox is seen by the article pull's list and put right.
    number, wanted = quantity_set_by_hand(shop)

    corrected = run(shop)

    assert_put_right(shop, corrected, number, wanted)


def test_a_fortnox_change_seen_only_by_a_run_without_the_stock_balance_is_still_put_right(shop):
    configure(shop, STOCK_BALANCE)
    run(shop)
    all_an_hour_ago(shop)
    run(shop)  # quiet
    number, wanted = quantity_set_by_hand(shop)
    configure(shop, STOCK_BALANCE, enabled=False)
    run(shop)  # the article pull lists the change and moves on; no stock balance in this run
    configure(shop, STOCK_BALANCE, enabled=True)
    # As if that run had been 10 minutes later: the next pull's window (5 minutes back) no
    # longer shows the change.
    SyncCursor.objects.filter(integration=shop.integration, process=ARTICLES).update(
        value=(timezone.now() + timedelta(minutes=10)).isoformat()
    )

    back = run(shop)

    assert_put_right(shop, back, number, wanted)


def test_a_delivery_reported_to_fortnox_makes_the_stock_balance_compare(shop):
    configure(shop, STOCK_BALANCE)
    run(shop)
    number = shop.orders[0]
    ship(shop, number)
    all_an_hour_ago(shop)  # the picking's stock move looks old: only the delivery is news
    calls = len(shop.router.calls)

    reported = run(shop)

    assert reported.status == SyncRun.Status.SUCCEEDED, reported.error
    assert invoices_of(shop, number)
    assert ongoing_lists(shop, calls)["articles"] >= 2  # the probe, then every article
    assert {number: in_stock(shop, number) for number in sellable(shop)} == sellable(shop)


def test_stock_balance_is_refused_while_fortnox_has_the_warehouse_module(shop):
    configure(shop, STOCK_BALANCE)
    with_warehouse_module(shop)
    before = {n: a.get("QuantityInStock") for n, a in records(shop, Kind.ARTICLE).items()}

    result = run(shop)

    failure = SyncFailure.objects.get(process=STOCK_BALANCE, resolved_at__isnull=True)
    assert result.status == SyncRun.Status.FAILED
    assert "only accepts stock transactions" in failure.message
    assert "Stock balance to Fortnox" in failure.message
    assert {n: a.get("QuantityInStock") for n, a in records(shop, Kind.ARTICLE).items()} == before


# --- purchase orders --------------------------------------------------------------------------


@pytest.fixture
def purchasing(world):
    """The demo company cut down to its purchase orders and their articles, with Fortnox Lager
    and purchase orders on, after a first run has sent them to the warehouse."""
    SandboxRecord.objects.filter(company=world.company, kind=Kind.ORDER).delete()
    items = {
        row["itemId"] for po in records(world, Kind.PURCHASE_ORDER).values() for row in po["rows"]
    }
    SandboxRecord.objects.filter(company=world.company, kind=Kind.ARTICLE).exclude(
        key__in=items
    ).delete()
    with_warehouse_module(world)
    configure(world, WAREHOUSE_MODULE)
    configure(world, PURCHASE_ORDERS)
    first = run(world)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    world.catch_up()
    return world


def fortnox_po(world, number: str) -> dict:
    return SandboxRecord.objects.get(
        company=world.company, kind=Kind.PURCHASE_ORDER, key=number
    ).data


def wms_po(world, number: str) -> PurchaseOrder:
    return PurchaseOrder.objects.get(goods_owner=world.goods_owner, purchase_order_number=number)


def incoming_goods(world, number: str) -> list[dict]:
    return [
        goods
        for goods in records(world, Kind.INCOMING_GOODS).values()
        if str(goods["rows"][0]["purchaseOrderId"]) == number
    ]


def booked(world, number: str) -> list[dict]:
    return [g for g in incoming_goods(world, number) if g["released"] and g["completed"]]


def test_sent_warehouse_purchase_orders_go_to_the_warehouse(purchasing):
    expected = {
        key
        for key, po in records(purchasing, Kind.PURCHASE_ORDER).items()
        if po["_state"] == "SENT" and po["purchaseType"] == "WAREHOUSE"
    }
    in_wms = set(
        PurchaseOrder.objects.filter(goods_owner=purchasing.goods_owner).values_list(
            "purchase_order_number", flat=True
        )
    )
    assert expected and in_wms == expected
    number = sorted(expected)[0]
    source = fortnox_po(purchasing, number)
    purchase_order = wms_po(purchasing, number)
    assert purchase_order.data["inDate"] == source["deliveryDate"]
    assert purchase_order.data["supplierInfo"]["supplierNumber"] == source["supplierNumber"]
    assert purchase_order.data["supplierInfo"]["supplierName"] == source["supplierName"]
    assert purchase_order.data["supplierInfo"]["supplierCity"] == source["supplierCity"]
    lines = {line.row_number: line for line in purchase_order.lines.all()}
    for row in source["rows"]:
        line = lines[str(row["rowNum"])]
        assert line.article.article_number == row["itemId"]
        assert line.advised == row["orderedQuantity"]
        assert line.data["externalOrderLineId"] == str(row["id"])
        assert line.data["currencyCode"] == "SEK"
    assert run(purchasing).counts[PURCHASE_ORDERS]["skipped"] == len(expected)


def test_two_partial_receivals_make_two_incoming_goods_and_complete_the_order(purchasing):
    number = sorted(records(purchasing, Kind.PURCHASE_ORDER), key=int)[1]
    purchase_order = wms_po(purchasing, number)
    lines = list(purchase_order.lines.order_by("row_number"))
    first = {line.row_number: Decimal(1) for line in lines}
    warehouse.purchase_order_receive(purchase_order=purchase_order, quantities=first)

    run(purchasing)

    (goods,) = booked(purchasing, number)
    assert [row["receivedQuantity"] for row in goods["rows"]] == [1] * len(lines)
    assert fortnox_po(purchasing, number)["_state"] == "SENT"

    warehouse.purchase_order_receive(purchase_order=purchase_order)
    warehouse.purchase_order_close(
        purchase_order=purchase_order, status=PurchaseOrderStatus.RECEIVED
    )
    result = run(purchasing)

    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    assert len(booked(purchasing, number)) == 2
    source = fortnox_po(purchasing, number)
    assert source["_state"] == "RECEIVED"
    assert all(row["receivedQuantity"] == row["orderedQuantity"] for row in source["rows"])
    assert all(line.reported == line.received for line in purchase_order.lines.all())

    run(purchasing)
    assert len(incoming_goods(purchasing, number)) == 2


RECEIPT_STEPS = [
    (FortnoxClient, "incoming_goods_create"),
    (FortnoxClient, "incoming_goods_release"),
    (FortnoxClient, "incoming_goods_complete"),
    (FortnoxClient, "purchase_order_complete"),
    (OngoingClient, "purchase_order_set_reported_received"),
]


@pytest.mark.parametrize(
    ("owner", "method"), RECEIPT_STEPS, ids=[method for _owner, method in RECEIPT_STEPS]
)
def test_a_crash_after_any_receipt_step_books_the_goods_once(
    purchasing, monkeypatch, owner, method
):
    number = sorted(records(purchasing, Kind.PURCHASE_ORDER), key=int)[1]
    purchase_order = wms_po(purchasing, number)
    item = purchase_order.lines.order_by("row_number").first().article.article_number
    stock_before = in_stock(purchasing, item)
    warehouse.purchase_order_receive(purchase_order=purchase_order)
    warehouse.purchase_order_close(
        purchase_order=purchase_order, status=PurchaseOrderStatus.DEFLECTION
    )
    real = getattr(owner, method)

    def crash_after(self, *args, **kwargs):
        answer = real(self, *args, **kwargs)
        raise RuntimeError(f"the worker died after {answer and 'an answer'}")

    monkeypatch.setattr(owner, method, crash_after)
    assert run(purchasing).status == SyncRun.Status.FAILED
    monkeypatch.setattr(owner, method, real)
    rerun = run(purchasing)

    assert rerun.status == SyncRun.Status.SUCCEEDED, rerun.error
    assert len(booked(purchasing, number)) == 1
    assert len(incoming_goods(purchasing, number)) == 1  # no unreleased draft left behind
    source = fortnox_po(purchasing, number)
    assert source["_state"] == "RECEIVED"
    assert all(row["receivedQuantity"] == row["orderedQuantity"] for row in source["rows"])
    received = purchase_order.lines.order_by("row_number").first().advised
    assert in_stock(purchasing, item) == stock_before + received
    assert all(line.reported == line.received for line in purchase_order.lines.all())
    assert not SyncFailure.objects.filter(resolved_at__isnull=True).exists()


def test_a_lost_answer_to_creating_incoming_goods_leaves_one_document(purchasing, monkeypatch):
    """Found by the chaos run: Fortnox created the incoming goods but the answer never arrived;
    the retry created them a second time and left the first as an unreleased draft."""
    number = sorted(records(purchasing, Kind.PURCHASE_ORDER), key=int)[1]
    purchase_order = wms_po(purchasing, number)
    warehouse.purchase_order_receive(purchase_order=purchase_order)
    real = FortnoxClient.incoming_goods_create

    def answer_lost(self, document):
        real(self, document)
        raise FortnoxUnavailable("Fortnox could not be reached (ReadTimeout).")

    monkeypatch.setattr(FortnoxClient, "incoming_goods_create", answer_lost)
    assert run(purchasing).status != SyncRun.Status.SUCCEEDED
    monkeypatch.setattr(FortnoxClient, "incoming_goods_create", real)

    rerun = run(purchasing)

    assert rerun.status == SyncRun.Status.SUCCEEDED, rerun.error
    (goods,) = incoming_goods(purchasing, number)
    assert goods["released"] and goods["completed"]
    assert [row["receivedQuantity"] for row in goods["rows"]] == [
        line.received for line in purchase_order.lines.order_by("row_number")
    ]


def test_goods_received_while_a_run_reports_the_last_receival_are_booked_next_run(
    purchasing, monkeypatch
):
    number = sorted(records(purchasing, Kind.PURCHASE_ORDER), key=int)[1]
    purchase_order = wms_po(purchasing, number)
    lines = list(purchase_order.lines.order_by("row_number"))
    warehouse.purchase_order_receive(
        purchase_order=purchase_order, quantities={line.row_number: Decimal(1) for line in lines}
    )
    real = OngoingClient.purchase_order_set_reported_received

    def more_arrives_first(self, *, purchase_order_id):
        # The warehouse books the rest between the run's reading and its acknowledging.
        monkeypatch.setattr(OngoingClient, "purchase_order_set_reported_received", real)
        warehouse.purchase_order_receive(purchase_order=purchase_order)
        return real(self, purchase_order_id=purchase_order_id)

    monkeypatch.setattr(OngoingClient, "purchase_order_set_reported_received", more_arrives_first)
    run(purchasing)
    purchasing.catch_up()
    run(purchasing)

    source = fortnox_po(purchasing, number)
    assert [row["receivedQuantity"] for row in source["rows"]] == [
        line.received for line in purchase_order.lines.order_by("row_number")
    ]
    assert len(booked(purchasing, number)) == 2


def test_keys_without_warehouse_permission_fail_with_what_to_do(purchasing):
    purchasing.company.warehouse_module = False
    purchasing.company.save(update_fields=["warehouse_module"])

    result = run(purchasing)

    failure = SyncFailure.objects.get(process=PURCHASE_ORDERS, resolved_at__isnull=True)
    assert result.status == SyncRun.Status.FAILED
    assert "Keys generated before Fortnox Lager was activated" in failure.message
    assert "connect Fortnox again" in failure.message


def test_incoming_goods_refused_fail_with_the_setting_to_check(purchasing, monkeypatch):
    def refused(self, document):
        raise FortnoxValidationError("Inleveranser är inte aktiverat.", status=400)

    monkeypatch.setattr(FortnoxClient, "incoming_goods_create", refused)
    number = sorted(records(purchasing, Kind.PURCHASE_ORDER), key=int)[1]
    warehouse.purchase_order_receive(purchase_order=wms_po(purchasing, number))

    result = run(purchasing)

    failure = SyncFailure.objects.get(process=PURCHASE_ORDERS, resolved_at__isnull=True)
    assert result.status == SyncRun.Status.PARTIAL
    assert failure.object_ref == number
    assert "Settings → Warehouse → Incoming goods" in failure.message
    assert not incoming_goods(purchasing, number)


def test_receivals_of_a_purchase_order_entered_in_the_warehouse_are_inbound_order_documents(
    module_on,
):
    article = stock_articles(module_on)[0]
    before = in_stock(module_on, article.article_number)
    purchase_order, _message = warehouse.purchase_order_upsert(
        goods_owner=module_on.goods_owner,
        data={
            "purchaseOrderNumber": "WMS-1",
            "purchaseOrderLines": [
                {"rowNumber": "1", "articleNumber": article.article_number, "numberOfItems": 10}
            ],
        },
    )
    warehouse.purchase_order_receive(purchase_order=purchase_order, quantities={"1": Decimal(4)})
    run(module_on)
    warehouse.purchase_order_receive(purchase_order=purchase_order)

    result = run(module_on)

    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    inbound = {
        key: document
        for key, document in documents(module_on).items()
        if key.startswith("inbound:OngoingInboundOrder:")
    }
    assert sorted(inbound) == [
        f"inbound:OngoingInboundOrder:{purchase_order.pk}0001",
        f"inbound:OngoingInboundOrder:{purchase_order.pk}0002",
    ]
    assert all(document["released"] for document in inbound.values())
    assert sorted(d["rows"][0]["quantity"] for d in inbound.values()) == [4, 6]
    assert in_stock(module_on, article.article_number) == before + 10
    assert all(line.reported == line.received for line in purchase_order.lines.all())
    assert run(module_on).counts[WAREHOUSE_MODULE]["created"] == 0
    assert len(documents(module_on)) == 2


def test_goods_received_while_a_run_reports_a_warehouse_purchase_order_are_reported_next_run(
    module_on, monkeypatch
):
    article = stock_articles(module_on)[0]
    purchase_order, _message = warehouse.purchase_order_upsert(
        goods_owner=module_on.goods_owner,
        data={
            "purchaseOrderNumber": "WMS-1",
            "purchaseOrderLines": [
                {"rowNumber": "1", "articleNumber": article.article_number, "numberOfItems": 10}
            ],
        },
    )
    warehouse.purchase_order_receive(purchase_order=purchase_order, quantities={"1": Decimal(4)})
    real = OngoingClient.purchase_order_set_reported_received

    def more_arrives_first(self, *, purchase_order_id):
        monkeypatch.setattr(OngoingClient, "purchase_order_set_reported_received", real)
        warehouse.purchase_order_receive(purchase_order=purchase_order)
        return real(self, purchase_order_id=purchase_order_id)

    monkeypatch.setattr(OngoingClient, "purchase_order_set_reported_received", more_arrives_first)
    run(module_on)
    module_on.catch_up()
    run(module_on)

    inbound = [d for key, d in documents(module_on).items() if "OngoingInboundOrder" in key]
    assert sorted(d["rows"][0]["quantity"] for d in inbound) == [4, 6]
    assert all(document["released"] for document in inbound)


def test_closing_after_the_last_receival_was_reported_completes_the_order(purchasing):
    number = sorted(records(purchasing, Kind.PURCHASE_ORDER), key=int)[1]
    purchase_order = wms_po(purchasing, number)
    first = purchase_order.lines.order_by("row_number").first()
    warehouse.purchase_order_receive(
        purchase_order=purchase_order, quantities={first.row_number: Decimal(2)}
    )
    run(purchasing)
    assert fortnox_po(purchasing, number)["_state"] == "SENT"

    warehouse.purchase_order_close(
        purchase_order=purchase_order, status=PurchaseOrderStatus.DEFLECTION
    )
    result = run(purchasing)

    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    assert fortnox_po(purchasing, number)["_state"] == "RECEIVED"
    assert len(booked(purchasing, number)) == 1


# --- a quiet warehouse: receipts, returns and adjustments listed only when stock moved ---------


def ongoing_lists(world, since: int) -> dict[str, int]:
    """The Ongoing GETs made since the router's call number `since`, by resource."""
    counted: dict[str, int] = {}
    for method, path, _status in world.router.calls[since:]:
        if method == "GET" and "/sandbox/ongoing/" in path:
            resource = path.rstrip("/").split("/api/v1/")[1]
            counted[resource] = counted.get(resource, 0) + 1
    return counted


def cursor_of(world, process: str) -> str | None:
    cursor = SyncCursor.objects.filter(integration=world.integration, process=process).first()
    return cursor.value if cursor else None


def test_a_quiet_run_makes_one_stock_probe_and_lists_only_purchase_order_closures(purchasing):
    an_hour_ago(purchasing)
    cursors = {key: cursor_of(purchasing, key) for key in (PURCHASE_ORDERS, WAREHOUSE_MODULE)}
    calls = len(purchasing.router.calls)

    quiet = run(purchasing)

    assert quiet.status == SyncRun.Status.SUCCEEDED, quiet.error
    # Fulfilment's list, one probe for both processes, and the purchase orders closed since.
    assert ongoing_lists(purchasing, calls) == {"orders": 1, "articles": 1, "purchaseOrders": 1}
    # Nothing was listed for the receipts, returns or adjustments: the cursors stay for the next
    # full pass.
    assert {key: cursor_of(purchasing, key) for key in cursors} == cursors


def an_hour_ago(world) -> None:
    """As if everything the warehouse did so far had happened an hour ago: runs are 15 minutes
    apart, and the cursors reach back only 5."""
    hour_ago = timezone.now() - timedelta(hours=1)
    Article.objects.filter(goods_owner=world.goods_owner).update(stock_changed_at=hour_ago)
    PurchaseOrder.objects.filter(goods_owner=world.goods_owner).update(status_changed_at=hour_ago)


def test_goods_received_after_quiet_runs_are_booked_and_a_later_closure_completes(purchasing):
    number = sorted(records(purchasing, Kind.PURCHASE_ORDER), key=int)[1]
    purchase_order = wms_po(purchasing, number)
    an_hour_ago(purchasing)
    run(purchasing)
    lines = purchase_order.lines.order_by("row_number")
    warehouse.purchase_order_receive(
        purchase_order=purchase_order, quantities={line.row_number: Decimal(1) for line in lines}
    )

    received = run(purchasing)

    assert received.status == SyncRun.Status.SUCCEEDED, received.error
    assert len(booked(purchasing, number)) == 1
    assert fortnox_po(purchasing, number)["_state"] == "SENT"
    an_hour_ago(purchasing)
    calls = len(purchasing.router.calls)
    warehouse.purchase_order_close(
        purchase_order=purchase_order, status=PurchaseOrderStatus.DEFLECTION
    )

    closed = run(purchasing)

    assert closed.status == SyncRun.Status.SUCCEEDED, closed.error
    # No stock moved: the closures alone are listed (a page with this one, then an empty page).
    assert ongoing_lists(purchasing, calls) == {"orders": 1, "articles": 1, "purchaseOrders": 2}
    assert fortnox_po(purchasing, number)["_state"] == "RECEIVED"
    assert len(booked(purchasing, number)) == 1


def test_a_return_the_stock_probe_missed_is_reported_by_the_next_full_pass(module_on, settings):
    number = module_on.orders[0]
    order = ship(module_on, number)
    run(module_on)
    line = order.lines.order_by("row_number").first()
    returned = warehouse.return_register(order=order, quantities={line.row_number: Decimal(1)})
    an_hour_ago(module_on)  # as if Ongoing had not marked the return's stock move
    key = f"inbound:OngoingInboundReturn:{returned.pk}"

    assert run(module_on).status == SyncRun.Status.SUCCEEDED
    assert key not in documents(module_on)  # the probe said nothing moved

    # The next full pass is due (here: at once), and lists the returns from the last one on.
    settings.ONGOING_FULL_PASS_HOURS = 0
    found = run(module_on)

    assert found.status == SyncRun.Status.SUCCEEDED, found.error
    assert documents(module_on)[key]["released"]


def test_a_full_pass_runs_once_the_last_is_older_than_the_setting(module_on, settings):
    run(module_on)
    calls = len(module_on.router.calls)
    assert run(module_on).status == SyncRun.Status.SUCCEEDED
    assert "returnOrders" not in ongoing_lists(module_on, calls)
    old = timezone.now() - timedelta(hours=settings.ONGOING_FULL_PASS_HOURS, minutes=1)
    SyncCursor.objects.filter(integration=module_on.integration, process=WAREHOUSE_MODULE).update(
        value=old.isoformat()
    )
    calls = len(module_on.router.calls)

    due = run(module_on)

    assert due.status == SyncRun.Status.SUCCEEDED, due.error
    listed = ongoing_lists(module_on, calls)
    assert listed["returnOrders"] == listed["inventoryAdjustments"] == 1
    assert "articles" not in listed  # a pass that is due needs no probe
    assert datetime.fromisoformat(cursor_of(module_on, WAREHOUSE_MODULE)) > old
