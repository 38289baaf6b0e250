"""The Fortnox API client: one hardened session per client, a token from the token service on
every request (refreshed once if Fortnox rejects it), the per-tenant throttle before every send,
429 honoured, errors typed, and every request counted on the current SyncRun.

Create one client per run (or per thread); it is not shared between threads."""

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

import requests
from django.conf import settings
from django.utils import timezone

from integrations.http import (
    HardenedSession,
    ResponseTooLarge,
    UnreadableBody,
    exchange_record,
    json_body,
    retry_after_seconds,
    slow_call_slots,
    timeout_reason,
)
from integrations.metering import count_request

from .errors import (
    AUTH_ERROR_CODES,
    NO_API_LICENCE_CODE,
    SCOPE_ERROR_CODES,
    TOKEN_ERROR_CODES,
    FortnoxAuthError,
    FortnoxError,
    FortnoxKeptRateLimiting,
    FortnoxNotConnected,
    FortnoxNotFound,
    FortnoxRateLimited,
    FortnoxTimeout,
    FortnoxUnavailable,
    FortnoxUnexpectedAnswer,
    FortnoxValidationError,
    parse_error_body,
)
from .models import FortnoxConnection
from .oauth import TokenSet
from .throttle import Throttle, default_throttle

PAGE_SIZE = 500  # Fortnox's maximum `limit`
# Without Retry-After, wait 1, 2, 4, … seconds, never longer than this.
MAX_BACKOFF_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 60.0
# The longest key (article, order, supplier number, id) we accept in a listing: Fortnox's own
# numbers are far shorter, and our records store at most this many characters.
MAX_KEY_LENGTH = 50
# Item ids per stock-balance request, to keep the query string short.
STOCK_BALANCE_BATCH = 100
MAX_CUSTOM_DOCUMENT_ID_LENGTH = 25
CUSTOM_DOCUMENT_DIRECTIONS = ("inbound", "outbound")
# The row fields sent back when changing an order's quantities (see order_quantities_update).
ORDER_ROW_WRITABLE_FIELDS = (
    "RowId",
    "ArticleNumber",
    "Description",
    "OrderedQuantity",
    "DeliveredQuantity",
    "Price",
    "Unit",
    "VAT",
    "Discount",
)


class TokenSource(Protocol):
    throttle_key: str

    def access_token(self) -> str: ...

    def replace_rejected(self, rejected: str) -> str | None:
        """A new token after Fortnox rejected `rejected`, or None when none can be had."""


class ConnectionTokens:
    """Tokens of a stored connection, through the token service (locks, rotation, reactivation)."""

    # A token the service handed out is reused for this long without asking the database again:
    # far inside the refresh margin, so it always has minutes to live, and a token another worker
    # replaced meanwhile still works at Fortnox until it expires (or is answered by
    # replace_rejected).
    REUSE_FOR = timedelta(seconds=60)

    def __init__(self, connection: FortnoxConnection):
        self.connection_id = connection.pk
        self.throttle_key = str(connection.fortnox_tenant_id)
        # The row the client was made from answers the first request without reading it again.
        self._connection: FortnoxConnection | None = connection
        self._token = ""
        self._fetched_at = None

    def access_token(self) -> str:
        from .services.tokens import connection_access_token

        now = timezone.now()
        if not self._token or self._fetched_at is None or now - self._fetched_at > self.REUSE_FOR:
            self._token = connection_access_token(
                connection_id=self.connection_id, connection=self._connection
            )
            self._connection = None
            self._fetched_at = now
        return self._token

    def replace_rejected(self, rejected: str) -> str | None:
        from .services.tokens import connection_token_refresh

        self._token = connection_token_refresh(
            connection_id=self.connection_id, rejected_access_token=rejected
        )
        self._fetched_at = timezone.now()
        return self._token


class ConsentTokens:
    """The token pair just received at consent, used to identify the company before any
    connection row exists. Not refreshed: it is minutes old."""

    def __init__(self, tokens: TokenSet):
        self._access_token = tokens.access_token
        self.throttle_key = str(tokens.fortnox_tenant_id or "consent")

    def access_token(self) -> str:
        return self._access_token

    def replace_rejected(self, rejected: str) -> str | None:
        return None


