"""Unit tests of the client with `responses`: every method's request, and every error shape."""

import json

import pytest
import requests
import responses
from responses import matchers

from fortnox.client import FortnoxClient, lastmodified_param
from fortnox.errors import (
    FortnoxAuthError,
    FortnoxError,
    FortnoxKeptRateLimiting,
    FortnoxNotFound,
    FortnoxRateLimited,
    FortnoxTimeout,
    FortnoxUnavailable,
    FortnoxValidationError,
    parse_error_body,
)
from integrations.errors import SyncError
from integrations.http import USER_AGENT, ExchangeTimeout, slow_lane_enter, slow_lane_leave
from integrations.metering import metering

API = "https://api.fortnox.test"


class Tokens:
    throttle_key = "42"

    def __init__(self):
        self.token = "token-1"
        self.replaced = 0

    def access_token(self):
        return self.token

    def replace_rejected(self, rejected):
        self.replaced += 1
        self.token = f"token-{self.replaced + 1}"
        return self.token


class NoThrottle:
    def __init__(self):
        self.keys = []

    def acquire(self, key):
        self.keys.append(key)


@pytest.fixture
def api(settings):
    settings.FORTNOX_API_BASE_URL = API
    settings.FORTNOX_RATE_LIMIT_RETRIES = 3
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def slept():
    return []


@pytest.fixture
def client(api, slept):
    return FortnoxClient(tokens=Tokens(), throttle=NoThrottle(), sleep=slept.append)


def body_of(call):
    return json.loads(call.request.body) if call.request.body else None


# (call, method, path, answer, expected result)
SIMPLE_CALLS = [
    (
        lambda c: c.company_information(),
        "GET",
        "/3/companyinformation",
        {"CompanyInformation": {"CompanyName": "X"}},
        {"CompanyName": "X"},
    ),
    (
        lambda c: c.article_get("A 1/2"),
        "GET",
        "/3/articles/A%201%2F2",
        {"Article": {"ArticleNumber": "A 1/2"}},
        {"ArticleNumber": "A 1/2"},
    ),
    (
        lambda c: c.supplier_get("7"),
        "GET",
        "/3/suppliers/7",
        {"Supplier": {"SupplierNumber": "7"}},
        {"SupplierNumber": "7"},
    ),
    (
        lambda c: c.customer_get("8"),
        "GET",
        "/3/customers/8",
        {"Customer": {"Type": "PRIVATE"}},
        {"Type": "PRIVATE"},
    ),
    (
        lambda c: c.order_get(5),
        "GET",
        "/3/orders/5",
        {"Order": {"DocumentNumber": "5"}},
        {"DocumentNumber": "5"},
    ),
    (
        lambda c: c.order_invoice_create(5),
        "PUT",
        "/3/orders/5/createinvoice",
        {"Invoice": {"DocumentNumber": "1001"}},
        {"DocumentNumber": "1001"},
    ),
    (
        lambda c: c.order_cancel(5),
        "PUT",
        "/3/orders/5/cancel",
        {"Order": {"Cancelled": True}},
        {"Cancelled": True},
    ),
    (
        lambda c: c.order_warehouse_ready(5),
        "PUT",
        "/3/orders/5/warehouseready",
        {"Order": {"WarehouseReady": True}},
        {"WarehouseReady": True},
    ),
    (
        lambda c: c.invoice_get(1001),
        "GET",
        "/3/invoices/1001",
        {"Invoice": {"DocumentNumber": "1001"}},
        {"DocumentNumber": "1001"},
    ),
    (
        lambda c: c.warehouse_tenant(),
        "GET",
        "/api/warehouse/tenants-v4",
        {"tenantId": 42, "activated": True},
        {"tenantId": 42, "activated": True},
    ),
    (
        lambda c: c.custom_document_release(
            direction="outbound", document_type="OngoingOutboundInventory", document_id="123"
        ),
        "PUT",
        "/api/warehouse/documentdeliveries/custom/outbound-v1/OngoingOutboundInventory/123/release",
        {"id": "123"},
        {"id": "123"},
    ),
    (
        lambda c: c.incoming_goods_release(9),
        "PUT",
        "/api/warehouse/incominggoods-v1/9/release",
        {"id": 9},
        {"id": 9},
    ),
    (
        lambda c: c.purchase_order_get(3),
        "GET",
        "/api/warehouse/purchaseorders-v1/3",
        {"id": 3},
        {"id": 3},
    ),
    (
        lambda c: c.purchase_order_complete(3),
        "PUT",
        "/api/warehouse/purchaseorders-v1/3/complete",
        {"id": 3},
        {"id": 3},
    ),
]


