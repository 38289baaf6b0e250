"""The emulated Goods Owner REST API, through Django's test client: shapes of the vendor's examples,
auth, goods-owner scoping, the started-work rule, paging, filters and faults."""

import json
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from ongoing.sandbox import services
from ongoing.sandbox.models import ApiUser, Article, GoodsOwner, Order, OrderType, PurchaseOrder
from ongoing.statuses import OrderStatus
from tests.ongoing.conftest import basic_auth

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
API = "/sandbox/ongoing/demolager/api/v1/"


def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


@pytest.fixture
def call(client, sandbox):
    """call(method, path, body=None, **query) as the seeded API user."""

    def call(method, path, body=None, auth=None, **query):
        headers = auth or basic_auth(sandbox.user.username, sandbox.password)
        if method == "GET":
            return client.get(API + path, query, **headers)
        return client.generic(
            method,
            API + path,
            json.dumps(body) if body is not None else "",
            content_type="application/json",
            **headers,
        )

    return call


@pytest.fixture
def owner_id(sandbox):
    return sandbox.goods_owner.pk


def with_owner(body: dict, owner_id: int) -> dict:
    return {**body, "goodsOwnerId": owner_id}


def put_articles(call, owner_id, *numbers):
    for number in numbers:
        answer = call("PUT", "articles", {"goodsOwnerId": owner_id, "articleNumber": number})
        assert answer.status_code == 200, answer.content


def minimal_order(owner_id, number="O987654", lines=(("1", "1009", 2), ("2", "1005", 5))):
    body = with_owner(example("order-put-request-minimal.json"), owner_id)
    body["orderNumber"] = number
    body["orderLines"] = [
        {"rowNumber": row, "articleNumber": article, "numberOfItems": quantity}
        for row, article, quantity in lines
    ]
    return body


# --- Sign-in and scoping ------------------------------------------------------------------------


def test_wrong_password_is_401_with_basic_challenge(call, sandbox):
    answer = call("GET", "goodsOwners", auth=basic_auth(sandbox.user.username, "wrong"))
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"].startswith("Basic")
    assert "Message" in answer.json()


def test_no_credentials_is_401(client, sandbox):
    assert client.get(API + "goodsOwners").status_code == 401


def test_unknown_warehouse_is_404(client, sandbox):
    answer = client.get(
        "/sandbox/ongoing/nosuch/api/v1/goodsOwners",
        **basic_auth(sandbox.user.username, sandbox.password),
    )
    assert answer.status_code == 404


def test_unknown_path_and_method_are_answered_as_ongoing_does(call):
    assert call("GET", "nothingHere").json() == {
        "Message": "No HTTP resource was found that matches the request URI."
    }
    assert call("POST", "orders/statuses", {}).status_code == 405


def test_goods_owners_lists_the_users_own_only(call, sandbox, owner_id):
    GoodsOwner.objects.create(warehouse=sandbox.warehouse, name="Someone Else AB")
    assert call("GET", "goodsOwners").json() == [{"id": owner_id, "name": "Demo Handel AB"}]


def test_user_without_goods_owner_sees_none_and_reaches_nothing(call, sandbox, owner_id):
    user = ApiUser(warehouse=sandbox.warehouse, username="WSILonely")
    user.set_password("pw")
    user.save()
    auth = basic_auth("WSILonely", "pw")
    assert call("GET", "goodsOwners", auth=auth).json() == []
    assert call("GET", "articles", auth=auth, goodsOwnerId=owner_id).status_code == 403


def test_another_goods_owner_is_refused(call, sandbox):
    other = GoodsOwner.objects.create(warehouse=sandbox.warehouse, name="Someone Else AB")
    assert call("GET", "articles", goodsOwnerId=other.pk).status_code == 403
    answer = call("PUT", "articles", {"goodsOwnerId": other.pk, "articleNumber": "A1"})
    assert answer.status_code == 403
    assert not Article.objects.exists()


def test_goods_owner_id_is_required(call):
    answer = call("GET", "orders")
    assert answer.status_code == 400
    assert "goodsOwnerId" in answer.json()["ModelState"]


