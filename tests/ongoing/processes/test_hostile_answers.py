"""Hostile and broken answers in a real run: both sandboxes answer as usual, except that one
object's or one page's answer is replaced by an entry of the hostile corpus (tests/hostile.py).
Each time the run finishes and closes, the failure is recorded on that object (or that process)
with a clear message, the other objects sync, nothing is half-written (no warehouse order without
lines, no invoice twice, no cursor past the bad page), and the next clean run repairs it."""

import json
import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from fortnox.sandbox import store
from fortnox.sandbox.models import SandboxRecord
from integrations.models import (
    ProcessSetting,
    RecordLink,
    Supplier,
    SyncCursor,
    SyncFailure,
    SyncRun,
)
from integrations.processes import (
    ARTICLES,
    FULFILMENT,
    PURCHASE_ORDERS,
    SALES_ORDERS,
    WAREHOUSE_MODULE,
)
from ongoing.sandbox import services as warehouse
from ongoing.sandbox.models import Article, Order
from tests.fortnox.conftest import SandboxRouter
from tests.hostile import CORPUS, JSON, LEAKS, clear_message, huge_body
from tests.ongoing.processes.support import Kind, records, run

pytestmark = pytest.mark.django_db

# A sample of the corpus for each kind of failure: not JSON, cut short, not UTF-8, too deep, too
# large, JSON of the wrong shape, nulls. (Every entry meets every client method in
# tests/fortnox/test_client_hostile.py and tests/ongoing/test_client_hostile.py.)
OBJECT_ANSWERS = [
    "html_maintenance_page",
    "html_500_error_page",
    "truncated_json",
    "invalid_utf8",
    "deeply_nested",
    "huge_body",
    "json_list_of_scalars",
    "wrong_types_everywhere",
    "nulls_everywhere",
]
PAGE_ANSWERS = [
    "html_502_bad_gateway",
    "latin1_not_utf8",
    "huge_body",
    "items_without_keys",
    "listed_items_without_ids",
    "json_string",
]
FORTNOX = "/sandbox/fortnox/"
ONGOING_API = r"/sandbox/ongoing/[^/]+/api/v1/"


class Hostile:
    """Rules for the sandbox router: a request whose method and path match is answered with a
    corpus entry (after the sandbox handled it, with `forward`), or with the sandbox's own answer
    passed through `transform`."""

    def __init__(self):
        self.rules: list[dict] = []
        self.hits: list[str] = []

    def answer(self, method: str, path: str, name: str, *, forward: bool = False) -> None:
        self.rules.append(
            {"method": method, "path": re.compile(path), "name": name, "forward": forward}
        )

    def transform(self, method: str, path: str, change) -> None:
        self.rules.append({"method": method, "path": re.compile(path), "transform": change})

    def clear(self) -> None:
        self.rules.clear()

    def rule_for(self, request) -> dict | None:
        path = urlsplit(request.url).path
        for rule in self.rules:
            if rule["method"] == request.method and rule["path"].search(path):
                self.hits.append(f"{request.method} {path}")
                return rule
        return None


@pytest.fixture
def hostile(world, monkeypatch):
    rules = Hostile()
    real = SandboxRouter.__call__

    def answer(router, request):
        rule = rules.rule_for(request)
        if rule is None:
            return real(router, request)
        if "transform" in rule:
            status, headers, body = real(router, request)
            return status, headers, json.dumps(rule["transform"](json.loads(body))).encode()
        if rule["forward"]:
            real(router, request)
        if rule["name"] == "huge_body":
            body, _raw = huge_body()
            return 200, dict(JSON), body
        entry = CORPUS[rule["name"]]
        return entry.status, dict(entry.headers), entry.body

    monkeypatch.setattr(SandboxRouter, "__call__", answer)
    return rules


@pytest.fixture
def few(world):
    """Three open confirmed orders and their articles, and two articles no order needs."""
    orders = records(world, Kind.ORDER)
    keep = sorted(
        (
            number
            for number, order in orders.items()
            if order.get("Sent")
            and not order.get("Cancelled")
            and not order.get("InvoiceReference")
        ),
        key=int,
    )[:3]
    needed = {row["ArticleNumber"] for number in keep for row in orders[number]["OrderRows"]}
    spare = sorted(
        number
        for number, article in records(world, Kind.ARTICLE).items()
        if number not in needed and article.get("Active", True)
    )[:2]
    company_records = SandboxRecord.objects.filter(company=world.company)
    company_records.filter(kind=Kind.ORDER).exclude(key__in=keep).delete()
    company_records.filter(kind=Kind.ARTICLE).exclude(key__in=needed | set(spare)).delete()
    world.orders = keep
    world.spare_articles = spare
    return world