@pytest.mark.parametrize(("call", "method", "path", "answer", "expected"), SIMPLE_CALLS)
def test_simple_calls(client, api, call, method, path, answer, expected):
    api.add(method, f"{API}{path}", json=answer)
    with metering() as meter:
        assert call(client) == expected
    assert meter["fortnox"] == 1
    sent = api.calls[0].request
    assert sent.headers["Authorization"] == "Bearer token-1"
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["User-Agent"] == USER_AGENT
    assert client.throttle.keys == ["42"]


def test_every_request_has_a_timeout_and_follows_no_redirect(client, api):
    api.add("GET", f"{API}/3/companyinformation", status=302, headers={"Location": "https://x"})
    # Typed as unavailable either way: requests 2.34 raises TooManyRedirects for any 3xx with
    # HardenedSession's max_redirects=0, older versions hand us the 302.
    with pytest.raises(FortnoxUnavailable):
        client.company_information()
    assert api.calls[0].request.req_kwargs["timeout"] == client.session.timeout
    assert len(api.calls) == 1


def test_paging_with_limit_500_and_list_params(client, api):
    for page in (1, 2):
        api.add(
            "GET",
            f"{API}/3/articles",
            match=[
                matchers.query_param_matcher(
                    {
                        "limit": "500",
                        "page": str(page),
                        "lastmodified": "2026-11-01 10:30:00",
                        "filter": "active",
                        "suppliernumber": "3",
                    }
                )
            ],
            json={
                "MetaInformation": {"@TotalPages": 2, "@CurrentPage": page},
                "Articles": [{"ArticleNumber": f"{page}-a"}, {"ArticleNumber": f"{page}-b"}],
            },
        )
    items = client.articles_list(
        lastmodified="2026-11-01 10:30:00", filter="active", supplier_number="3"
    )
    assert [item["ArticleNumber"] for item in items] == ["1-a", "1-b", "2-a", "2-b"]


@pytest.mark.parametrize(
    ("call", "path", "collection", "params", "item"),
    [
        (
            lambda c: c.suppliers_list(filter="active"),
            "suppliers",
            "Suppliers",
            {"filter": "active"},
            {"SupplierNumber": "1"},
        ),
        (lambda c: c.customers_list(), "customers", "Customers", {}, {"CustomerNumber": 7}),
        (
            lambda c: c.orders_list(filter="invoicenotcreated", sent=True, notcompleted=False),
            "orders",
            "Orders",
            {"filter": "invoicenotcreated", "sent": "true", "notcompleted": "false"},
            {"DocumentNumber": "1042"},
        ),
        (
            lambda c: c.articles_list(ean="735"),
            "articles",
            "Articles",
            {"ean": "735"},
            {"ArticleNumber": "Skåp-1"},
        ),
    ],
)
def test_lists(client, api, call, path, collection, params, item):
    api.add(
        "GET",
        f"{API}/3/{path}",
        match=[matchers.query_param_matcher({"limit": "500", "page": "1", **params})],
        json={"MetaInformation": {"@TotalPages": 1}, collection: [item]},
    )
    assert list(call(client)) == [item]


def test_lastmodified_is_swedish_local_time(settings):
    from datetime import UTC, datetime

    settings.TIME_ZONE = "Europe/Stockholm"
    assert lastmodified_param(datetime(2026, 7, 1, 10, 0, tzinfo=UTC)) == "2026-07-01 12:00:00"


