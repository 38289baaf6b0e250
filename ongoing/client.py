"""The Ongoing WMS Goods Owner REST API (v1) client: one hardened session per client, HTTP Basic,
typed errors, id-cursor paging, and one call at a time per goods owner across all workers.

Facts and shapes: reference/ongoing-api.md and reference/ongoing-examples/.
"""

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from django.conf import settings

from integrations.errors import ObjectValidationError, SyncError
from integrations.http import (
    HardenedSession,
    ResponseTooLarge,
    UnreadableBody,
    exchange_record,
    json_body,
    slow_call_slots,
    timeout_reason,
)
from integrations.metering import count_request
from integrations.text import printable

from .locks import LockNotAcquired, goods_owner_lock
from .systems import api_base_url_allowed

logger = logging.getLogger(__name__)


class OngoingError(SyncError):
    failure_kind = "remote"

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class OngoingUnreachable(OngoingError):
    """No answer: DNS, connection refused, TLS, timeout."""


class OngoingTimeout(OngoingUnreachable):
    """Ongoing did not answer in time (connect or read timeout, or the whole exchange's deadline).
    The run stops: a warehouse that hangs would otherwise cost the timeout once per object. The
    next run continues where this one stopped."""

    stops_run = True
    slow_system = True


class OngoingServerError(OngoingError):
    """A 5xx, usually {"Message": "An error has occurred."}; worth retrying in a later run."""


class OngoingUnreadableAnswer(OngoingServerError):
    """A 2xx that is not JSON (an HTML page, broken or cut-short JSON, bytes that are not UTF-8)
    or is too large to read: a proxy or an outage page, worth retrying in a later run."""


class OngoingUnexpectedAnswer(OngoingError):
    """JSON, but not in the shape the call promises (an object where a list belongs, a listed
    item without its id)."""


class OngoingNotFound(OngoingError):
    pass


class OngoingAuthError(OngoingError):
    """The credentials were refused (or do not reach this goods owner): nothing else will work."""

    failure_kind = "auth"
    stops_run = True


class OngoingRateLimited(OngoingError):
    failure_kind = "rate_limit"


class OngoingBusy(OngoingRateLimited):
    """Another worker kept this goods owner's lock for longer than ONGOING_LOCK_WAIT."""

    stops_run = True


class OngoingRefused(OngoingError, ObjectValidationError):
    """Ongoing answered but did not do it: a 400, or a 2xx whose message reports a refusal."""

    failure_kind = "validation"


class OngoingWorkStarted(OngoingRefused):
    """An update or cancellation refused because the warehouse has started working on it."""


class OngoingHostRefused(OngoingError):
    """The base URL is not an Ongoing API (or the enabled sandbox); no request was made."""

    failure_kind = "validation"
    stops_run = True


# Ongoing words a refused change in free text; the emulator and, as far as we know, Ongoing say
# the warehouse has "started" (UNVERIFIED exact wording).
_WORK_STARTED = re.compile(r"\bstarted\b", re.IGNORECASE)
_HTML_BREAK = re.compile(r"\s*<br\s*/?>\s*", re.IGNORECASE)
# Enough of Ongoing's own message for a failure's message.
MAX_MESSAGE_LENGTH = 500


@dataclass(frozen=True)
class Page:
    items: list[dict]
    # The xIdFrom that continues after this page: store it as the cursor once the page is handled.
    next_id_from: int