def test_other_goods_owners_order_is_not_found(call, sandbox, owner_id):
    other = GoodsOwner.objects.create(warehouse=sandbox.warehouse, name="Someone Else AB")
    now = timezone.now()
    order = Order.objects.create(
        goods_owner=other, order_number="X1", updated_at=now, status_changed_at=now
    )
    assert call("GET", f"orders/{order.pk}").status_code == 404
    assert call("DELETE", f"orders/{order.pk}").status_code == 404


# --- Articles -----------------------------------------------------------------------------------


def test_article_put_answers_like_the_vendor_example(call, owner_id):
    answer = call(
        "PUT", "articles", with_owner(example("article-put-request-minimal.json"), owner_id)
    )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == set(example("article-put-response-minimal.json"))
    assert body["message"] == "Article TestArticleNumber1 Article name 1 Updated/Created"
    article = Article.objects.get()
    assert body["articleSystemId"] == article.pk


def test_article_put_is_an_upsert_by_number(call, owner_id):
    first = call("PUT", "articles", with_owner(example("article-put-request-full.json"), owner_id))
    again = call(
        "PUT",
        "articles",
        {"goodsOwnerId": owner_id, "articleNumber": "TestArticleNumber_ManyFields1", "weight": 2},
    )
    assert first.json()["articleSystemId"] == again.json()["articleSystemId"]
    article = Article.objects.get()
    assert article.data["weight"] == 2
    assert article.data["articleName"] == "Article name 1"  # left out, kept


def test_article_get_has_the_vendor_shape_and_inventory_info(call, owner_id):
    call("PUT", "articles", with_owner(example("article-put-request-full.json"), owner_id))
    articles = call("GET", "articles", goodsOwnerId=owner_id).json()
    expected = example("article-get-response.json")
    assert len(articles) == 1
    article = articles[0]
    assert set(expected) <= set(article)
    assert set(expected["inventoryInfo"]) <= set(article["inventoryInfo"])
    assert article["goodsOwner"] == {"id": owner_id, "name": "Demo Handel AB"}
    assert article["weight"] == 1.5  # sent as "1.5", answered as a number
    assert article["barCodeInfo"] == expected["barCodeInfo"]
    assert article["inventoryInfo"]["numberOfItems"] == 0.0
    assert "sellableNumberOfItems" in article["inventoryInfo"]


def test_article_put_without_number_is_400_model_state(call, owner_id):
    answer = call("PUT", "articles", {"goodsOwnerId": owner_id, "articleName": "No number"})
    assert answer.status_code == 400
    assert answer.json()["Message"] == "The request is invalid."
    assert "articleNumber" in answer.json()["ModelState"]


def test_broken_json_is_400(client, sandbox):
    answer = client.generic(
        "PUT",
        API + "articles",
        "{not json",
        content_type="application/json",
        **basic_auth(sandbox.user.username, sandbox.password),
    )
    assert answer.status_code == 400


def test_articles_page_with_the_id_cursor(call, owner_id):
    put_articles(call, owner_id, *[f"A{n}" for n in range(5)])
    ids = list(Article.objects.order_by("pk").values_list("pk", flat=True))
    first = call("GET", "articles", goodsOwnerId=owner_id, maxArticlesToGet=2).json()
    assert [a["articleSystemId"] for a in first] == ids[:2]
    second = call(
        "GET", "articles", goodsOwnerId=owner_id, maxArticlesToGet=2, articleSystemIdFrom=ids[1] + 1
    ).json()
    assert [a["articleSystemId"] for a in second] == ids[2:4]
    assert (
        call("GET", "articles", goodsOwnerId=owner_id, articleSystemIdFrom=ids[-1] + 1).json() == []
    )


def test_articles_filter_by_numbers_and_update_time(call, owner_id):
    put_articles(call, owner_id, "A1", "A2", "A3")
    Article.objects.filter(article_number="A1").update(
        data_updated_at=timezone.now() - timedelta(days=2)
    )
    since = (timezone.now() - timedelta(days=1)).isoformat()
    recent = call("GET", "articles", goodsOwnerId=owner_id, articleDataLastUpdatedFrom=since)
    assert [a["articleNumber"] for a in recent.json()] == ["A2", "A3"]
    chosen = call("GET", "articles", goodsOwnerId=owner_id, articleNumbers=["A1", "A3"])
    assert [a["articleNumber"] for a in chosen.json()] == ["A1", "A3"]
    assert (
        call("GET", "articles", goodsOwnerId=owner_id, articleDataLastUpdatedFrom="x").status_code
        == 400
    )