def test_article_update_and_stock(client, api):
    api.add("PUT", f"{API}/3/articles/A1", json={"Article": {"QuantityInStock": 5}})
    assert client.article_stock_update("A1", 5) == {"QuantityInStock": 5}
    assert body_of(api.calls[0]) == {"Article": {"QuantityInStock": 5}}


def test_order_quantities_update_sends_every_row_back(client, api):
    rows = [
        {
            "RowId": 1,
            "ArticleNumber": "A",
            "OrderedQuantity": "3",
            "DeliveredQuantity": "0",
            "Total": 30,
        },
        {"RowId": 2, "ArticleNumber": "B", "OrderedQuantity": 2, "DeliveredQuantity": 0},
    ]
    api.add("GET", f"{API}/3/orders/7", json={"Order": {"OrderRows": rows}})
    api.add("PUT", f"{API}/3/orders/7", json={"Order": {"DocumentNumber": "7"}})
    client.order_quantities_update(7, delivered={1: 2}, ordered={"1": 2})
    sent = body_of(api.calls[1])["Order"]["OrderRows"]
    assert sent == [
        {"RowId": 1, "ArticleNumber": "A", "OrderedQuantity": 2, "DeliveredQuantity": 2},
        {"RowId": 2, "ArticleNumber": "B", "OrderedQuantity": 2, "DeliveredQuantity": 0},
    ]


def test_order_quantities_update_refuses_an_unknown_row(client, api):
    api.add("GET", f"{API}/3/orders/7", json={"Order": {"OrderRows": [{"RowId": 1}]}})
    with pytest.raises(FortnoxValidationError, match="RowId 9"):
        client.order_quantities_update(7, delivered={9: 1})
    assert len(api.calls) == 1


def test_stock_balance_in_batches(client, api, monkeypatch):
    monkeypatch.setattr("fortnox.client.STOCK_BALANCE_BATCH", 2)
    api.add(
        "GET",
        f"{API}/api/warehouse/status-v1/stockbalance",
        match=[matchers.query_param_matcher({"itemIds": "A,B", "stockPointCodes": "LAGER"})],
        json=[{"itemId": "A"}, {"itemId": "B"}],
    )
    api.add(
        "GET",
        f"{API}/api/warehouse/status-v1/stockbalance",
        match=[matchers.query_param_matcher({"itemIds": "C", "stockPointCodes": "LAGER"})],
        json=[{"itemId": "C"}],
    )
    balances = client.warehouse_stock_balance(item_ids=["A", "B", "C"], stock_point_codes=["LAGER"])
    assert [b["itemId"] for b in balances] == ["A", "B", "C"]


def test_custom_document_save_under_our_id(client, api):
    path = "/api/warehouse/documentdeliveries/custom/inbound-v1/OngoingInboundReturn/2026112301"
    api.add("PUT", f"{API}{path}", json={"id": "2026112301"})
    document = {"rows": [{"itemId": "A", "quantity": 1}]}
    client.custom_document_save(
        direction="inbound",
        document_type="OngoingInboundReturn",
        document_id="2026112301",
        document=document,
    )
    assert body_of(api.calls[0]) == document
    with pytest.raises(ValueError):
        client.custom_document_save(
            direction="sideways", document_type="T", document_id="1", document={}
        )
    with pytest.raises(ValueError):
        client.custom_document_save(
            direction="inbound", document_type="T", document_id="1" * 26, document={}
        )


def test_incoming_goods_and_purchase_orders(client, api):
    api.add("POST", f"{API}/api/warehouse/incominggoods-v1/", json={"id": 4}, status=201)
    api.add("PUT", f"{API}/api/warehouse/incominggoods-v1/4/completed", json={"id": 4})
    api.add(
        "GET",
        f"{API}/api/warehouse/purchaseorders-v1",
        match=[matchers.query_param_matcher({"state": "SENT", "purchaseType": "WAREHOUSE"})],
        json=[{"id": 1}],
    )
    api.add(
        "GET",
        f"{API}/api/warehouse/incominggoods-v1",
        match=[matchers.query_param_matcher({"deliveryNote": "Ongoing 7-1"})],
        json=[{"id": 4, "deliveryNoteId": "Ongoing 7-1"}],
    )
    assert client.incoming_goods_create({"deliveryNoteId": "X", "rows": []}) == {"id": 4}
    assert client.incoming_goods_list(delivery_note="Ongoing 7-1") == [
        {"id": 4, "deliveryNoteId": "Ongoing 7-1"}
    ]
    assert client.incoming_goods_complete(4, booking_date="2026-11-23") == {"id": 4}
    assert api.calls[2].request.body == b'"2026-11-23"'
    assert client.purchase_orders_list() == [{"id": 1}]