def lastmodified_param(value: datetime | str) -> str:
    """Fortnox reads `lastmodified` as Swedish local time."""
    if isinstance(value, str):
        return value
    if timezone.is_aware(value):
        value = timezone.localtime(value, timezone.get_default_timezone())
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _segment(value) -> str:
    return quote(str(value), safe="")


class FortnoxClient:
    def __init__(
        self,
        *,
        tokens: TokenSource,
        throttle: Throttle | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.tokens = tokens
        self.throttle = throttle or default_throttle()
        self.sleep = sleep
        self.base_url = settings.FORTNOX_API_BASE_URL.rstrip("/")
        # Seconds this client (one run) has waited on 429 answers; capped by
        # FORTNOX_RATE_LIMIT_WAIT_SECONDS.
        self.rate_limit_waited = 0.0
        self.slots = slow_call_slots()
        self.session = HardenedSession(
            timeout=settings.FORTNOX_TIMEOUT,
            deadline=settings.FORTNOX_REQUEST_DEADLINE_SECONDS,
            slow_after=settings.HTTP_SLOW_CALL_SECONDS,
            slots=self.slots,
        )
        self.session.headers.update(
            {"Accept": "application/json", "Content-Type": "application/json"}
        )

    @classmethod
    def for_tenant(cls, tenant, **kwargs) -> "FortnoxClient":
        connection = FortnoxConnection.objects.filter(tenant=tenant).first()
        if connection is None:
            raise FortnoxNotConnected("Fortnox is not connected for this company.")
        return cls(tokens=ConnectionTokens(connection), **kwargs)

    # --- transport --------------------------------------------------------------------------

    def request(
        self, method: str, path: str, *, params=None, json=None, envelope: str | None = None
    ) -> Any:
        """Send one logical request; returns the decoded JSON (None for an empty answer), or with
        `envelope` the object under that key, which must be there."""
        call = f"{method} {path.lstrip('/')}"
        body = self._request(method, path, params=params, json=json)
        if envelope is None:
            return body
        value = body.get(envelope) if isinstance(body, dict) else None
        if not isinstance(value, dict):
            raise FortnoxUnexpectedAnswer(
                f"the answer to {call} lacks the {envelope} object (it is {_shape(body)})."
            )
        return value

    def _request(self, method: str, path: str, *, params=None, json=None) -> Any:
        url = f"{self.base_url}/{path.lstrip('/')}"
        token = self.tokens.access_token()
        refreshed = False
        rate_limited = 0
        while True:
            response = self._send(method, url, token=token, params=params, json=json)
            if not refreshed and self._token_rejected(response):
                refreshed = True
                replacement = self.tokens.replace_rejected(token)
                if replacement:
                    token = replacement
                    continue
            call = f"{method} {path.lstrip('/')}"
            if response.status_code == 429 and rate_limited < settings.FORTNOX_RATE_LIMIT_RETRIES:
                self._rate_limit_wait(response, attempt=rate_limited, call=call)
                rate_limited += 1
                continue
            return self._result(response, call=call)

    def _rate_limit_wait(self, response: requests.Response, *, attempt: int, call: str) -> None:
        """Sleep as the 429 asks, unless that would take this run past its budget for waiting on
        Fortnox's rate limit: then stop the run instead of holding a worker."""
        delay = self._retry_delay(response, attempt=attempt)
        budget = settings.FORTNOX_RATE_LIMIT_WAIT_SECONDS
        waited = self.rate_limit_waited
        if waited + delay > budget:
            raise self._kept_rate_limiting(
                response, call=call, why=f"after this run had waited {waited:.0f} s of {budget:g} s"
            )
        slow = settings.HTTP_SLOW_CALL_SECONDS
        if self.slots is None or waited + delay <= slow:
            self.sleep(delay)
        else:
            # A long wait is a slow call too: only in a free slot of this machine.
            with self.slots.held() as slot:
                if not slot:
                    raise self._kept_rate_limiting(
                        response,
                        call=call,
                        why=f"and this run had waited {waited:.0f} s while other "
                        "calls were already waiting on slow answers",
                    )
                self.sleep(delay)
        self.rate_limit_waited += delay

    def _kept_rate_limiting(
        self, response: requests.Response, *, call: str, why: str
    ) -> FortnoxKeptRateLimiting:
        error = FortnoxKeptRateLimiting(
            f"Fortnox kept rate-limiting (429 to {call}) {why}; the run stops here and the next "
            "run continues.",
            retry_after=self._retry_after(response),
            status=429,
        )
        error.exchange = exchange_record(response)
        return error

    def _send(self, method, url, *, token, params, json) -> requests.Response:
        self.throttle.acquire(self.tokens.throttle_key)
        count_request("fortnox")
        try:
            return self.session.request(
                method,
                url,
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {token}"},
            )
        except ResponseTooLarge as error:
            raise FortnoxUnavailable(
                f"the answer to {method} {url.removeprefix(self.base_url + '/')} was not read: "
                f"{error}."
            ) from None
        except requests.Timeout as error:
            call = f"{method} {url.removeprefix(self.base_url + '/')}"
            raise FortnoxTimeout(
                f"Fortnox did not answer {call} in time ({timeout_reason(error)}); the run "
                "stops here and the next run continues."
            ) from None
        except requests.RequestException as error:
            raise FortnoxUnavailable(
                f"Fortnox could not be reached ({error.__class__.__name__})."
            ) from None

    @staticmethod
    def _body(response: requests.Response):
        try:
            return json_body(response.content)
        except UnreadableBody:
            return None

    def _token_rejected(self, response: requests.Response) -> bool:
        """Whether a fresh token might help. Whether Fortnox answers an expired token with 401 or
        403 is not documented, so both count, except a 403 that names a missing licence."""
        _message, code = parse_error_body(self._body(response))
        if code in TOKEN_ERROR_CODES:
            return True
        if response.status_code == 401:
            return True
        return response.status_code == 403 and code not in (
            *SCOPE_ERROR_CODES,
            NO_API_LICENCE_CODE,
        )

    @staticmethod
    def _retry_after(response: requests.Response) -> float | None:
        """Seconds Retry-After asks for (0 for a date past), None when absent or unreadable."""
        return retry_after_seconds(response.headers.get("Retry-After"), now=timezone.now())

    def _retry_delay(self, response: requests.Response, *, attempt: int) -> float:
        retry_after = self._retry_after(response)
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_SECONDS)
        return min(2.0**attempt, MAX_BACKOFF_SECONDS)

    def _result(self, response: requests.Response, *, call: str) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            if not response.content:
                return None
            try:
                return json_body(response.content)
            except UnreadableBody as unreadable:
                error = FortnoxUnavailable(f"the answer to {call} is {unreadable}.", status=status)
                error.exchange = exchange_record(response)
                raise error from None
        error = self._error(response)
        error.exchange = exchange_record(response)
        raise error

    def _error(self, response: requests.Response) -> FortnoxError:
        status = response.status_code
        message, code = parse_error_body(self._body(response))
        message = message or f"HTTP {status} {response.reason or ''}".strip()
        if status == 429:
            return FortnoxRateLimited(
                message, retry_after=self._retry_after(response), status=status, code=code
            )
        if status in (401, 403) or code in AUTH_ERROR_CODES:
            return FortnoxAuthError(message, status=status, code=code)
        if status == 404:
            return FortnoxNotFound(message, status=status, code=code)
        if 300 <= status < 400:
            return FortnoxUnavailable(
                f"Fortnox answered with a redirect ({status}).", status=status
            )
        if 400 <= status < 500:
            return FortnoxValidationError(message, status=status, code=code)
        return FortnoxUnavailable(message, status=status, code=code)

    def _pages(self, path: str, collection: str, params: dict, *, key: str) -> Iterator[dict]:
        """Every item of a classic list, page by page (`limit`=500). Each item is an object with
        its `key` (e.g. ArticleNumber) a number or a short text; a page that breaks this is
        refused whole, before any of its items is handed on."""
        page = 1
        while True:
            body = self.request("GET", path, params={**params, "limit": PAGE_SIZE, "page": page})
            call = f"GET {path} (page {page})"
            items = body.get(collection) if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise FortnoxUnexpectedAnswer(
                    f"the answer to {call} lacks the list of {collection} (it is {_shape(body)})."
                )
            for position, item in enumerate(items, start=1):
                _check_key(item, key, what=f"the answer to {call} has item {position}")
            yield from items
            meta = body.get("MetaInformation")
            try:
                total_pages = int(meta.get("@TotalPages", 1)) if isinstance(meta, dict) else 1
            except (TypeError, ValueError):
                total_pages = 1
            if page >= total_pages or not items:
                return
            page += 1

    @staticmethod
    def _list_params(*, lastmodified=None, filter=None, **extra) -> dict:
        params = {key: value for key, value in extra.items() if value is not None}
        if filter:
            params["filter"] = filter
        if lastmodified is not None:
            params["lastmodified"] = lastmodified_param(lastmodified)
        return params

    # --- company --------------------------------------------------------------------------

    def company_information(self) -> dict:
        return self.request("GET", "3/companyinformation", envelope="CompanyInformation")

    # --- articles -------------------------------------------------------------------------

    def articles_list(
        self, *, lastmodified=None, filter=None, supplier_number=None, ean=None
    ) -> Iterator[dict]:
        """List items carry a subset of the fields, some numbers as strings; fetch the article
        for the rest."""
        params = self._list_params(
            lastmodified=lastmodified, filter=filter, suppliernumber=supplier_number, ean=ean
        )
        return self._pages("3/articles", "Articles", params, key="ArticleNumber")

    def article_get(self, article_number: str) -> dict:
        return self.request("GET", f"3/articles/{_segment(article_number)}", envelope="Article")

    def article_update(self, article_number: str, fields: dict) -> dict:
        return self.request(
            "PUT",
            f"3/articles/{_segment(article_number)}",
            json={"Article": fields},
            envelope="Article",
        )

    def article_stock_update(self, article_number: str, quantity) -> dict:
        return self.article_update(article_number, {"QuantityInStock": quantity})

    # --- suppliers and customers ----------------------------------------------------------

    def suppliers_list(self, *, lastmodified=None, filter=None) -> Iterator[dict]:
        params = self._list_params(lastmodified=lastmodified, filter=filter)
        return self._pages("3/suppliers", "Suppliers", params, key="SupplierNumber")

    def supplier_get(self, supplier_number: str) -> dict:
        return self.request("GET", f"3/suppliers/{_segment(supplier_number)}", envelope="Supplier")

    def customers_list(self, *, lastmodified=None, filter=None) -> Iterator[dict]:
        params = self._list_params(lastmodified=lastmodified, filter=filter)
        return self._pages("3/customers", "Customers", params, key="CustomerNumber")

    def customer_get(self, customer_number: str) -> dict:
        return self.request("GET", f"3/customers/{_segment(customer_number)}", envelope="Customer")

    # --- orders and invoices --------------------------------------------------------------

    def orders_list(
        self,
        *,
        filter=None,
        lastmodified=None,
        sent: bool | None = None,
        notcompleted: bool | None = None,
        sortby: str | None = None,
    ) -> Iterator[dict]:
        """filter: cancelled | expired | invoicecreated | invoicenotcreated (one at a time)."""
        params = self._list_params(
            lastmodified=lastmodified,
            filter=filter,
            sent=None if sent is None else str(sent).lower(),
            notcompleted=None if notcompleted is None else str(notcompleted).lower(),
            sortby=sortby,
        )
        return self._pages("3/orders", "Orders", params, key="DocumentNumber")

    def order_get(self, document_number) -> dict:
        return self.request("GET", f"3/orders/{_segment(document_number)}", envelope="Order")

    def order_quantities_update(
        self,
        document_number,
        *,
        delivered: dict[str, Any] | None = None,
        ordered: dict[str, Any] | None = None,
    ) -> dict:
        """Set DeliveredQuantity / OrderedQuantity per RowId. Fortnox replaces an order's row list
        with the rows a PUT sends (rows left out are deleted), so every row is sent back with its
        writable fields, changed or not."""
        delivered = {str(row_id): value for row_id, value in (delivered or {}).items()}
        ordered = {str(row_id): value for row_id, value in (ordered or {}).items()}
        order = self.order_get(document_number)
        order_rows = order.get("OrderRows") or []
        if not isinstance(order_rows, list) or not all(isinstance(row, dict) for row in order_rows):
            raise FortnoxUnexpectedAnswer(
                f"the answer to GET 3/orders/{document_number} has OrderRows that are not a list "
                "of rows."
            )
        rows = []
        for row in order_rows:
            row_id = str(row.get("RowId"))
            sent_row = {key: row[key] for key in ORDER_ROW_WRITABLE_FIELDS if key in row}
            if row_id in delivered:
                sent_row["DeliveredQuantity"] = delivered.pop(row_id)
            if row_id in ordered:
                sent_row["OrderedQuantity"] = ordered.pop(row_id)
            rows.append(sent_row)
        if delivered or ordered:
            unknown = ", ".join(sorted({*delivered, *ordered}))
            raise FortnoxValidationError(
                f"Order {document_number} has no row with RowId {unknown}.", code=None
            )
        return self.request(
            "PUT",
            f"3/orders/{_segment(document_number)}",
            json={"Order": {"OrderRows": rows}},
            envelope="Order",
        )

    def order_invoice_create(self, document_number) -> dict:
        """Invoice the delivered quantities; Fortnox makes a back order of the rest."""
        return self.request(
            "PUT", f"3/orders/{_segment(document_number)}/createinvoice", envelope="Invoice"
        )

    def order_cancel(self, document_number) -> dict:
        return self.request("PUT", f"3/orders/{_segment(document_number)}/cancel", envelope="Order")

    def order_warehouse_ready(self, document_number) -> dict:
        path = f"3/orders/{_segment(document_number)}/warehouseready"
        body = _object(self.request("PUT", path), call=f"PUT {path}", empty_ok=True)
        order = body.get("Order", body)
        return _object(order, call=f"PUT {path}")

    def invoice_get(self, document_number) -> dict:
        return self.request("GET", f"3/invoices/{_segment(document_number)}", envelope="Invoice")

    # --- warehouse module (camelCase, unwrapped) ------------------------------------------

    def warehouse_tenant(self) -> dict:
        """{"tenantId": …, "activated": bool}: whether Fortnox Lager is on."""
        path = "api/warehouse/tenants-v4"
        return _object(self.request("GET", path), call=f"GET {path}")

    def warehouse_stock_balance(
        self, *, item_ids: list[str], stock_point_codes: list[str] | None = None
    ) -> list[dict]:
        balances: list[dict] = []
        for start in range(0, len(item_ids), STOCK_BALANCE_BATCH):
            params = {"itemIds": ",".join(item_ids[start : start + STOCK_BALANCE_BATCH])}
            if stock_point_codes:
                params["stockPointCodes"] = ",".join(stock_point_codes)
            path = "api/warehouse/status-v1/stockbalance"
            balances.extend(_objects(self.request("GET", path, params=params), call=f"GET {path}"))
        return balances

    @staticmethod
    def _custom_document_path(direction: str, document_type: str, document_id: str) -> str:
        document_id = str(document_id)
        if direction not in CUSTOM_DOCUMENT_DIRECTIONS:
            raise ValueError(f"direction must be one of {CUSTOM_DOCUMENT_DIRECTIONS}")
        if not document_id.isdigit() or len(document_id) > MAX_CUSTOM_DOCUMENT_ID_LENGTH:
            raise ValueError("A custom document id is digits only, at most 25 of them.")
        return (
            f"api/warehouse/documentdeliveries/custom/{direction}-v1/"
            f"{_segment(document_type)}/{document_id}"
        )

    def custom_document_save(
        self, *, direction: str, document_type: str, document_id: str, document: dict
    ) -> dict:
        """Create or save (PUT) under our own id, which makes a retried save harmless."""
        path = self._custom_document_path(direction, document_type, document_id)
        return _object(self.request("PUT", path, json=document), call=f"PUT {path}", empty_ok=True)

    def custom_document_release(
        self, *, direction: str, document_type: str, document_id: str
    ) -> dict:
        """Book the document: the stock moves."""
        path = f"{self._custom_document_path(direction, document_type, document_id)}/release"
        return _object(self.request("PUT", path), call=f"PUT {path}", empty_ok=True)

    def incoming_goods_create(self, document: dict) -> dict:
        """The created incoming goods; its "id" is what release and complete take."""
        path = "api/warehouse/incominggoods-v1/"
        created = _object(self.request("POST", path, json=document), call=f"POST {path}")
        _check_key(created, "id", what=f"the answer to POST {path} is incoming goods")
        return created

    def incoming_goods_list(self, *, delivery_note: str | None = None) -> list[dict]:
        """Incoming goods summaries (no rows). Fortnox's reference documents the filter
        `deliveryNote`: documents whose deliveryNoteId contains the text, in any case (M: the API
        reference at api.fortnox.se/apidocs, "List Incoming Goods Documents"); compare exactly."""
        params = {"deliveryNote": delivery_note} if delivery_note else None
        path = "api/warehouse/incominggoods-v1"
        body = self.request("GET", path, params=params)
        listed = _objects([] if body is None else body, call=f"GET {path}")
        for position, item in enumerate(listed, start=1):
            _check_key(item, "id", what=f"the answer to GET {path} has item {position}")
        return listed

    def incoming_goods_release(self, incoming_goods_id) -> dict:
        path = f"api/warehouse/incominggoods-v1/{_segment(incoming_goods_id)}/release"
        return _object(self.request("PUT", path), call=f"PUT {path}", empty_ok=True)

    def incoming_goods_complete(self, incoming_goods_id, *, booking_date: str) -> dict:
        path = f"api/warehouse/incominggoods-v1/{_segment(incoming_goods_id)}/completed"
        return _object(
            self.request("PUT", path, json=booking_date), call=f"PUT {path}", empty_ok=True
        )

    def purchase_orders_list(
        self, *, state: str = "SENT", purchase_type: str | None = "WAREHOUSE"
    ) -> list[dict]:
        params = {"state": state}
        if purchase_type:
            params["purchaseType"] = purchase_type
        path = "api/warehouse/purchaseorders-v1"
        listed = _objects(self.request("GET", path, params=params), call=f"GET {path}")
        for position, item in enumerate(listed, start=1):
            _check_key(item, "id", what=f"the answer to GET {path} has item {position}")
        return listed

    def purchase_order_get(self, purchase_order_id) -> dict:
        path = f"api/warehouse/purchaseorders-v1/{_segment(purchase_order_id)}"
        return _object(self.request("GET", path), call=f"GET {path}")

    def purchase_order_complete(self, purchase_order_id) -> dict:
        path = f"api/warehouse/purchaseorders-v1/{_segment(purchase_order_id)}/complete"
        return _object(self.request("PUT", path), call=f"PUT {path}", empty_ok=True)