def test_stock_filter_and_inventory_follow_the_warehouse(call, owner_id, sandbox):
    put_articles(call, owner_id, "1009", "1005")
    before = timezone.now()
    services.inventory_adjust(
        article=Article.objects.get(article_number="1009"), number_of_items=10
    )
    changed = call(
        "GET", "articles", goodsOwnerId=owner_id, stockInfoChangedFrom=before.isoformat()
    )
    assert [a["articleNumber"] for a in changed.json()] == ["1009"]

    call("PUT", "orders", minimal_order(owner_id, lines=(("1", "1009", 4),)))
    info = call("GET", "articles", goodsOwnerId=owner_id, articleNumbers="1009").json()[0][
        "inventoryInfo"
    ]
    assert info["numberOfItems"] == 10.0
    assert info["numberOfBookedItems"] == 4.0
    assert info["sellableNumberOfItems"] == 6.0


# --- Orders -------------------------------------------------------------------------------------


def test_order_put_minimal_answers_like_the_vendor_example(call, owner_id):
    put_articles(call, owner_id, "1009", "1005")
    answer = call("PUT", "orders", minimal_order(owner_id))
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == set(example("order-put-response-minimal.json"))
    assert body["message"].endswith("Order number O987654 created/updated")
    order = Order.objects.get()
    assert body["orderId"] == order.pk
    assert order.status == OrderStatus.OPEN
    assert [(line.row_number, line.ordered) for line in order.lines.all()] == [
        ("1", Decimal(2)),
        ("2", Decimal(5)),
    ]


def test_order_get_has_the_vendor_shape(call, owner_id):
    put_articles(call, owner_id, "1009")
    OrderType.objects.create(goods_owner_id=owner_id, code="B2B", name="Business to Business")
    order_id = call("PUT", "orders", with_owner(example("order-put-request-full.json"), owner_id))
    order_id = order_id.json()["orderId"]
    body = call("GET", f"orders/{order_id}").json()
    expected = example("order-get-response.json")
    assert set(expected) - {"parcels"} <= set(body)
    assert set(expected["orderInfo"]) <= set(body["orderInfo"])
    assert set(expected["orderLines"][0]) <= set(body["orderLines"][0])
    assert body["orderInfo"]["orderStatus"] == {"number": 200, "text": "Open"}
    assert body["orderInfo"]["orderType"] == {"code": "B2B", "name": "Business to Business"}
    assert body["consignee"] == expected["consignee"]
    line = body["orderLines"][0]
    assert line["article"]["articleNumber"] == "1009"
    assert line["orderedNumberOfItems"] == 2.0
    assert line["pickedNumberOfItems"] == 0.0
    assert line["reportedNumberOfItems"] is None
    assert body["transporter"]["code"] == "PLAB"


def test_order_update_replaces_rows(call, owner_id):
    put_articles(call, owner_id, "1009", "1005")
    first = call("PUT", "orders", minimal_order(owner_id)).json()["orderId"]
    again = call("PUT", "orders", minimal_order(owner_id, lines=(("2", "1009", 7),))).json()
    assert again["orderId"] == first
    lines = Order.objects.get().lines.all()
    assert [(line.row_number, line.article.article_number, line.ordered) for line in lines] == [
        ("2", "1009", Decimal(7))
    ]


@pytest.mark.parametrize(
    "status", [OrderStatus.RELEASED, OrderStatus.PICKED, OrderStatus.SENT, OrderStatus.COLLECTED]
)
def test_started_work_refuses_updates_and_cancellation(call, owner_id, status):
    put_articles(call, owner_id, "1009", "1005")
    order_id = call("PUT", "orders", minimal_order(owner_id)).json()["orderId"]
    Order.objects.filter(pk=order_id).update(status=status)

    answer = call("PUT", "orders", minimal_order(owner_id, lines=(("1", "1009", 99),)))
    assert answer.status_code == 200
    assert answer.json()["orderId"] is None
    assert "started working" in answer.json()["message"]
    assert Order.objects.get().lines.get(row_number="1").ordered == 2

    cancel = call("DELETE", f"orders/{order_id}").json()
    assert cancel["orderId"] is None
    assert "started working" in cancel["message"]
    assert Order.objects.get().status == status