# --- errors --------------------------------------------------------------------------------


def error_info(message="Kan inte hitta kontot.", code=2000423):
    return {"ErrorInformation": {"error": 1, "message": message, "code": code}}


@pytest.mark.parametrize(
    ("status", "body", "error", "kind", "code"),
    [
        (
            400,
            error_info("Ogiltig parameter", 2000588),
            FortnoxValidationError,
            "validation",
            2000588,
        ),
        (400, {"message": "rows must be a list."}, FortnoxValidationError, "validation", None),
        (
            404,
            error_info("Kan inte hitta artikeln.", 2000428),
            FortnoxNotFound,
            "validation",
            2000428,
        ),
        (403, error_info("Ingen licens", 2001101), FortnoxAuthError, "auth", 2001101),
        (403, error_info("Ingen API-licens", 2001103), FortnoxAuthError, "auth", 2001103),
        (500, error_info("Internt fel", 2000001), FortnoxUnavailable, "remote", 2000001),
        (503, None, FortnoxUnavailable, "remote", None),
    ],
)
def test_error_shapes(client, api, status, body, error, kind, code):
    if body is None:
        api.add("GET", f"{API}/3/articles/A", status=status, body="<html>busy</html>")
    else:
        api.add("GET", f"{API}/3/articles/A", status=status, json=body)
    with pytest.raises(error) as caught:
        client.article_get("A")
    assert isinstance(caught.value, SyncError)
    assert caught.value.failure_kind == kind
    assert caught.value.code == code
    assert caught.value.status == status
    assert len(api.calls) == 1  # no refresh for a missing licence, no retry for the others


def test_missing_licence_for_one_scope_does_not_stop_the_run(client, api):
    api.add("GET", f"{API}/3/articles/A", status=403, json=error_info("Ingen licens", 2001101))
    with pytest.raises(FortnoxAuthError) as caught:
        client.article_get("A")
    assert caught.value.stops_run is False


@pytest.mark.parametrize(
    "rejection",
    [
        (401, {"error": "invalid_token", "error_description": "Access token expired"}),
        (403, {"message": "Forbidden"}),
        (400, error_info("Ogiltigt Access-Token.", 2000311)),
    ],
)
def test_a_rejected_token_is_refreshed_once_and_retried(client, api, rejection):
    status, body = rejection
    api.add("GET", f"{API}/3/companyinformation", status=status, json=body)
    api.add("GET", f"{API}/3/companyinformation", json={"CompanyInformation": {"CompanyName": "X"}})
    with metering() as meter:
        assert client.company_information() == {"CompanyName": "X"}
    assert client.tokens.replaced == 1
    assert api.calls[1].request.headers["Authorization"] == "Bearer token-2"
    assert meter["fortnox"] == 2


def test_rejected_again_after_refresh_is_an_auth_error_that_stops_the_run(client, api):
    body = {"error": "invalid_token", "error_description": "Invalid token"}
    api.add("GET", f"{API}/3/companyinformation", status=401, json=body)
    api.add("GET", f"{API}/3/companyinformation", status=401, json=body)
    with pytest.raises(FortnoxAuthError) as caught:
        client.company_information()
    assert caught.value.stops_run is True
    assert caught.value.message == "Invalid token"
    assert client.tokens.replaced == 1
    assert len(api.calls) == 2


def test_429_honours_retry_after(client, api, slept):
    api.add("GET", f"{API}/3/customers/1", status=429, headers={"Retry-After": "3"}, json={})
    api.add("GET", f"{API}/3/customers/1", json={"Customer": {"CustomerNumber": "1"}})
    assert client.customer_get("1") == {"CustomerNumber": "1"}
    assert slept == [3.0]


