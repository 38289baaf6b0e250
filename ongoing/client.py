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
from integrations.http import HardenedSession, exchange_record
from integrations.metering import count_request

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


class OngoingServerError(OngoingError):
    """A 5xx, usually {"Message": "An error has occurred."}; worth retrying in a later run."""


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
        self.session = HardenedSession(timeout=settings.ONGOING_TIMEOUT)
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
        return self._request("GET", "goodsOwners") or []

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
    ) -> Iterator[Page]:
        """Articles with their inventoryInfo (the stock balance), page by page."""
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
        )

    # --- Orders -------------------------------------------------------------------------------

    def order_upsert(self, *, order: dict) -> dict:
        """PUT orders: create or update by orderNumber → {"orderId", "message"}. Raises
        OngoingWorkStarted when the warehouse has already started on the order."""
        return self._write("PUT", "orders", id_key="orderId", body=order)

    def order_get(self, *, order_id: int) -> dict:
        return self._request("GET", f"orders/{int(order_id)}")

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
        return (self._request("GET", "orders/statuses") or {}).get("orderStatuses") or []

    def order_types(self) -> list[dict]:
        """The goods owner's order types ([{"code", "name"}]), oldest first."""
        body = self._request("GET", "orders/types", params={"goodsOwnerId": self._goods_owner()})
        return (body or {}).get("orderTypes") or []

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
        return (self._request("GET", "purchaseOrders/statuses") or {}).get("orderStatuses") or []

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
        return self._request("GET", "returnOrders", params=_present(params)) or []

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
        return self._request("GET", "inventoryAdjustments", params=_present(params)) or []

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
    ) -> Iterator[Page]:
        """Id-cursor paging: ask for maxXToGet items from xIdFrom, continue from the largest id
        seen + 1, stop at an empty page (reference/ongoing-api.md, Paging)."""
        query = _present({"goodsOwnerId": self._goods_owner(), **params})
        cursor = id_from
        while True:
            page_query = {**query, max_param: self.page_size}
            if cursor is not None:
                page_query[id_from_param] = cursor
            items = self._request("GET", path, params=page_query) or []
            if not items:
                return
            next_cursor = max(id_of(item) for item in items) + 1
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
            message = _message(answer) or f"Ongoing did not accept {method} {path}."
            error = OngoingWorkStarted if _WORK_STARTED.search(message) else OngoingRefused
            raise error(message)
        return answer

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
        except LockNotAcquired:
            raise OngoingBusy(
                "Another sync kept this goods owner's Ongoing calls busy for too long."
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
            return response.json()
        except ValueError:
            raise OngoingError(f"Ongoing answered {call} with something else than JSON.") from None
    try:
        body = response.json()
    except ValueError:
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


def _message(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    text = body.get("message") or body.get("Message") or ""
    return _HTML_BREAK.sub(" ", str(text)).strip()


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