def _shape(value: Any) -> str:
    """What an answer was, in words, for a failure's message (never its content)."""
    if value is None:
        return "an empty answer"
    if isinstance(value, dict):
        keys = ", ".join(sorted(str(key) for key in value)[:5])
        return f"an object with {keys}" if keys else "an empty object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return f"a {type(value).__name__}"


def _object(body: Any, *, call: str, empty_ok: bool = False) -> dict:
    """The answer as an object; with `empty_ok`, an empty answer is an empty object."""
    if body is None and empty_ok:
        return {}
    if not isinstance(body, dict):
        raise FortnoxUnexpectedAnswer(
            f"the answer to {call} is {_shape(body)} where an object belongs."
        )
    return body


def _objects(body: Any, *, call: str) -> list[dict]:
    """The answer as a list of objects; an empty answer is an empty list."""
    if body is None:
        return []
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise FortnoxUnexpectedAnswer(
            f"the answer to {call} is {_shape(body)} where a list of objects belongs."
        )
    return body


def _check_key(item: Any, key: str, *, what: str) -> None:
    """An item must carry its key as a number or a short text, since it names the object in our
    records and in the next request's path."""
    value = item.get(key) if isinstance(item, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FortnoxUnexpectedAnswer(f"{what} without a {key}.")
    text = str(value).strip()
    if not text or len(text) > MAX_KEY_LENGTH or not text.isprintable():
        raise FortnoxUnexpectedAnswer(
            f"{what} whose {key} is empty, longer than {MAX_KEY_LENGTH} characters or holds "
            "control characters."
        )