def test_open_order_is_cancelled_and_stays_cancelled(call, owner_id):
    put_articles(call, owner_id, "1009", "1005")
    order_id = call("PUT", "orders", minimal_order(owner_id)).json()["orderId"]
    assert call("DELETE", f"orders/{order_id}").json() == {
        "orderId": order_id,
        "message": "Order number O987654 cancelled.",
    }
    assert Order.objects.get().status == OrderStatus.CANCELLED
    # A retried cancellation is harmless; an update of a cancelled order is refused.
    assert call("DELETE", f"orders/{order_id}").json()["orderId"] == order_id
    update = call("PUT", "orders", minimal_order(owner_id)).json()
    assert update["orderId"] is None
    assert "cancelled" in update["message"]


def test_order_with_unknown_article_or_type_is_refused(call, owner_id):
    put_articles(call, owner_id, "1009")
    answer = call("PUT", "orders", minimal_order(owner_id)).json()
    assert answer == {
        "orderId": None,
        "message": "Order number O987654 was not saved: article 1005 does not exist.",
    }
    typed = minimal_order(owner_id, lines=(("1", "1009", 1),)) | {"orderType": {"code": "B2C"}}
    assert "order type B2C does not exist" in call("PUT", "orders", typed).json()["message"]
    assert not Order.objects.exists()


def test_order_missing_required_fields_is_400(call, owner_id):
    answer = call("PUT", "orders", {"goodsOwnerId": owner_id, "orderNumber": "O1"})
    assert answer.status_code == 400
    assert {"deliveryDate", "consignee"} <= set(answer.json()["ModelState"])


def test_order_statuses_are_the_standard_list(call):
    body = call("GET", "orders/statuses").json()
    expected = example("order-statuses-get-response.json")["orderStatuses"]
    assert all(status in body["orderStatuses"] for status in expected)


def test_purchase_order_statuses_are_the_standard_list(call):
    assert call("GET", "purchaseOrders/statuses").json() == example(
        "purchase-order-statuses-get-response.json"
    )


def test_order_types_are_listed_oldest_first_and_created(call, owner_id):
    assert call("GET", "orders/types", goodsOwnerId=owner_id).json() == {"orderTypes": []}
    created = call("PUT", "orders/types", {"goodsOwnerId": owner_id, "code": "B2C", "name": "Cons"})
    assert created.json()["orderTypeId"] == OrderType.objects.get().pk
    call("PUT", "orders/types", {"goodsOwnerId": owner_id, "code": "B2B", "name": "Business"})
    assert call("GET", "orders/types", goodsOwnerId=owner_id).json() == {
        "orderTypes": [{"code": "B2C", "name": "Cons"}, {"code": "B2B", "name": "Business"}]
    }


def _order_in(call, owner_id, number, status):
    call("PUT", "orders", minimal_order(owner_id, number=number, lines=(("1", "1009", 1),)))
    Order.objects.filter(order_number=number).update(status=status)
    return Order.objects.get(order_number=number)


def test_orders_filter_by_status_range_and_status_time(call, owner_id):
    put_articles(call, owner_id, "1009")
    _order_in(call, owner_id, "O200", OrderStatus.OPEN)
    _order_in(call, owner_id, "O450", OrderStatus.SENT)
    _order_in(call, owner_id, "O500", OrderStatus.COLLECTED)
    sent = call("GET", "orders", goodsOwnerId=owner_id, orderStatusFrom=450, orderStatusTo=450)
    assert [o["orderInfo"]["orderNumber"] for o in sent.json()] == ["O450"]

    Order.objects.filter(order_number="O200").update(
        status_changed_at=timezone.now() - timedelta(hours=3)
    )
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    changed = call("GET", "orders", goodsOwnerId=owner_id, orderStatusChangedTimeFrom=since)
    assert [o["orderInfo"]["orderNumber"] for o in changed.json()] == ["O450", "O500"]
    by_number = call("GET", "orders", goodsOwnerId=owner_id, orderNumbers=["O500"])
    assert [o["orderInfo"]["orderNumber"] for o in by_number.json()] == ["O500"]