def test_429_without_retry_after_backs_off_then_gives_up(client, api, slept):
    for _ in range(4):
        api.add("GET", f"{API}/3/customers/1", status=429, body="Too Many Requests")
    with pytest.raises(FortnoxRateLimited) as caught:
        client.customer_get("1")
    assert slept == [1.0, 2.0, 4.0]
    assert caught.value.failure_kind == "rate_limit"
    assert caught.value.retry_after is None


def test_a_run_waits_on_429_no_longer_than_its_budget(client, api, slept, settings):
    settings.FORTNOX_RATE_LIMIT_RETRIES = 10
    settings.FORTNOX_RATE_LIMIT_WAIT_SECONDS = 30
    api.add("GET", f"{API}/3/customers/1", status=429, headers={"Retry-After": "10"}, json={})

    with pytest.raises(FortnoxKeptRateLimiting) as caught:
        client.customer_get("1")

    assert slept == [10.0, 10.0, 10.0]
    assert len(api.calls) == 4
    assert caught.value.stops_run is True
    assert caught.value.failure_kind == "rate_limit"
    assert "Fortnox kept rate-limiting (429 to GET 3/customers/1)" in str(caught.value)
    assert "the next run continues" in str(caught.value)
    assert caught.value.exchange["status"] == 429
    # The budget is the run's (one client per run), not the request's: the next call that meets a
    # 429 stops at once rather than sleep again.
    with pytest.raises(FortnoxKeptRateLimiting):
        client.customer_get("1")
    assert slept == [10.0, 10.0, 10.0]


def test_a_long_429_wait_gives_way_when_another_call_already_waits(api, slept, settings, tmp_path):
    settings.FORTNOX_RATE_LIMIT_RETRIES = 10
    settings.FORTNOX_RATE_LIMIT_WAIT_SECONDS = 30
    settings.HTTP_SLOW_CALL_SECONDS = 5
    settings.HTTP_SLOW_CALL_SLOTS = 1
    settings.HTTP_SLOW_CALL_DIR = tmp_path
    client = FortnoxClient(tokens=Tokens(), throttle=NoThrottle(), sleep=slept.append)
    other = client.slots.try_acquire()  # another process waits on a slow answer
    api.add("GET", f"{API}/3/customers/1", status=429, headers={"Retry-After": "4"}, json={})

    with pytest.raises(FortnoxKeptRateLimiting) as caught:
        client.customer_get("1")

    other.release()
    # 4 s is not a slow wait; 8 s in all is, and no slot was free.
    assert slept == [4.0]
    assert "while other calls were already waiting on slow answers" in str(caught.value)
    assert caught.value.stops_run is True


@pytest.mark.parametrize(
    ("retry_after", "first_wait"),
    [
        ("nan", 1.0),  # unreadable: back off as without one
        ("-0000", 1.0),
        ("-5", 1.0),
        ("1e400", 1.0),
        ("Sat, 01 Jan 2000 00:00:00 GMT", 0.0),  # a date past: no wait
        ("Fri, 31 Dec 9999 23:59:59 GMT", None),  # far future: past the budget, no sleep
        ("9" * 500, None),
    ],
)
def test_a_hostile_retry_after_never_makes_the_client_sleep_long(
    client, api, slept, settings, retry_after, first_wait
):
    settings.FORTNOX_RATE_LIMIT_WAIT_SECONDS = 30
    api.add("GET", f"{API}/3/customers/1", status=429, headers={"Retry-After": retry_after})

    if first_wait is None:
        with pytest.raises(FortnoxKeptRateLimiting):
            client.customer_get("1")
        assert slept == []
    else:
        api.add("GET", f"{API}/3/customers/1", json={"Customer": {"CustomerNumber": "1"}})
        assert client.customer_get("1") == {"CustomerNumber": "1"}
        assert slept == [first_wait]


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (requests.ReadTimeout("slow"), "ReadTimeout: no data within the read timeout"),
        (requests.ConnectTimeout("slow"), "ConnectTimeout"),
        (ExchangeTimeout("no complete answer to GET /3/customers/1 within 60 s"), "within 60 s"),
    ],
)
def test_a_timeout_stops_the_run(client, api, failure, reason):
    api.add("GET", f"{API}/3/customers/1", body=failure)

    with pytest.raises(FortnoxTimeout) as caught:
        client.customer_get("1")

    assert isinstance(caught.value, FortnoxUnavailable)
    assert caught.value.stops_run is True
    assert "Fortnox did not answer GET 3/customers/1 in time" in str(caught.value)
    assert reason in str(caught.value)
    assert len(api.calls) == 1