def sent_articles(world) -> set[str]:
    """The articles this integration has written to the warehouse (the seeded warehouse has its
    own copy of the demo articles already)."""
    return set(
        RecordLink.objects.filter(integration=world.integration, object_type="article").values_list(
            "fortnox_key", flat=True
        )
    )


def wms_articles(world) -> set[str]:
    return set(
        Article.objects.filter(goods_owner=world.goods_owner).values_list(
            "article_number", flat=True
        )
    )


def wms_orders(world) -> dict[str, Order]:
    return {o.order_number: o for o in Order.objects.filter(goods_owner=world.goods_owner)}


def assert_nothing_half_written(world) -> None:
    for number, order in wms_orders(world).items():
        assert order.lines.exists(), f"warehouse order {number} has no lines"
    for number, invoices in invoices_by_order(world).items():
        assert len(invoices) == 1, f"order {number} was invoiced {len(invoices)} times"


def invoices_by_order(world) -> dict[str, list]:
    """The invoices of the test's orders (the demo company has invoiced orders of its own)."""
    invoices: dict[str, list] = {}
    for invoice in records(world, Kind.INVOICE).values():
        if invoice["OrderReference"] in world.orders:
            invoices.setdefault(invoice["OrderReference"], []).append(invoice)
    return invoices


def the_failure(*, process: str, object_ref: str, service: str) -> SyncFailure:
    failure = SyncFailure.objects.get(process=process, object_ref=object_ref, resolved_at=None)
    assert failure.kind != SyncFailure.Kind.BUG, failure.message
    problem = clear_message(failure, service=service)
    assert problem is None, f"the failure's message {problem}"
    return failure


def assert_clear_failures(**filters) -> list[SyncFailure]:
    failures = list(SyncFailure.objects.filter(resolved_at=None, **filters))
    for failure in failures:
        assert failure.kind != SyncFailure.Kind.BUG, failure.message
        assert failure.message and len(failure.message) < 400
        assert not [word for word in LEAKS if word in failure.message], failure.message
    return failures


# --- one object ---------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", OBJECT_ANSWERS)
def test_a_broken_answer_for_one_article_fails_that_article_only(few, hostile, answer):
    victim = few.spare_articles[0]
    hostile.answer("GET", rf"{FORTNOX}3/articles/{re.escape(victim)}$", answer)

    result = run(few)

    assert result.status == SyncRun.Status.PARTIAL, result.error
    assert hostile.hits
    failure = the_failure(process=ARTICLES, object_ref=victim, service="Fortnox")
    assert failure.kind == SyncFailure.Kind.REMOTE
    assert sent_articles(few) == set(records(few, Kind.ARTICLE)) - {victim}
    assert set(wms_orders(few)) == set(few.orders)
    assert_nothing_half_written(few)

    hostile.clear()
    repaired = run(few)

    assert repaired.status == SyncRun.Status.SUCCEEDED, repaired.error
    assert victim in sent_articles(few)
    failure.refresh_from_db()
    assert failure.resolved_at is not None


@pytest.mark.parametrize("answer", OBJECT_ANSWERS)
def test_a_broken_answer_for_one_order_fails_that_order_only(few, hostile, answer):
    victim, *others = few.orders
    hostile.answer("GET", rf"{FORTNOX}3/orders/{victim}$", answer)

    result = run(few)

    assert result.status == SyncRun.Status.PARTIAL, result.error
    the_failure(process=SALES_ORDERS, object_ref=victim, service="Fortnox")
    assert set(wms_orders(few)) == set(others)
    assert_nothing_half_written(few)

    hostile.clear()
    repaired = run(few)

    assert repaired.status == SyncRun.Status.SUCCEEDED, repaired.error
    assert set(wms_orders(few)) == set(few.orders)
    assert not SyncFailure.objects.filter(resolved_at=None).exists()
    assert_nothing_half_written(few)


@pytest.mark.parametrize("answer", ["html_500_error_page", "truncated_json", "json_number"])
def test_a_garbled_answer_to_a_warehouse_write_that_happened_duplicates_nothing(
    few, hostile, answer
):
    """The warehouse stored the order, but its answer is lost in junk: the order fails, and the
    next run upserts it again by number, so the warehouse still has it once."""
    hostile.answer("PUT", rf"{ONGOING_API}orders$", answer, forward=True)

    result = run(few)

    assert result.status == SyncRun.Status.PARTIAL, result.error
    assert SyncFailure.objects.filter(process=SALES_ORDERS, resolved_at=None).count() == len(
        few.orders
    )
    assert set(wms_orders(few)) == set(few.orders)

    hostile.clear()
    repaired = run(few)

    assert repaired.status == SyncRun.Status.SUCCEEDED, repaired.error
    assert Order.objects.filter(goods_owner=few.goods_owner).count() == len(few.orders)
    assert not SyncFailure.objects.filter(resolved_at=None).exists()
    assert_nothing_half_written(few)