def test_orders_filter_by_update_and_shipped_time(call, owner_id, sandbox):
    put_articles(call, owner_id, "1009")
    services.inventory_adjust(article=Article.objects.get(), number_of_items=5)
    old = _order_in(call, owner_id, "OLD", OrderStatus.OPEN)
    Order.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=1))
    shipped = _order_in(call, owner_id, "SHIP", OrderStatus.OPEN)
    services.order_pick(order=shipped)
    services.order_send(order=shipped)
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    updated = call("GET", "orders", goodsOwnerId=owner_id, orderUpdatedTimeFrom=since).json()
    assert [o["orderInfo"]["orderNumber"] for o in updated] == ["SHIP"]
    sent = call("GET", "orders", goodsOwnerId=owner_id, shippedTimeFrom=since).json()
    assert [o["orderInfo"]["orderNumber"] for o in sent] == ["SHIP"]
    assert sent[0]["orderInfo"]["wayBill"]
    assert sent[0]["tracking"][0]["waybill"] == sent[0]["orderInfo"]["wayBill"]


def test_only_orders_with_lines_to_report_until_reported(call, owner_id):
    put_articles(call, owner_id, "1009")
    services.inventory_adjust(article=Article.objects.get(), number_of_items=5)
    order = _order_in(call, owner_id, "O1", OrderStatus.OPEN)
    _order_in(call, owner_id, "O2", OrderStatus.OPEN)
    services.order_pick(order=order)
    services.order_send(order=order)

    query = {"goodsOwnerId": owner_id, "onlyOrdersWithOrderLinesToReport": "true"}
    to_report = call("GET", "orders", **query).json()
    assert [o["orderInfo"]["orderNumber"] for o in to_report] == ["O1"]

    answer = call("PATCH", f"orders/{order.pk}/setReportedNumberOfItemsToPickedNumberOfItems")
    assert answer.json()["orderId"] == order.pk
    assert call("GET", "orders", **query).json() == []
    line = call("GET", f"orders/{order.pk}").json()["orderLines"][0]
    assert line["reportedNumberOfItems"] == line["pickedNumberOfItems"] == 1.0


def test_orders_page_with_the_id_cursor(call, owner_id):
    put_articles(call, owner_id, "1009")
    for number in range(5):
        _order_in(call, owner_id, f"O{number}", OrderStatus.OPEN)
    first = call("GET", "orders", goodsOwnerId=owner_id, maxOrdersToGet=3).json()
    last_id = first[-1]["orderInfo"]["orderId"]
    rest = call(
        "GET", "orders", goodsOwnerId=owner_id, maxOrdersToGet=3, orderIdFrom=last_id + 1
    ).json()
    numbers = [o["orderInfo"]["orderNumber"] for o in first + rest]
    assert numbers == ["O0", "O1", "O2", "O3", "O4"]


def test_returned_items_are_reported_separately(call, owner_id):
    put_articles(call, owner_id, "1009")
    services.inventory_adjust(article=Article.objects.get(), number_of_items=5)
    order = _order_in(call, owner_id, "O1", OrderStatus.OPEN)
    services.order_pick(order=order)
    services.order_send(order=order)
    services.return_register(order=order, cause="Broken")
    line = call("GET", f"orders/{order.pk}").json()["orderLines"][0]
    assert (line["returnedNumberOfItems"], line["reportedReturnedNumberOfItems"]) == (1.0, None)
    call("PATCH", f"orders/{order.pk}/setReportedReturnedNumberOfItemsToReturnedNumberOfItems")
    line = call("GET", f"orders/{order.pk}").json()["orderLines"][0]
    assert line["reportedReturnedNumberOfItems"] == 1.0


# --- Purchase orders ----------------------------------------------------------------------------