def test_the_session_has_the_configured_timeouts(settings):
    settings.FORTNOX_TIMEOUT = (2, 7)
    settings.FORTNOX_REQUEST_DEADLINE_SECONDS = 11
    client = FortnoxClient(tokens=Tokens(), throttle=NoThrottle())
    assert (client.session.timeout, client.session.deadline) == ((2, 7), 11)


def test_network_errors_are_unavailable(client, api):
    api.add("GET", f"{API}/3/customers/1", body=requests.ConnectTimeout("slow"))
    with pytest.raises(FortnoxUnavailable) as caught:
        client.customer_get("1")
    assert caught.value.failure_kind == "remote"
    assert "ConnectTimeout" in str(caught.value)


def test_an_answer_that_is_not_json_is_unavailable(client, api):
    api.add("GET", f"{API}/3/customers/1", body="<html>maintenance</html>")
    with pytest.raises(FortnoxUnavailable):
        client.customer_get("1")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (error_info("Fel", "2000588"), ("Fel", 2000588)),
        ({"message": "Nope"}, ("Nope", None)),
        (
            {"error": "invalid_grant", "error_description": "Invalid refresh token"},
            ("Invalid refresh token", None),
        ),
        ({"error": "invalid_client"}, ("invalid_client", None)),
        ([], ("", None)),
        (None, ("", None)),
    ],
)
def test_parse_error_body(body, expected):
    assert parse_error_body(body) == expected


def test_error_text_carries_status_and_code():
    assert str(FortnoxError("Fel", status=400, code=2000588)) == "Fortnox 400 [2000588]: Fel"


def test_an_error_carries_the_exchange_for_support(client, api):
    api.add(
        "PUT",
        f"{API}/3/articles/A",
        status=400,
        json={"ErrorInformation": {"error": 1, "message": "Ogiltigt värde", "code": 2000588}},
    )
    with pytest.raises(FortnoxValidationError) as caught:
        client.article_update("A", {"Description": "Ny"})

    exchange = caught.value.exchange
    assert exchange["method"] == "PUT"
    assert exchange["status"] == 400
    assert exchange["request_body"] == {"Article": {"Description": "Ny"}}
    assert exchange["response_body"]["ErrorInformation"]["code"] == 2000588


def test_in_the_slow_lane_a_long_429_wait_needs_no_slot_of_its_own(api, slept, settings, tmp_path):
    settings.FORTNOX_RATE_LIMIT_RETRIES = 10
    settings.FORTNOX_RATE_LIMIT_WAIT_SECONDS = 30
    settings.HTTP_SLOW_CALL_SECONDS = 5
    settings.HTTP_SLOW_CALL_SLOTS = 1
    settings.HTTP_SLOW_CALL_DIR = tmp_path
    client = FortnoxClient(tokens=Tokens(), throttle=NoThrottle(), sleep=slept.append)
    assert slow_lane_enter(client.slots)  # the run holds the machine's only slot
    for _ in range(2):
        api.add("GET", f"{API}/3/customers/1", status=429, headers={"Retry-After": "4"}, json={})
    api.add("GET", f"{API}/3/customers/1", json={"Customer": {"CustomerNumber": "1"}})

    try:
        customer = client.customer_get("1")
    finally:
        slow_lane_leave()

    assert customer["CustomerNumber"] == "1"
    # 8 s in all is a slow wait: outside the lane it gave way (the test above), here it waited.
    assert slept == [4.0, 4.0]
    assert client.slots.try_acquire() is not None  # given back when the run left the lane
