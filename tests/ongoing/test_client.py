"""Every OngoingClient method against recorded answers (`responses`): what it sends, what it makes
of the answer, and how each kind of failure is typed."""

import base64
import json
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from integrations.errors import ObjectValidationError, failure_kind_of
from integrations.http import ExchangeTimeout
from integrations.metering import metering
from ongoing.client import (
    OngoingAuthError,
    OngoingBusy,
    OngoingClient,
    OngoingError,
    OngoingHostRefused,
    OngoingNotFound,
    OngoingRateLimited,
    OngoingRefused,
    OngoingServerError,
    OngoingTimeout,
    OngoingUnreachable,
    OngoingWorkStarted,
    Page,
)
from ongoing.locks import goods_owner_lock
from tests.concurrency import run_concurrently

BASE = "https://api.ongoingsystems.se/demo/api/v1/"
EXAMPLES = Path(__file__).resolve().parent / "examples"
SINCE = datetime(2024, 5, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
SINCE_UTC = "2024-05-01T10:30:00.000Z"


def example(name: str):
    return json.loads((EXAMPLES / name).read_text())


@pytest.fixture
def wms(settings, tmp_path):
    settings.ONGOING_LOCK_DIR = tmp_path
    settings.REDIS_URL = ""
    return OngoingClient(
        base_url=BASE, username="WSIDemo", password="s3cret-pw", goods_owner_id=159, page_size=2
    )


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


def sent(api, index=-1):
    request = api.calls[index].request
    parts = urlsplit(request.url)
    body = json.loads(request.body) if request.body else None
    return request.method, parts.path, parse_qs(parts.query), body


# --- The session ----------------------------------------------------------------------------------


def test_every_request_is_basic_json_and_counted(wms, api):
    api.get(BASE + "orders/statuses", json=example("order-statuses-get-response.json"))
    with metering() as meter:
        wms.order_statuses()
        wms.order_statuses()
    assert meter["ongoing"] == 2
    headers = api.calls[0].request.headers
    expected = base64.b64encode(b"WSIDemo:s3cret-pw").decode()
    assert headers["Authorization"] == f"Basic {expected}"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("OngoingFortnoxIntegration/")
    assert "s3cret-pw" not in repr(wms)


@pytest.mark.parametrize(
    "base_url",
    [
        "https://evil.example.com/demo/api/v1/",
        "http://api.ongoingsystems.se/demo/api/v1/",  # not https
        "https://api.ongoingsystems.se:8443/demo/api/v1/",
        "https://user@api.ongoingsystems.se/demo/api/v1/",
        "https://api.ongoingsystems.se.evil.com/demo/api/v1/",
        "https://demo.ongoingsystems.se/demo/api/v1/",  # a login host, not an API host
        "https://api.ongoingsystems.se/demo/../../admin/api/v1/",
        "https://127.0.0.1/demo/api/v1/",
        "http://localhost:8000/admin/",
    ],
)
def test_refuses_any_other_base_before_sending(api, base_url):
    with pytest.raises(OngoingHostRefused) as refused:
        OngoingClient(base_url=base_url, username="u", password="p", goods_owner_id=1)
    assert refused.value.stops_run
    assert len(api.calls) == 0


def test_redirects_are_not_followed(wms, api):
    api.get(BASE + "goodsOwners", status=302, headers={"Location": "https://evil.example.com/"})
    with pytest.raises(OngoingError, match="redirect"):
        wms.goods_owners_list()
    assert len(api.calls) == 1


def test_calls_wait_for_the_goods_owners_lock(wms, settings):
    """Another worker holding this goods owner's lock keeps the call from being sent at all."""
    settings.ONGOING_LOCK_WAIT = 0.1
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(BASE + "orders/statuses", json={"orderStatuses": []})
        with goods_owner_lock(f"{BASE}|159"), pytest.raises(OngoingBusy) as busy:
            wms.order_statuses()
        assert len(api.calls) == 0
        assert failure_kind_of(busy.value) == "rate_limit"
        wms.order_statuses()
        assert len(api.calls) == 1


def test_one_goods_owners_calls_never_overlap_across_threads(wms, api):
    """Several workers calling for the same goods owner: Ongoing sees one call at a time."""
    in_flight, most = [0], [0]
    guard = threading.Lock()

    def slow_answer(request):
        with guard:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.02)
        with guard:
            in_flight[0] -= 1
        return 200, {}, json.dumps({"orderStatuses": []})

    api.add_callback(responses.GET, BASE + "orders/statuses", callback=slow_answer)

    def worker():
        client = OngoingClient(
            base_url=BASE, username="WSIDemo", password="s3cret-pw", goods_owner_id=159
        )
        for _ in range(2):
            client.order_statuses()

    run_concurrently(4, worker)
    assert len(api.calls) == 8
    assert most[0] == 1