# --- one page -----------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", PAGE_ANSWERS)
def test_a_broken_page_of_orders_fails_the_process_and_keeps_its_cursor(few, hostile, answer):
    first = run(few)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    cursor = SyncCursor.objects.get(process=SALES_ORDERS).value
    changed = few.orders[0]
    few.catch_up()
    store.order_write(few.company, {"Remarks": "Leverera till baksidan, tack"}, key=changed)
    hostile.answer("GET", rf"{FORTNOX}3/orders$", answer)

    result = run(few)

    assert result.status == SyncRun.Status.FAILED
    assert result.error.startswith(f"{SALES_ORDERS}: ")
    failure = the_failure(process=SALES_ORDERS, object_ref=SALES_ORDERS, service="Fortnox")
    assert failure.object_type == "process"
    assert SyncCursor.objects.get(process=SALES_ORDERS).value == cursor
    assert wms_orders(few)[changed].data.get("orderRemark") != "Leverera till baksidan, tack"
    # The other processes ran.
    assert result.counts[ARTICLES]["failed"] == 0
    assert FULFILMENT in result.counts

    hostile.clear()
    repaired = run(few)

    assert repaired.status == SyncRun.Status.SUCCEEDED, repaired.error
    assert wms_orders(few)[changed].data.get("orderRemark") == "Leverera till baksidan, tack"
    assert SyncCursor.objects.get(process=SALES_ORDERS).value > cursor
    failure.refresh_from_db()
    assert failure.resolved_at is not None


# --- warehouse → Fortnox ------------------------------------------------------------------------


@pytest.fixture
def shipped(few):
    """The orders in the warehouse, and the first two sent."""
    first = run(few)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    Article.objects.filter(goods_owner=few.goods_owner).update(number_of_items=500)
    for number in few.orders[:2]:
        order = wms_orders(few)[number]
        warehouse.order_start_picking(order=order)
        warehouse.order_pick(order=order)
        warehouse.order_send(order=order)
    few.catch_up()
    return few


@pytest.mark.parametrize("answer", PAGE_ANSWERS)
def test_a_broken_page_of_sent_orders_fails_fulfilment_and_invoices_nothing(
    shipped, hostile, answer
):
    hostile.answer("GET", rf"{ONGOING_API}orders$", answer)

    result = run(shipped)

    assert result.status == SyncRun.Status.FAILED
    the_failure(process=FULFILMENT, object_ref=FULFILMENT, service="Ongoing")
    assert invoices_by_order(shipped) == {}

    hostile.clear()
    repaired = run(shipped)

    assert repaired.status == SyncRun.Status.SUCCEEDED, repaired.error
    assert set(invoices_by_order(shipped)) == set(shipped.orders[:2])
    assert_nothing_half_written(shipped)


@pytest.mark.parametrize("answer", OBJECT_ANSWERS)
def test_a_broken_fortnox_order_fails_its_fulfilment_only(shipped, hostile, answer):
    victim, other = shipped.orders[:2]
    hostile.answer("GET", rf"{FORTNOX}3/orders/{victim}$", answer)

    result = run(shipped)

    assert result.status == SyncRun.Status.PARTIAL, result.error
    the_failure(process=FULFILMENT, object_ref=victim, service="Fortnox")
    assert set(invoices_by_order(shipped)) == {other}

    hostile.clear()
    repaired = run(shipped)

    assert repaired.status == SyncRun.Status.SUCCEEDED, repaired.error
    assert set(invoices_by_order(shipped)) == {victim, other}
    assert_nothing_half_written(shipped)


@pytest.mark.parametrize("answer", ["html_500_error_page", "invalid_utf8", "json_empty_list"])
def test_a_garbled_answer_to_an_invoice_that_was_made_never_invoices_twice(
    shipped, hostile, answer
):
    victim = shipped.orders[0]
    hostile.answer("PUT", rf"{FORTNOX}3/orders/{victim}/createinvoice$", answer, forward=True)

    result = run(shipped)

    assert result.status == SyncRun.Status.PARTIAL, result.error
    the_failure(process=FULFILMENT, object_ref=victim, service="Fortnox")
    assert len(invoices_by_order(shipped)[victim]) == 1

    hostile.clear()
    repaired = run(shipped)

    assert repaired.status == SyncRun.Status.SUCCEEDED, repaired.error
    assert_nothing_half_written(shipped)
    assert all(line.reported == line.picked for line in wms_orders(shipped)[victim].lines.all())