def test_purchase_order_put_answers_like_the_vendor_example(call, owner_id):
    put_articles(call, owner_id, "CK2", "CK5")
    request = with_owner(example("purchase-order-put-request-full.json"), owner_id)
    body = call("PUT", "purchaseOrders", request).json()
    assert set(body) == set(example("purchase-order-put-response-full.json"))
    assert body["message"] == "Inorder with order number PO1213534 created. <br/>"
    again = call("PUT", "purchaseOrders", request).json()
    assert again["purchaseOrderId"] == body["purchaseOrderId"]
    assert "updated" in again["message"]

    listed = call("GET", "purchaseOrders", goodsOwnerId=owner_id).json()
    expected = example("purchase-order-get-response.json")
    assert set(expected) <= set(listed[0])
    assert set(expected["purchaseOrderInfo"]) <= set(listed[0]["purchaseOrderInfo"])
    assert set(expected["purchaseOrderLines"][0]) <= set(listed[0]["purchaseOrderLines"][0])
    assert listed[0]["purchaseOrderInfo"]["purchaseOrderStatus"] == {
        "number": 100,
        "text": "Notified",
    }
    assert listed[0]["supplierInfo"] == expected["supplierInfo"]
    assert [line["advisedNumberOfItems"] for line in listed[0]["purchaseOrderLines"]] == [2.0, 10.0]


def test_receiving_purchase_orders_moves_stock_and_locks_the_advice(call, owner_id):
    put_articles(call, owner_id, "CK2", "CK5")
    request = with_owner(example("purchase-order-put-request-full.json"), owner_id)
    purchase_order_id = call("PUT", "purchaseOrders", request).json()["purchaseOrderId"]
    purchase_order = PurchaseOrder.objects.get(pk=purchase_order_id)
    services.purchase_order_receive(purchase_order=purchase_order, quantities={"2": Decimal(7)})

    query = {"goodsOwnerId": owner_id, "onlyPurchaseOrdersWithOrderLinesToReport": "true"}
    listed = call("GET", "purchaseOrders", **query).json()
    assert [line["receivedNumberOfItems"] for line in listed[0]["purchaseOrderLines"]] == [0, 7]
    assert listed[0]["purchaseOrderInfo"]["purchaseOrderStatus"]["number"] == 300
    stock = call("GET", "articles", goodsOwnerId=owner_id, articleNumbers="CK5").json()[0]
    assert stock["inventoryInfo"]["numberOfItems"] == 7.0
    assert stock["inventoryInfo"]["toReceiveNumberOfItems"] == 3.0

    refused = call("PUT", "purchaseOrders", request).json()
    assert refused["purchaseOrderId"] is None
    assert "started receiving" in refused["message"]

    call(
        "PATCH",
        f"purchaseOrders/{purchase_order_id}/setReportedNumberOfItemsToReceivedNumberOfItems",
    )
    assert call("GET", "purchaseOrders", **query).json() == []


def test_purchase_orders_filter_by_status_and_receive_time(call, owner_id):
    put_articles(call, owner_id, "CK2")
    for number in ("P1", "P2"):
        call(
            "PUT",
            "purchaseOrders",
            {
                "goodsOwnerId": owner_id,
                "purchaseOrderNumber": number,
                "purchaseOrderLines": [
                    {"rowNumber": "1", "articleNumber": "CK2", "numberOfItems": 1}
                ],
            },
        )
    PurchaseOrder.objects.filter(purchase_order_number="P1").update(
        status_changed_at=timezone.now() - timedelta(days=1)
    )
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    services.purchase_order_receive(
        purchase_order=PurchaseOrder.objects.get(purchase_order_number="P2")
    )
    changed = call(
        "GET", "purchaseOrders", goodsOwnerId=owner_id, purchaseOrderStatusChangedTimeFrom=since
    )
    assert [p["purchaseOrderInfo"]["purchaseOrderNumber"] for p in changed.json()] == ["P2"]
    received = call("GET", "purchaseOrders", goodsOwnerId=owner_id, lastReceiveTimeFrom=since)
    assert [p["purchaseOrderInfo"]["purchaseOrderNumber"] for p in received.json()] == ["P2"]
    first = call("GET", "purchaseOrders", goodsOwnerId=owner_id, maxPurchaseOrdersToGet=1).json()
    after = first[0]["purchaseOrderInfo"]["purchaseOrderId"] + 1
    rest = call("GET", "purchaseOrders", goodsOwnerId=owner_id, purchaseOrderIdFrom=after).json()
    assert [p["purchaseOrderInfo"]["purchaseOrderNumber"] for p in first + rest] == ["P1", "P2"]


# --- Returns and inventory adjustments ----------------------------------------------------------