class OngoingClient:
    def __init__(
        self,
        *,
        base_url: str,
        username: str,
        password: str,
        goods_owner_id: int | None = None,
        page_size: int | None = None,
    ):
        if not api_base_url_allowed(base_url):
            raise OngoingHostRefused(f"Not an Ongoing API address: {base_url}")
        self.base_url = base_url
        self.goods_owner_id = goods_owner_id
        self.page_size = page_size or settings.ONGOING_PAGE_SIZE
        self.session = HardenedSession(
            timeout=settings.ONGOING_TIMEOUT,
            deadline=settings.ONGOING_REQUEST_DEADLINE_SECONDS,
            slow_after=settings.HTTP_SLOW_CALL_SECONDS,
            slots=slow_call_slots(),
        )
        self.session.auth = (username, password)
        self.session.headers["Accept"] = "application/json"

    @classmethod
    def for_connection(cls, connection, **kwargs) -> "OngoingClient":
        return cls(
            base_url=connection.api_base_url,
            username=connection.username,
            password=connection.password,
            goods_owner_id=connection.goods_owner_id,
            **kwargs,
        )

    def __repr__(self):
        return f"<OngoingClient {self.base_url} goods owner {self.goods_owner_id}>"

    # --- Goods owner --------------------------------------------------------------------------

    def goods_owners_list(self) -> list[dict]:
        """The goods owners these credentials reach ([{"id", "name"}]): an API user belongs to
        exactly one. Ongoing documents no "who am I" call; this endpoint is what the emulator
        answers and is UNVERIFIED against a real Ongoing WMS."""
        owners = _objects(self._request("GET", "goodsOwners"), call="GET goodsOwners")
        for position, owner in enumerate(owners, start=1):
            what = f"Ongoing's answer to GET goodsOwners has goods owner {position} with an id"
            _id(owner.get("id"), what=what)
        return owners

    # --- Articles -----------------------------------------------------------------------------

    def article_upsert(self, *, article: dict) -> dict:
        """PUT articles: create or update by articleNumber → {"articleSystemId", "message"}."""
        return self._write("PUT", "articles", id_key="articleSystemId", body=article)

    def articles_list(
        self,
        *,
        article_numbers: list[str] | None = None,
        updated_from: datetime | None = None,
        stock_changed_from: datetime | None = None,
        id_from: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[Page]:
        """Articles with their inventoryInfo (the stock balance), page by page (of page_size, the
        client's page size by default)."""
        params = {
            "articleNumbers": article_numbers,
            "articleDataLastUpdatedFrom": _utc(updated_from),
            "stockInfoChangedFrom": _utc(stock_changed_from),
        }
        return self._pages(
            "articles",
            params,
            id_from_param="articleSystemIdFrom",
            max_param="maxArticlesToGet",
            id_of=lambda article: article["articleSystemId"],
            id_from=id_from,
            page_size=page_size,
        )

    # --- Orders -------------------------------------------------------------------------------

    def order_upsert(self, *, order: dict) -> dict:
        """PUT orders: create or update by orderNumber → {"orderId", "message"}. Raises
        OngoingWorkStarted when the warehouse has already started on the order."""
        return self._write("PUT", "orders", id_key="orderId", body=order)

    def order_get(self, *, order_id: int) -> dict:
        path = f"orders/{int(order_id)}"
        return _object(self._request("GET", path), call=f"GET {path}")

    def orders_list(
        self,
        *,
        status_from: int | None = None,
        status_to: int | None = None,
        status_changed_from: datetime | None = None,
        only_lines_to_report: bool = False,
        order_numbers: list[str] | None = None,
        id_from: int | None = None,
    ) -> Iterator[Page]:
        params = {
            "orderStatusFrom": status_from,
            "orderStatusTo": status_to,
            "orderStatusChangedTimeFrom": _utc(status_changed_from),
            "onlyOrdersWithOrderLinesToReport": _flag(only_lines_to_report),
            "orderNumbers": order_numbers,
        }
        return self._pages(
            "orders",
            params,
            id_from_param="orderIdFrom",
            max_param="maxOrdersToGet",
            id_of=lambda order: order["orderInfo"]["orderId"],
            id_from=id_from,
        )

    def order_cancel(self, *, order_id: int) -> dict | None:
        """DELETE orders/{id}. Raises OngoingWorkStarted once the warehouse has started on it."""
        return self._write("DELETE", f"orders/{int(order_id)}", id_key="orderId", id_required=False)

    def order_statuses(self) -> list[dict]:
        return self._listed("orders/statuses", "orderStatuses")

    def order_types(self) -> list[dict]:
        """The goods owner's order types ([{"code", "name"}]), oldest first."""
        return self._listed("orders/types", "orderTypes", {"goodsOwnerId": self._goods_owner()})

    def order_type_create(self, *, code: str, name: str) -> dict:
        """PUT orders/types. Ongoing's public v1 reference shows only the GET (UNVERIFIED that a
        PUT exists); the emulator accepts this shape and answers {"orderTypeId", "message"}."""
        return self._write(
            "PUT", "orders/types", id_key="orderTypeId", body={"code": code, "name": name}
        )

    def order_set_reported_picked(self, *, order_id: int) -> dict | None:
        """Acknowledge a delivered order: its lines' reported quantity becomes the picked one, and
        onlyOrdersWithOrderLinesToReport stops returning it."""
        return self._write(
            "PATCH",
            f"orders/{int(order_id)}/setReportedNumberOfItemsToPickedNumberOfItems",
            id_key="orderId",
            id_required=False,
        )

    def order_set_reported_returned(self, *, order_id: int) -> dict | None:
        """Acknowledge the order's returns: reported returned quantity := returned quantity."""
        return self._write(
            "PATCH",
            f"orders/{int(order_id)}/setReportedReturnedNumberOfItemsToReturnedNumberOfItems",
            id_key="orderId",
            id_required=False,
        )

    # --- Purchase orders ----------------------------------------------------------------------

    def purchase_order_upsert(self, *, purchase_order: dict) -> dict:
        """PUT purchaseOrders by purchaseOrderNumber → {"purchaseOrderId", "message"}."""
        return self._write("PUT", "purchaseOrders", id_key="purchaseOrderId", body=purchase_order)

    def purchase_orders_list(
        self,
        *,
        status_changed_from: datetime | None = None,
        received_from: datetime | None = None,
        only_lines_to_report: bool = False,
        id_from: int | None = None,
    ) -> Iterator[Page]:
        params = {
            "purchaseOrderStatusChangedTimeFrom": _utc(status_changed_from),
            "lastReceiveTimeFrom": _utc(received_from),
            "onlyPurchaseOrdersWithOrderLinesToReport": _flag(only_lines_to_report),
        }
        return self._pages(
            "purchaseOrders",
            params,
            id_from_param="purchaseOrderIdFrom",
            max_param="maxPurchaseOrdersToGet",
            id_of=lambda po: po["purchaseOrderInfo"]["purchaseOrderId"],
            id_from=id_from,
        )

    def purchase_order_statuses(self) -> list[dict]:
        return self._listed("purchaseOrders/statuses", "orderStatuses")

    def purchase_order_set_reported_received(self, *, purchase_order_id: int) -> dict | None:
        return self._write(
            "PATCH",
            f"purchaseOrders/{int(purchase_order_id)}/setReportedNumberOfItemsToReceivedNumberOfItems",
            id_key="purchaseOrderId",
            id_required=False,
        )

    # --- Returns and inventory adjustments ----------------------------------------------------

    def return_orders_list(self, *, returned_from: datetime | None = None) -> list[dict]:
        params = {"goodsOwnerId": self._goods_owner(), "goodsReturnedFromDate": _utc(returned_from)}
        answer = self._request("GET", "returnOrders", params=_present(params))
        return _objects(answer, call="GET returnOrders")

    def inventory_adjustments_list(
        self,
        *,
        from_time: datetime | None = None,
        to_time: datetime | None = None,
        only_unreported: bool = True,
    ) -> list[dict]:
        """Per article: {"article": {…}, "inventoryAdjustments": [{"inventoryId",
        "numberOfItems" (±), …}]}."""
        params = {
            "goodsOwnerId": self._goods_owner(),
            "from": _utc(from_time),
            "to": _utc(to_time),
            "isReported": "false" if only_unreported else None,
        }
        answer = self._request("GET", "inventoryAdjustments", params=_present(params))
        return _objects(answer, call="GET inventoryAdjustments")

    def inventory_adjustment_set_reported(
        self, *, inventory_id: int, article_system_id: int
    ) -> dict | None:
        return self._write(
            "PATCH",
            f"inventoryAdjustments/{int(inventory_id)}/articles/{int(article_system_id)}/setReported",
            id_key="inventoryId",
            id_required=False,
        )

    # --- Plumbing -----------------------------------------------------------------------------

    def _goods_owner(self) -> int:
        if self.goods_owner_id is None:
            raise ValueError("This call needs the connection's goods owner id.")
        return self.goods_owner_id

    def _pages(
        self,
        path: str,
        params: dict,
        *,
        id_from_param: str,
        max_param: str,
        id_of: Callable[[dict], int],
        id_from: int | None,
        page_size: int | None = None,
    ) -> Iterator[Page]:
        """Id-cursor paging: ask for maxXToGet items from xIdFrom, continue from the largest id
        seen + 1, stop at an empty page (reference/ongoing-api.md, Paging)."""
        query = _present({"goodsOwnerId": self._goods_owner(), **params})
        cursor = id_from
        while True:
            page_query = {**query, max_param: page_size or self.page_size}
            if cursor is not None:
                page_query[id_from_param] = cursor
            call = f"GET {path}" + (f" from id {cursor}" if cursor is not None else "")
            items = _objects(self._request("GET", path, params=page_query), call=call)
            if not items:
                return
            ids = []
            for position, item in enumerate(items, start=1):
                try:
                    value = id_of(item)
                except (KeyError, TypeError, AttributeError):
                    value = None
                what = f"Ongoing's answer to {call} has item {position} with an id"
                ids.append(_id(value, what=what))
            next_cursor = max(ids) + 1
            if cursor is not None and next_cursor <= cursor:
                raise OngoingError(f"Paging of {path} did not advance past id {cursor}.")
            cursor = next_cursor
            yield Page(items=items, next_id_from=cursor)

    def _write(
        self,
        method: str,
        path: str,
        *,
        id_key: str,
        body: dict | None = None,
        id_required: bool = True,
    ) -> Any:
        payload = None if body is None else {**body, "goodsOwnerId": self._goods_owner()}
        answer = self._request(method, path, json=payload)
        if answer is not None and not isinstance(answer, dict):
            raise OngoingUnexpectedAnswer(
                f"Ongoing answered {method} {path} with {_shape(answer)} where an object belongs."
            )
        # Ongoing reports many refusals in a 2xx: the id it would have returned is missing or 0,
        # or success is false, and the reason is only in the free-text message.
        if isinstance(answer, dict):
            refused = (
                answer.get("success") is False
                or (id_key in answer and not answer[id_key])
                or (id_required and id_key not in answer)
            )
        else:
            refused = id_required
        if refused:
            reason = _message(answer)
            message = (
                f"Ongoing refused {method} {path}: {reason}"
                if reason
                else f"Ongoing did not accept {method} {path}."
            )
            error = OngoingWorkStarted if _WORK_STARTED.search(message) else OngoingRefused
            raise error(message)
        if answer is not None and id_key in answer:
            _id(answer[id_key], what=f"Ongoing's answer to {method} {path} has an {id_key}")
        return answer

    def _listed(self, path: str, key: str, params: dict | None = None) -> list[dict]:
        """A list the answer holds under `key`; an empty answer is an empty list."""
        answer = self._request("GET", path, params=params)
        if answer is None:
            return []
        listed = answer.get(key) if isinstance(answer, dict) else answer
        return _objects(listed or [], call=f"GET {path} ({key})")

    def _request(self, method: str, path: str, *, params=None, json=None) -> Any:
        lock = (
            goods_owner_lock(f"{self.base_url}|{self.goods_owner_id}")
            if self.goods_owner_id is not None
            else nullcontext()
        )
        try:
            with lock:
                count_request("ongoing")
                response = self.session.request(
                    method, self.base_url + path, params=params, json=json
                )
        except requests.TooManyRedirects:
            # HardenedSession follows none: any 3xx ends here, before a second request is made.
            raise OngoingError(
                f"Ongoing redirected {method} {path}; redirects are never followed."
            ) from None
        except ResponseTooLarge as error:
            raise OngoingUnreadableAnswer(
                f"Ongoing answered {method} {path}, but the answer was not read: {error}."
            ) from None
        except LockNotAcquired:
            raise OngoingBusy(
                "Another sync kept this goods owner's Ongoing calls busy for too long."
            ) from None
        except requests.Timeout as error:
            raise OngoingTimeout(
                f"Ongoing did not answer {method} {path} in time ({timeout_reason(error)}); the "
                "run stops here and the next run continues."
            ) from None
        except requests.RequestException as error:
            raise OngoingUnreachable(
                f"Ongoing did not answer {method} {path}: {error.__class__.__name__}"
            ) from error
        logger.info("ongoing %s %s -> %s", method, path, response.status_code)
        try:
            return _answer(response, f"{method} {path}")
        except OngoingError as error:
            error.exchange = exchange_record(response)
            raise


def _answer(response: requests.Response, call: str) -> Any:
    status = response.status_code
    if 200 <= status < 300:
        if not response.content:
            return None
        try:
            return json_body(response.content)
        except UnreadableBody as unreadable:
            raise OngoingUnreadableAnswer(
                f"Ongoing answered {call} with {unreadable}.", status=status
            ) from None
    try:
        body = json_body(response.content)
    except UnreadableBody:
        body = None
    detail = _message(body) or response.reason or ""
    message = f"Ongoing answered {call} with {status}: {detail}".rstrip(": ")
    if status in (401, 403):
        raise OngoingAuthError(message, status=status)
    if status == 404:
        raise OngoingNotFound(message, status=status)
    if status == 429:
        raise OngoingRateLimited(message, status=status)
    if status >= 500:
        raise OngoingServerError(message, status=status)
    if 400 <= status < 500:
        error = OngoingWorkStarted if _WORK_STARTED.search(detail) else OngoingRefused
        raise error(message, status=status)
    raise OngoingError(message, status=status)


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


def _object(answer: Any, *, call: str) -> dict:
    if not isinstance(answer, dict):
        raise OngoingUnexpectedAnswer(
            f"Ongoing answered {call} with {_shape(answer)} where an object belongs."
        )
    return answer


def _objects(answer: Any, *, call: str) -> list[dict]:
    """The answer as a list of objects; an empty answer is an empty list."""
    if answer is None:
        return []
    if not isinstance(answer, list) or not all(isinstance(item, dict) for item in answer):
        raise OngoingUnexpectedAnswer(
            f"Ongoing answered {call} with {_shape(answer)} where a list of objects belongs."
        )
    return answer


def _id(value: Any, *, what: str) -> int:
    """An Ongoing id: a positive whole number (it goes into paths and cursors)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise OngoingUnexpectedAnswer(f"{what} that is not a positive whole number.")
    return value


def _message(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    text = body.get("message") or body.get("Message") or ""
    return printable(_HTML_BREAK.sub(" ", str(text)), max_length=MAX_MESSAGE_LENGTH).strip()


def _utc(moment: datetime | None) -> str | None:
    """UTC ISO-8601 as Ongoing takes it ("2019-04-09T10:39:31.300Z")."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("Ongoing times must be timezone-aware.")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _flag(value: bool) -> str | None:
    return "true" if value else None


def _present(params: dict) -> dict:
    return {key: value for key, value in params.items() if value is not None and value != []}