# --- odd but valid content ----------------------------------------------------------------------


def odd_article(article: dict) -> dict:
    article = dict(article["Article"])
    article.update(
        Description="Smörgåsbord Ärtsoppa\u0000 \u2013 Överkörd “Åsa” 🙂",
        Note=None,
        Unit=None,
        EAN=None,
        Weight="1 200,5",
        PurchasePrice="12,50",
        Width="300",
        StockGoods="true",
    )
    return {"Article": article}


def test_swedish_text_numbers_as_strings_and_nulls_go_through_and_control_characters_do_not(
    few, hostile
):
    victim = few.spare_articles[0]
    hostile.transform("GET", rf"{FORTNOX}3/articles/{re.escape(victim)}$", odd_article)

    result = run(few)

    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    data = Article.objects.get(goods_owner=few.goods_owner, article_number=victim).data
    assert data["articleName"] == "Smörgåsbord Ärtsoppa \u2013 Överkörd “Åsa” 🙂"
    assert Decimal(str(data["weight"])) == Decimal("1.2005")
    assert Decimal(str(data["purchasePrice"])) == Decimal("12.5")
    assert data["isStockArticle"] is True
    assert "barCodeInfo" not in data or not data["barCodeInfo"].get("barCode")


def test_an_error_message_with_control_characters_is_stored_without_them(few, hostile):
    """PostgreSQL cannot store NUL in text or JSON: a failure whose message or recorded exchange
    holds one must still be recorded (it was not: the failure's own INSERT failed)."""
    from integrations.services.failures import sync_failure_retry

    victim = few.spare_articles[0]
    hostile.answer(
        "GET", rf"{FORTNOX}3/articles/{re.escape(victim)}$", "error_400_with_control_characters"
    )

    result = run(few)

    assert result.status == SyncRun.Status.PARTIAL, result.error
    failure = the_failure(process=ARTICLES, object_ref=victim, service="Fortnox")
    assert failure.kind == SyncFailure.Kind.VALIDATION
    assert failure.message == "Fortnox 400 [2000588]: Ogiltigt värde i fältet [31m"
    stored = json.dumps(failure.details)
    assert "\\u0000" not in stored and "Ogiltigt" in stored

    hostile.clear()
    sync_failure_retry(failure=failure)
    assert run(few).status == SyncRun.Status.SUCCEEDED
    assert victim in sent_articles(few)


def odd_suppliers(listing: dict) -> dict:
    suppliers = [dict(supplier) for supplier in listing["Suppliers"]]
    suppliers[0]["Name"] = "Åkesson & Söner\u0000 AB " + "ö" * 400
    suppliers[0]["Comments"] = "Rad 1\u0000\nRad 2"
    return {**listing, "Suppliers": suppliers}


def test_a_supplier_with_control_characters_and_a_long_name_is_kept(few, hostile):
    hostile.transform("GET", rf"{FORTNOX}3/suppliers$", odd_suppliers)

    result = run(few)

    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    supplier = Supplier.objects.get(name__startswith="Åkesson")
    assert supplier.name == ("Åkesson & Söner AB " + "ö" * 400)[:200]
    assert supplier.data["Comments"] == "Rad 1\nRad 2"


def junk_rows(order: dict) -> dict:
    return {"Order": {**order["Order"], "OrderRows": "inga rader"}}


def test_a_record_the_mapper_cannot_read_waits_for_a_change_or_a_retry(few, hostile):
    """Junk inside a record is the object's problem (a validation failure): it is not retried on
    its own, but a retry from the status page (or a change in Fortnox) sends it again."""
    from integrations.services.failures import sync_failure_retry

    victim = few.orders[0]
    hostile.transform("GET", rf"{FORTNOX}3/orders/{victim}$", junk_rows)

    result = run(few)

    assert result.status == SyncRun.Status.PARTIAL, result.error
    failure = SyncFailure.objects.get(process=SALES_ORDERS, object_ref=victim, resolved_at=None)
    assert failure.kind == SyncFailure.Kind.VALIDATION
    assert failure.message == f"Order {victim}: its rows are not a list"
    assert victim not in wms_orders(few)

    hostile.clear()
    sync_failure_retry(failure=failure)
    repaired = run(few)

    assert repaired.status == SyncRun.Status.SUCCEEDED, repaired.error
    assert victim in wms_orders(few)
    assert_nothing_half_written(few)