def test_return_orders_list_and_filter(call, owner_id):
    put_articles(call, owner_id, "1009")
    services.inventory_adjust(article=Article.objects.get(), number_of_items=5)
    call("PUT", "orders", minimal_order(owner_id, number="O1", lines=(("1", "1009", 2),)))
    order = Order.objects.get()
    services.order_pick(order=order)
    services.order_send(order=order)
    services.return_register(order=order, quantities={"1": Decimal(1)}, cause="Wrong size")

    returns = call("GET", "returnOrders", goodsOwnerId=owner_id).json()
    assert len(returns) == 1
    assert returns[0]["returnOrderInfo"]["returnOrderNumber"] == "O1-R1"
    assert returns[0]["customerOrderInfo"]["orderNumber"] == "O1"
    line = returns[0]["returnOrderLines"][0]
    assert line["returnedNumberOfItems"] == 1.0
    assert line["returnCause"]["name"] == "Wrong size"
    assert line["article"]["articleNumber"] == "1009"
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert (
        call("GET", "returnOrders", goodsOwnerId=owner_id, goodsReturnedFromDate=later).json() == []
    )


def test_inventory_adjustments_grouped_by_article_until_reported(call, owner_id):
    put_articles(call, owner_id, "A1", "A2")
    a1, a2 = Article.objects.order_by("pk")
    services.inventory_adjust(article=a1, number_of_items=Decimal(5), comment="Counted")
    dropped = services.inventory_adjust(article=a1, number_of_items=Decimal(-2), comment="Dropped")
    services.inventory_adjust(article=a2, number_of_items=Decimal(3))

    listed = call("GET", "inventoryAdjustments", goodsOwnerId=owner_id, isReported="false").json()
    expected = example("inventory-adjustments-get-response.json")
    assert set(expected[0]) == set(listed[0])
    assert set(expected[0]["inventoryAdjustments"][0]) <= set(listed[0]["inventoryAdjustments"][0])
    assert [
        [adj["numberOfItems"] for adj in group["inventoryAdjustments"]] for group in listed
    ] == [[5.0, -2.0], [3.0]]

    answer = call("PATCH", f"inventoryAdjustments/{dropped.pk}/articles/{a1.pk}/setReported")
    assert answer.json()["inventoryId"] == dropped.pk
    unreported = call("GET", "inventoryAdjustments", goodsOwnerId=owner_id, isReported="false")
    assert [
        [adj["inventoryId"] for adj in group["inventoryAdjustments"]] for group in unreported.json()
    ] == [[dropped.pk - 1], [dropped.pk + 1]]
    assert (
        call("PATCH", f"inventoryAdjustments/{dropped.pk}/articles/{a2.pk}/setReported").status_code
        == 404
    )
    future = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert (
        call("GET", "inventoryAdjustments", goodsOwnerId=owner_id, **{"from": future}).json() == []
    )


# --- Faults -------------------------------------------------------------------------------------


def test_error_rate_answers_500_with_ongoings_body(call, sandbox, owner_id):
    GoodsOwner.objects.filter(pk=owner_id).update(error_rate=1)
    answer = call("PUT", "articles", {"goodsOwnerId": owner_id, "articleNumber": "A1"})
    assert answer.status_code == 500
    assert answer.json() == {"Message": "An error has occurred."}
    assert not Article.objects.exists()


def test_throttle_burst_answers_429_then_recovers(call, owner_id):
    GoodsOwner.objects.filter(pk=owner_id).update(throttle_burst=2)
    statuses = [call("GET", "goodsOwners").status_code for _ in range(3)]
    assert statuses == [429, 429, 200]


def test_lost_response_commits_the_work(call, owner_id):
    GoodsOwner.objects.filter(pk=owner_id).update(lost_response_rate=1)
    answer = call("PUT", "articles", {"goodsOwnerId": owner_id, "articleNumber": "A1"})
    assert answer.status_code == 502
    assert Article.objects.filter(article_number="A1").exists()


def test_latency_delays_the_answer(call, owner_id):
    GoodsOwner.objects.filter(pk=owner_id).update(latency_ms=40)
    started = time.monotonic()
    assert call("GET", "goodsOwners").status_code == 200
    assert time.monotonic() - started >= 0.04
