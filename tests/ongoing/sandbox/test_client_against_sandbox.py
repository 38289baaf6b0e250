"""The real OngoingClient and credential check, unchanged, over real HTTP against the sandbox served
by Django's live server: what the integration does is what the emulated warehouse sees."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from integrations.metering import metering
from ongoing.client import (
    OngoingAuthError,
    OngoingClient,
    OngoingRateLimited,
    OngoingRefused,
    OngoingServerError,
    OngoingWorkStarted,
)
from ongoing.models import OngoingConnection
from ongoing.sandbox import services
from ongoing.sandbox.models import ApiUser, GoodsOwner, Order, PurchaseOrder
from ongoing.sandbox.seed import API_PASSWORD, API_USERNAME, CUSTOMER_ID, sandbox_seed
from ongoing.services import ongoing_connection_verify
from ongoing.statuses import OrderStatus, PurchaseOrderStatus


@pytest.fixture
def sandbox_url(live_server, settings, tmp_path):
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    # The goods-owner lock is Redis's when REDIS_URL is set (as in CI), else a file lock here.
    settings.ONGOING_LOCK_DIR = tmp_path
    return settings.SANDBOX_BASE_URL


@pytest.fixture
def seeded(sandbox_url):
    return sandbox_seed(stdout=io.StringIO())


@pytest.fixture
def wms(seeded) -> OngoingClient:
    verified = ongoing_connection_verify(
        system=seeded.warehouse.system_url, username=API_USERNAME, password=API_PASSWORD
    )
    return OngoingClient(
        base_url=verified.api_base_url,
        username=verified.username,
        password=verified.password,
        goods_owner_id=verified.goods_owner_id,
        page_size=2,
    )


def order_body(number: str, lines: list[tuple[str, str, int]]) -> dict:
    return {
        "orderNumber": number,
        "deliveryDate": "2026-12-01T00:00:00Z",
        "consignee": {"name": "Kund AB", "address1": "Storgatan 1", "postCode": "11122",
                      "city": "Stockholm", "countryCode": "SE"},
        "orderLines": [
            {"rowNumber": row, "articleNumber": article, "numberOfItems": quantity}
            for row, article, quantity in lines
        ],
    }  # fmt: skip


# --- The credential check -----------------------------------------------------------------------


def test_the_seeded_system_url_and_customer_id_verify(seeded):
    for system in (seeded.warehouse.system_url, CUSTOMER_ID):
        verified = ongoing_connection_verify(
            system=system, username=API_USERNAME, password=API_PASSWORD
        )
        assert verified.goods_owner_id == seeded.goods_owner.pk
        assert verified.api_base_url == f"{seeded.warehouse.system_url}api/v1/"


@pytest.mark.parametrize(
    ("username", "password", "code"),
    [
        (API_USERNAME, "wrong-password", "bad_credentials"),
        ("WSINobody", API_PASSWORD, "bad_credentials"),
        ("WSIOrphan", "orphan-pw", "no_goods_owner"),
    ],
)
def test_wrong_credentials_and_users_without_goods_owner(seeded, username, password, code):
    orphan = ApiUser(warehouse=seeded.warehouse, username="WSIOrphan")
    orphan.set_password("orphan-pw")
    orphan.save()
    with pytest.raises(ValidationError) as raised:
        ongoing_connection_verify(
            system=seeded.warehouse.system_url, username=username, password=password
        )
    assert raised.value.code == code


def test_an_unknown_sandbox_warehouse_is_an_unknown_system(seeded, sandbox_url):
    with pytest.raises(ValidationError) as raised:
        ongoing_connection_verify(
            system=f"{sandbox_url}/ongoing/nosuchlager/", username=API_USERNAME, password="x"
        )
    assert raised.value.code == "unknown_system"


# --- Articles -----------------------------------------------------------------------------------


def test_articles_upsert_then_page_through_with_inventory_info(wms, seeded):
    before = timezone.now() - timedelta(seconds=1)
    numbers = [f"SBX-{n}" for n in range(5)]
    for number in numbers:
        answer = wms.article_upsert(article={"articleNumber": number, "articleName": number})
        assert answer["articleSystemId"]
    with metering() as meter:
        pages = list(wms.articles_list(updated_from=before))
    # page_size 2: three pages of articles, then the empty page that ends the paging.
    assert [len(page.items) for page in pages] == [2, 2, 1]
    assert meter["ongoing"] == 4
    assert [a["articleNumber"] for page in pages for a in page.items] == numbers
    assert all("sellableNumberOfItems" in a["inventoryInfo"] for p in pages for a in p.items)
    resumed = list(wms.articles_list(updated_from=before, id_from=pages[0].next_id_from))
    assert [a["articleNumber"] for page in resumed for a in page.items] == numbers[2:]
    later = timezone.now() + timedelta(minutes=1)
    assert list(wms.articles_list(updated_from=later)) == []


# --- Orders: the whole life of one ---------------------------------------------------------------


def stock(wms, number: str) -> dict:
    (page,) = list(wms.articles_list(article_numbers=[number]))
    return page.items[0]["inventoryInfo"]


def test_an_order_from_upsert_to_reported(wms, seeded):
    for number in ("A1", "A2"):
        wms.article_upsert(article={"articleNumber": number})
    for article in seeded.goods_owner.articles.all():
        services.inventory_adjust(article=article, number_of_items=Decimal(10))
    assert {"code": "B2B", "name": "Företag"} not in wms.order_types()
    assert wms.order_type_create(code="B2B", name="Företag")["orderTypeId"]
    assert {"code": "B2B", "name": "Företag"} in wms.order_types()

    body = order_body("1001", [("1", "A1", 3), ("2", "A2", 2)])
    body["orderType"] = {"code": "B2B"}
    order_id = wms.order_upsert(order=body)["orderId"]
    body["orderLines"][0]["numberOfItems"] = 4
    assert wms.order_upsert(order=body)["orderId"] == order_id  # an upsert by number
    got = wms.order_get(order_id=order_id)
    assert got["orderInfo"]["orderStatus"]["number"] == OrderStatus.OPEN
    assert [line["orderedNumberOfItems"] for line in got["orderLines"]] == [4, 2]

    services.order_start_picking(order=Order.objects.get(pk=order_id))
    with pytest.raises(OngoingWorkStarted):
        wms.order_upsert(order=body)
    with pytest.raises(OngoingWorkStarted):
        wms.order_cancel(order_id=order_id)

    order = Order.objects.get(pk=order_id)
    services.order_pick(order=order, quantities={"1": Decimal(4), "2": Decimal(1)})  # partial
    services.order_send(order=order)
    assert stock(wms, "A1")["numberOfItems"] == 6

    sent = [
        o
        for page in wms.orders_list(
            status_from=OrderStatus.SENT, status_to=OrderStatus.SENT, only_lines_to_report=True
        )
        for o in page.items
    ]
    assert [o["orderInfo"]["orderId"] for o in sent] == [order_id]
    assert [line["pickedNumberOfItems"] for line in sent[0]["orderLines"]] == [4, 1]
    wms.order_set_reported_picked(order_id=order_id)
    assert list(wms.orders_list(only_lines_to_report=True)) == []
    reported = wms.order_get(order_id=order_id)["orderLines"]
    assert [line["reportedNumberOfItems"] for line in reported] == [4, 1]


def test_orders_list_filters_and_pages(wms, seeded):
    wms.article_upsert(article={"articleNumber": "A1"})
    ids = [
        wms.order_upsert(order=order_body(f"O{n}", [("1", "A1", 1)]))["orderId"] for n in range(5)
    ]
    since = timezone.now()
    wms.order_cancel(order_id=ids[0])
    pages = list(wms.orders_list(status_from=OrderStatus.OPEN, status_to=OrderStatus.OPEN))
    assert [len(page.items) for page in pages] == [2, 2]
    cancelled = list(wms.orders_list(status_changed_from=since - timedelta(milliseconds=1)))
    assert [o["orderInfo"]["orderId"] for p in cancelled for o in p.items] == [ids[0]]
    assert wms.order_get(order_id=ids[0])["orderInfo"]["orderStatus"]["number"] == 1000
    texts = {status["number"]: status["text"] for status in wms.order_statuses()}
    assert texts[450] == "Sent" and texts[1000] == "Cancelled"


def test_a_refused_write_is_a_validation_error(wms):
    with pytest.raises(OngoingRefused, match="does not exist"):
        wms.order_upsert(order=order_body("X1", [("1", "NO-SUCH-ARTICLE", 1)]))


# --- Purchase orders ----------------------------------------------------------------------------


def test_a_purchase_order_received_in_two_goes(wms, seeded):
    wms.article_upsert(article={"articleNumber": "A1"})
    body = {
        "purchaseOrderNumber": "PO1",
        "supplierInfo": {"supplierNumber": "S1", "supplierName": "Leverantör AB"},
        "purchaseOrderLines": [{"rowNumber": "1", "articleNumber": "A1", "numberOfItems": 10}],
    }
    po_id = wms.purchase_order_upsert(purchase_order=body)["purchaseOrderId"]
    assert stock(wms, "A1")["toReceiveNumberOfItems"] == 10

    purchase_order = PurchaseOrder.objects.get(pk=po_id)
    services.purchase_order_receive(purchase_order=purchase_order, quantities={"1": Decimal(4)})
    with pytest.raises(OngoingWorkStarted):
        wms.purchase_order_upsert(purchase_order=body)
    (page,) = list(wms.purchase_orders_list(only_lines_to_report=True))
    (line,) = page.items[0]["purchaseOrderLines"]
    assert (line["advisedNumberOfItems"], line["receivedNumberOfItems"]) == (10, 4)
    wms.purchase_order_set_reported_received(purchase_order_id=po_id)
    assert list(wms.purchase_orders_list(only_lines_to_report=True)) == []

    services.purchase_order_receive(purchase_order=purchase_order, quantities={"1": Decimal(5)})
    services.purchase_order_close(
        purchase_order=purchase_order, status=PurchaseOrderStatus.DEFLECTION
    )
    (page,) = list(wms.purchase_orders_list(only_lines_to_report=True))
    info = page.items[0]["purchaseOrderInfo"]
    assert info["purchaseOrderStatus"]["number"] == PurchaseOrderStatus.DEFLECTION
    assert page.items[0]["purchaseOrderLines"][0]["receivedNumberOfItems"] == 9
    assert stock(wms, "A1")["numberOfItems"] == 9
    texts = {status["number"]: status["text"] for status in wms.purchase_order_statuses()}
    assert texts[400] == "Deflection" and texts[500] == "Received"


# --- Returns and inventory adjustments ----------------------------------------------------------


def test_returns_and_inventory_adjustments(wms, seeded):
    wms.article_upsert(article={"articleNumber": "A1"})
    article = seeded.goods_owner.articles.get(article_number="A1")
    adjustment = services.inventory_adjust(article=article, number_of_items=Decimal(5))
    order_id = wms.order_upsert(order=order_body("R1", [("1", "A1", 2)]))["orderId"]
    order = Order.objects.get(pk=order_id)
    services.order_pick(order=order)
    services.order_send(order=order)
    services.return_register(order=order, quantities={"1": Decimal(1)}, cause="Broken")

    (returned,) = wms.return_orders_list(returned_from=timezone.now() - timedelta(minutes=1))
    assert returned["customerOrderInfo"]["orderId"] == order_id
    assert returned["returnOrderLines"][0]["returnedNumberOfItems"] == 1

    (group,) = wms.inventory_adjustments_list()
    assert group["article"]["articleNumber"] == "A1"
    assert [a["numberOfItems"] for a in group["inventoryAdjustments"]] == [5]
    wms.inventory_adjustment_set_reported(inventory_id=adjustment.pk, article_system_id=article.pk)
    assert wms.inventory_adjustments_list() == []


# --- Faults and scoping -------------------------------------------------------------------------


def test_injected_faults_reach_the_client_typed(wms, seeded):
    GoodsOwner.objects.filter(pk=seeded.goods_owner.pk).update(throttle_burst=1)
    with pytest.raises(OngoingRateLimited):
        wms.order_statuses()
    GoodsOwner.objects.filter(pk=seeded.goods_owner.pk).update(error_rate=1)
    with pytest.raises(OngoingServerError, match="An error has occurred"):
        wms.order_statuses()
    GoodsOwner.objects.filter(pk=seeded.goods_owner.pk).update(error_rate=0)
    assert wms.order_statuses()


def test_a_lost_answer_then_a_retry_does_not_duplicate(wms, seeded):
    """The upsert by number makes a retried write safe after its answer was lost."""
    wms.article_upsert(article={"articleNumber": "A1"})
    GoodsOwner.objects.filter(pk=seeded.goods_owner.pk).update(lost_response_rate=1)
    with pytest.raises(OngoingServerError):
        wms.order_upsert(order=order_body("L1", [("1", "A1", 1)]))
    GoodsOwner.objects.filter(pk=seeded.goods_owner.pk).update(lost_response_rate=0)
    order_id = wms.order_upsert(order=order_body("L1", [("1", "A1", 1)]))["orderId"]
    assert list(Order.objects.filter(order_number="L1").values_list("pk", flat=True)) == [order_id]


def test_another_goods_owner_is_out_of_reach(wms, seeded):
    other = GoodsOwner.objects.create(warehouse=seeded.warehouse, name="Annan AB")
    wms.goods_owner_id = other.pk
    with pytest.raises(OngoingAuthError):
        wms.order_types()


def test_onboarding_with_the_printed_credentials_connects_the_company(
    seeded, member_client, member
):
    response = member_client.post(
        reverse("ongoing:connection"),
        {"system": CUSTOMER_ID, "username": API_USERNAME, "password": API_PASSWORD},
    )
    assert response.status_code == 302
    connection = OngoingConnection.objects.get(tenant=member.tenant)
    assert connection.goods_owner_id == seeded.goods_owner.pk
    assert OngoingClient.for_connection(connection).order_statuses()


def test_onboarding_with_a_wrong_password_says_so_and_stores_nothing(seeded, member_client):
    response = member_client.post(
        reverse("ongoing:connection"),
        {"system": seeded.warehouse.system_url, "username": API_USERNAME, "password": "wrong"},
    )
    assert response.status_code == 200
    assert "did not accept that username and password" in response.content.decode()
    assert not OngoingConnection.objects.exists()