# --- warehouse records of the wrong shape (warehouse module) ---------------------------------


def junk_adjustments(groups: list) -> list:
    return [
        *groups,
        {"article": None, "inventoryAdjustments": "fel"},
        {"article": [], "inventoryAdjustments": [None, 5, {"inventoryId": "sju"}]},
        {
            "article": {"articleNumber": "X1", "articleSystemId": "x"},
            "inventoryAdjustments": [{"inventoryId": 1, "numberOfItems": 2}],
        },
    ]


def junk_returns(returns: list) -> list:
    return [
        *returns,
        {"returnOrderInfo": [1], "returnOrderLines": "inga"},
        {
            "returnOrderInfo": {"returnOrderId": 9},
            "returnOrderLines": [{"article": {"articleNumber": "A"}, "returnedNumberOfItems": 1}],
            "customerOrderInfo": {"orderId": "sju"},
        },
    ]


def test_warehouse_records_of_the_wrong_shape_fail_one_by_one(few, hostile):
    few.company.warehouse_module = True
    few.company.save(update_fields=["warehouse_module"])
    ProcessSetting.objects.update_or_create(
        integration=few.integration, process=WAREHOUSE_MODULE, defaults={"enabled": True}
    )
    first = run(few)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    article = Article.objects.filter(goods_owner=few.goods_owner, number_of_items__gt=0).first()
    adjustment = warehouse.inventory_adjust(article=article, number_of_items=Decimal(3))
    hostile.transform("GET", rf"{ONGOING_API}inventoryAdjustments$", junk_adjustments)
    hostile.transform("GET", rf"{ONGOING_API}returnOrders$", junk_returns)

    result = run(few)

    assert result.status == SyncRun.Status.PARTIAL, result.error
    failures = assert_clear_failures(process=WAREHOUSE_MODULE)
    assert {f.object_ref for f in failures} == {
        "inventory:None",
        "inventory:sju",
        "inventory:1",
        "return:None",
        "return:9",
    }
    assert result.counts[WAREHOUSE_MODULE]["created"] == 1
    documents = records(few, Kind.CUSTOM_DOCUMENT)
    assert [key for key in documents if key.endswith(f":{adjustment.pk}{article.pk:012d}")]
    adjustment.refresh_from_db()
    assert adjustment.is_reported

    hostile.clear()
    again = run(few)

    assert again.status == SyncRun.Status.SUCCEEDED, again.error
    assert len(records(few, Kind.CUSTOM_DOCUMENT)) == len(documents)


def without_numbers_and_with_odd_statuses(purchase_orders: list) -> list:
    changed = []
    for purchase_order in purchase_orders:
        info = {**purchase_order["purchaseOrderInfo"], "purchaseOrderStatus": ["Mottagen"]}
        info.pop("purchaseOrderNumber", None)
        changed.append({**purchase_order, "purchaseOrderInfo": info})
    return changed


def test_a_warehouse_purchase_order_without_its_number_is_still_booked_once(world, hostile):
    """purchaseOrderNumber missing (a KeyError crashed the process) and a status that is not an
    object: the receipt is booked by the purchase order's id, once."""
    from ongoing.sandbox.models import PurchaseOrder

    SandboxRecord.objects.filter(company=world.company, kind=Kind.ORDER).delete()
    world.company.warehouse_module = True
    world.company.save(update_fields=["warehouse_module"])
    for process in (WAREHOUSE_MODULE, PURCHASE_ORDERS):
        ProcessSetting.objects.update_or_create(
            integration=world.integration, process=process, defaults={"enabled": True}
        )
    first = run(world)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    purchase_order = PurchaseOrder.objects.filter(goods_owner=world.goods_owner).first()
    number = purchase_order.purchase_order_number
    warehouse.purchase_order_receive(purchase_order=purchase_order)
    world.catch_up()
    hostile.transform(
        "GET", rf"{ONGOING_API}purchaseOrders$", without_numbers_and_with_odd_statuses
    )

    result = run(world)

    assert result.status == SyncRun.Status.SUCCEEDED, result.error
    goods = [
        g
        for g in records(world, Kind.INCOMING_GOODS).values()
        if str(g["rows"][0]["purchaseOrderId"]) == number
    ]
    assert len(goods) == 1
    assert goods[0]["released"] and goods[0]["completed"]