def test_goods_owner_scoped_calls_need_the_goods_owner(api):
    wms = OngoingClient(base_url=BASE, username="u", password="p")
    with pytest.raises(ValueError, match="goods owner"):
        wms.order_types()
    assert len(api.calls) == 0


def test_naive_times_are_refused(wms, api):
    with pytest.raises(ValueError, match="timezone"):
        next(wms.orders_list(status_changed_from=datetime(2024, 1, 1)))


# --- Errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "error", "kind"),
    [
        (
            401,
            {"Message": "Authorization has been denied for this request."},
            OngoingAuthError,
            "auth",
        ),
        (403, {"Message": "No access to goods owner 7."}, OngoingAuthError, "auth"),
        (404, {"Message": "Order 5 was not found."}, OngoingNotFound, "remote"),
        (429, {"Message": "Too many requests."}, OngoingRateLimited, "rate_limit"),
        (500, {"Message": "An error has occurred."}, OngoingServerError, "remote"),
        (502, None, OngoingServerError, "remote"),
        (
            400,
            {"Message": "The request is invalid.", "ModelState": {}},
            OngoingRefused,
            "validation",
        ),
    ],
)
def test_error_answers_are_typed(wms, api, status, body, error, kind):
    api.get(BASE + "orders/5", status=status, json=body)
    with pytest.raises(error) as raised:
        wms.order_get(order_id=5)
    assert failure_kind_of(raised.value) == kind
    assert raised.value.status == status
    if body:
        assert body["Message"] in str(raised.value)


def test_auth_error_stops_the_run(wms, api):
    api.get(BASE + "orders/5", status=401)
    with pytest.raises(OngoingAuthError) as raised:
        wms.order_get(order_id=5)
    assert raised.value.stops_run


@pytest.mark.parametrize("failure", [requests.ConnectionError("refused"), requests.Timeout("slow")])
def test_no_answer_is_unreachable(wms, api, failure):
    api.get(BASE + "orders/5", body=failure)
    with pytest.raises(OngoingUnreachable) as raised:
        wms.order_get(order_id=5)
    assert failure_kind_of(raised.value) == "remote"


@pytest.mark.parametrize(
    "failure",
    [
        requests.ReadTimeout("slow"),
        requests.ConnectTimeout("slow"),
        ExchangeTimeout("no complete answer to GET /demo/api/v1/orders/5 within 60 s"),
    ],
)
def test_a_timeout_stops_the_run(wms, api, failure):
    api.get(BASE + "orders/5", body=failure)
    with pytest.raises(OngoingTimeout) as raised:
        wms.order_get(order_id=5)
    assert raised.value.stops_run
    assert "Ongoing did not answer GET orders/5 in time" in str(raised.value)
    assert "the next run continues" in str(raised.value)
    assert len(api.calls) == 1


def test_the_session_has_the_configured_timeouts(settings):
    settings.ONGOING_TIMEOUT = (2, 7)
    settings.ONGOING_REQUEST_DEADLINE_SECONDS = 11
    client = OngoingClient(base_url=BASE, username="u", password="p")
    assert (client.session.timeout, client.session.deadline) == ((2, 7), 11)


def test_a_2xx_that_is_not_json_is_an_error(wms, api):
    api.get(BASE + "orders/5", body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(OngoingError, match="JSON"):
        wms.order_get(order_id=5)


def test_a_2xx_refusal_is_a_validation_error_with_ongoings_message(wms, api):
    api.put(
        BASE + "orders",
        json={
            "orderId": None,
            "message": "Order number O1 was not saved: <br/>article X does not exist.",
        },
    )
    with pytest.raises(OngoingRefused) as raised:
        wms.order_upsert(order={"orderNumber": "O1"})
    assert not isinstance(raised.value, OngoingWorkStarted)
    assert isinstance(raised.value, ObjectValidationError)
    assert failure_kind_of(raised.value) == "validation"
    assert str(raised.value) == (
        "Ongoing refused PUT orders: Order number O1 was not saved: article X does not exist."
    )


def test_a_2xx_without_the_id_or_with_success_false_is_refused(wms, api):
    api.put(BASE + "articles", json={"message": "Nothing happened"})
    api.put(BASE + "articles", json={"articleSystemId": 3, "success": False, "message": "No"})
    for _ in range(2):
        with pytest.raises(OngoingRefused):
            wms.article_upsert(article={"articleNumber": "A1"})


def test_started_work_is_its_own_error(wms, api):
    message = (
        "Order number O1 cannot be updated: the warehouse has started working on it "
        "(status 400 Picked)."
    )
    api.put(BASE + "orders", json={"orderId": None, "message": message})
    api.delete(BASE + "orders/7", json={"orderId": None, "message": message})
    with pytest.raises(OngoingWorkStarted) as raised:
        wms.order_upsert(order={"orderNumber": "O1"})
    assert failure_kind_of(raised.value) == "validation"
    with pytest.raises(OngoingWorkStarted):
        wms.order_cancel(order_id=7)


# --- Goods owners and articles ------------------------------------------------------------------


def test_goods_owners_list(wms, api):
    api.get(BASE + "goodsOwners", json=[{"id": 159, "name": "REST example"}])
    assert wms.goods_owners_list() == [{"id": 159, "name": "REST example"}]
    assert sent(api)[:2] == ("GET", "/demo/api/v1/goodsOwners")


def test_article_upsert_sends_the_vendor_body_with_the_goods_owner(wms, api):
    api.put(BASE + "articles", json=example("article-put-response-full.json"))
    request = example("article-put-request-full.json")
    article = {key: value for key, value in request.items() if key != "goodsOwnerId"}
    answer = wms.article_upsert(article=article)
    assert answer["articleSystemId"] == 18068
    method, path, _query, body = sent(api)
    assert (method, path) == ("PUT", "/demo/api/v1/articles")
    assert body == request


def test_articles_list_filters_and_pages(wms, api):
    page_one = [example("article-get-response.json"), {"articleSystemId": 18070}]
    api.get(BASE + "articles", json=page_one)
    api.get(BASE + "articles", json=[{"articleSystemId": 18090}])
    api.get(BASE + "articles", json=[])
    pages = list(
        wms.articles_list(
            article_numbers=["A1", "A2"], updated_from=SINCE, stock_changed_from=SINCE
        )
    )
    assert pages == [
        Page(items=page_one, next_id_from=18071),
        Page(items=[{"articleSystemId": 18090}], next_id_from=18091),
    ]
    assert pages[0].items[0]["inventoryInfo"]["numberOfItems"] == 11.0
    queries = [sent(api, index)[2] for index in range(3)]
    assert queries[0] == {
        "goodsOwnerId": ["159"],
        "articleNumbers": ["A1", "A2"],
        "articleDataLastUpdatedFrom": [SINCE_UTC],
        "stockInfoChangedFrom": [SINCE_UTC],
        "maxArticlesToGet": ["2"],
    }
    assert queries[1]["articleSystemIdFrom"] == ["18071"]
    assert queries[2]["articleSystemIdFrom"] == ["18091"]


def test_a_list_may_ask_for_its_own_page_size(wms, api):
    api.get(BASE + "articles", json=[{"articleSystemId": 18090}])
    first = next(iter(wms.articles_list(stock_changed_from=SINCE, page_size=1)))
    assert first.items == [{"articleSystemId": 18090}]
    assert sent(api)[2]["maxArticlesToGet"] == ["1"]
    assert len(api.calls) == 1  # the first page only: the next is asked for when wanted


def test_paging_resumes_from_a_stored_cursor(wms, api):
    api.get(BASE + "articles", json=[])
    assert list(wms.articles_list(id_from=500)) == []
    assert sent(api)[2]["articleSystemIdFrom"] == ["500"]


def test_paging_that_does_not_advance_is_an_error(wms, api):
    api.get(BASE + "articles", json=[{"articleSystemId": 10}])
    api.get(BASE + "articles", json=[{"articleSystemId": 10}])
    with pytest.raises(OngoingError, match="did not advance"):
        list(wms.articles_list())


# --- Orders -------------------------------------------------------------------------------------


def test_order_upsert(wms, api):
    api.put(BASE + "orders", json=example("order-put-response-minimal.json"))
    request = example("order-put-request-minimal.json")
    order = {key: value for key, value in request.items() if key != "goodsOwnerId"}
    assert wms.order_upsert(order=order)["orderId"] == 50161
    assert sent(api)[0] == "PUT"
    assert sent(api)[3] == request


def test_order_get(wms, api):
    api.get(BASE + "orders/50163", json=example("order-get-response.json"))
    order = wms.order_get(order_id=50163)
    assert order["orderInfo"]["orderStatus"]["number"] == 500
    assert sent(api)[:2] == ("GET", "/demo/api/v1/orders/50163")


def test_orders_list_with_every_filter_and_three_pages(wms, api):
    order = example("order-get-response.json")

    def with_id(order_id):
        return {**order, "orderInfo": {**order["orderInfo"], "orderId": order_id}}

    api.get(BASE + "orders", json=[with_id(1), with_id(2)])
    api.get(BASE + "orders", json=[with_id(3), with_id(5)])
    api.get(BASE + "orders", json=[with_id(8)])
    api.get(BASE + "orders", json=[])
    pages = list(
        wms.orders_list(
            status_from=450,
            status_to=500,
            status_changed_from=SINCE,
            only_lines_to_report=True,
            order_numbers=["O1"],
        )
    )
    ids = [[o["orderInfo"]["orderId"] for o in page.items] for page in pages]
    assert ids == [[1, 2], [3, 5], [8]]
    assert [page.next_id_from for page in pages] == [3, 6, 9]
    first = sent(api, 0)[2]
    assert first == {
        "goodsOwnerId": ["159"],
        "orderStatusFrom": ["450"],
        "orderStatusTo": ["500"],
        "orderStatusChangedTimeFrom": [SINCE_UTC],
        "onlyOrdersWithOrderLinesToReport": ["true"],
        "orderNumbers": ["O1"],
        "maxOrdersToGet": ["2"],
    }
    assert [sent(api, index)[2].get("orderIdFrom") for index in range(4)] == [
        None,
        ["3"],
        ["6"],
        ["9"],
    ]


def test_orders_list_leaves_unset_filters_out(wms, api):
    api.get(BASE + "orders", json=[])
    list(wms.orders_list())
    assert sent(api)[2] == {"goodsOwnerId": ["159"], "maxOrdersToGet": ["2"]}


def test_order_cancel(wms, api):
    api.delete(BASE + "orders/50161", json={"orderId": 50161, "message": "Order cancelled."})
    assert wms.order_cancel(order_id=50161)["orderId"] == 50161
    assert sent(api)[:2] == ("DELETE", "/demo/api/v1/orders/50161")


def test_order_cancel_accepts_an_empty_answer(wms, api):
    api.delete(BASE + "orders/50161", body="")
    assert wms.order_cancel(order_id=50161) is None


def test_order_statuses(wms, api):
    api.get(BASE + "orders/statuses", json=example("order-statuses-get-response.json"))
    statuses = wms.order_statuses()
    assert {"number": 450, "text": "Sent"} in statuses
    assert sent(api)[2] == {}


def test_order_types_and_create(wms, api):
    api.get(BASE + "orders/types", json={"orderTypes": [{"code": "B2B", "name": "Business"}]})
    api.put(BASE + "orders/types", json={"orderTypeId": 4, "message": "Order type B2C created."})
    assert wms.order_types() == [{"code": "B2B", "name": "Business"}]
    assert sent(api, 0)[2] == {"goodsOwnerId": ["159"]}
    assert wms.order_type_create(code="B2C", name="Consumer")["orderTypeId"] == 4
    assert sent(api)[3] == {"code": "B2C", "name": "Consumer", "goodsOwnerId": 159}


def test_order_set_reported_picked(wms, api):
    path = "orders/50163/setReportedNumberOfItemsToPickedNumberOfItems"
    api.patch(BASE + path, json={"orderId": 50163, "message": "Reported."})
    wms.order_set_reported_picked(order_id=50163)
    assert sent(api)[:2] == ("PATCH", f"/demo/api/v1/{path}")
    assert sent(api)[3] is None


def test_order_set_reported_returned(wms, api):
    path = "orders/50163/setReportedReturnedNumberOfItemsToReturnedNumberOfItems"
    api.patch(BASE + path, body="")
    assert wms.order_set_reported_returned(order_id=50163) is None
    assert sent(api)[:2] == ("PATCH", f"/demo/api/v1/{path}")


# --- Purchase orders ----------------------------------------------------------------------------


def test_purchase_order_upsert(wms, api):
    api.put(BASE + "purchaseOrders", json=example("purchase-order-put-response-full.json"))
    request = example("purchase-order-put-request-full.json")
    purchase_order = {key: value for key, value in request.items() if key != "goodsOwnerId"}
    assert wms.purchase_order_upsert(purchase_order=purchase_order)["purchaseOrderId"] == 247
    assert sent(api)[:2] == ("PUT", "/demo/api/v1/purchaseOrders")
    assert sent(api)[3] == request


def test_purchase_orders_list(wms, api):
    purchase_order = example("purchase-order-get-response.json")
    api.get(BASE + "purchaseOrders", json=[purchase_order])
    api.get(BASE + "purchaseOrders", json=[])
    pages = list(
        wms.purchase_orders_list(
            status_changed_from=SINCE, received_from=SINCE, only_lines_to_report=True
        )
    )
    assert pages == [Page(items=[purchase_order], next_id_from=248)]
    assert sent(api, 0)[2] == {
        "goodsOwnerId": ["159"],
        "purchaseOrderStatusChangedTimeFrom": [SINCE_UTC],
        "lastReceiveTimeFrom": [SINCE_UTC],
        "onlyPurchaseOrdersWithOrderLinesToReport": ["true"],
        "maxPurchaseOrdersToGet": ["2"],
    }
    assert sent(api, 1)[2]["purchaseOrderIdFrom"] == ["248"]


def test_purchase_order_statuses(wms, api):
    answer = example("purchase-order-statuses-get-response.json")
    api.get(BASE + "purchaseOrders/statuses", json=answer)
    assert wms.purchase_order_statuses() == answer["orderStatuses"]


def test_purchase_order_set_reported_received(wms, api):
    path = "purchaseOrders/247/setReportedNumberOfItemsToReceivedNumberOfItems"
    api.patch(BASE + path, json={"purchaseOrderId": 247, "message": "Reported."})
    wms.purchase_order_set_reported_received(purchase_order_id=247)
    assert sent(api)[:2] == ("PATCH", f"/demo/api/v1/{path}")


# --- Returns and inventory adjustments ----------------------------------------------------------


def test_return_orders_list(wms, api):
    returned = [{"returnOrderInfo": {"returnOrderId": 3}, "returnOrderLines": []}]
    api.get(BASE + "returnOrders", json=returned)
    assert wms.return_orders_list(returned_from=SINCE) == returned
    assert sent(api)[2] == {"goodsOwnerId": ["159"], "goodsReturnedFromDate": [SINCE_UTC]}


def test_inventory_adjustments_list(wms, api):
    answer = example("inventory-adjustments-get-response.json")
    api.get(BASE + "inventoryAdjustments", json=answer)
    api.get(BASE + "inventoryAdjustments", json=answer)
    until = datetime(2024, 5, 2, tzinfo=UTC)
    adjustments = wms.inventory_adjustments_list(from_time=SINCE, to_time=until)
    assert adjustments[0]["inventoryAdjustments"][0]["numberOfItems"] == -2.0
    assert sent(api, 0)[2] == {
        "goodsOwnerId": ["159"],
        "from": [SINCE_UTC],
        "to": ["2024-05-02T00:00:00.000Z"],
        "isReported": ["false"],
    }
    wms.inventory_adjustments_list(only_unreported=False)
    assert sent(api, 1)[2] == {"goodsOwnerId": ["159"]}


def test_inventory_adjustment_set_reported(wms, api):
    path = "inventoryAdjustments/107/articles/18068/setReported"
    api.patch(BASE + path, json={"inventoryId": 107, "message": "Reported."})
    wms.inventory_adjustment_set_reported(inventory_id=107, article_system_id=18068)
    assert sent(api)[:2] == ("PATCH", f"/demo/api/v1/{path}")


def test_an_error_carries_the_exchange_for_support(wms, api):
    api.put(BASE + "orders", status=500, json={"Message": "An error has occurred."})
    with pytest.raises(OngoingServerError) as caught:
        wms.order_upsert(order={"orderNumber": "1", "password": "x"})

    exchange = caught.value.exchange
    assert exchange["status"] == 500
    assert exchange["request_body"]["orderNumber"] == "1"
    assert exchange["request_body"]["password"] == "***"
    assert exchange["response_body"] == {"Message": "An error has occurred."}
