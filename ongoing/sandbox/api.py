"""The emulated Goods Owner REST API at /sandbox/ongoing/<warehouse>/api/v1/…

HTTP Basic with the warehouse's API users, one goods owner per user, upserts keyed by number that
answer {xId, message}, refusals in a 2xx without the id, id-cursor paging, and errors the way
Ongoing's ASP.NET answers them ({"Message": …}). Every call passes the goods owner's FaultProfile.
"""

import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from integrations.sandbox_faults import inject_after, inject_before

from . import selectors, serializers, services
from .models import ApiUser, GoodsOwner, InventoryAdjustment, Order, PurchaseOrder, Warehouse

INVALID = "The request is invalid."


class ApiError(Exception):
    def __init__(self, status: int, message: str, model_state: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.model_state = model_state


def _answer(data, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def _error(status: int, message: str, model_state: dict | None = None) -> JsonResponse:
    body = {"Message": message}
    if model_state:
        body["ModelState"] = {key: [value] for key, value in model_state.items()}
    return _answer(body, status=status)


def _unauthorized() -> JsonResponse:
    response = _error(401, "Authorization has been denied for this request.")
    response["WWW-Authenticate"] = 'Basic realm="Ongoing WMS"'
    return response


def _written(id_key: str, record_id: int | None, message: str) -> JsonResponse:
    return _answer({id_key: record_id, "message": message})


class Call:
    """One authenticated API request."""

    def __init__(self, request: HttpRequest, warehouse: Warehouse, user: ApiUser):
        self.request = request
        self.warehouse = warehouse
        self.user = user

    def goods_owner(self, claimed) -> GoodsOwner:
        """The user's goods owner, when the request names it (goodsOwnerId is required)."""
        if claimed in (None, ""):
            raise ApiError(400, INVALID, {"goodsOwnerId": "The goodsOwnerId field is required."})
        try:
            claimed = int(claimed)
        except (TypeError, ValueError):
            raise ApiError(
                400, INVALID, {"goodsOwnerId": "goodsOwnerId must be a number."}
            ) from None
        if self.user.goods_owner_id is None or claimed != self.user.goods_owner_id:
            raise ApiError(403, f"The user has no access to goods owner {claimed}.")
        return self.user.goods_owner

    def query_goods_owner(self) -> GoodsOwner:
        return self.goods_owner(self.request.GET.get("goodsOwnerId"))

    def body(self) -> dict:
        try:
            body = json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, INVALID, {"body": "The body is not valid JSON."}) from None
        if not isinstance(body, dict):
            raise ApiError(400, INVALID, {"body": "The body must be a JSON object."})
        return body

    def own(self, queryset, pk: int):
        """An object of the user's goods owner, or 404 as for one that does not exist."""
        found = queryset.filter(pk=pk, goods_owner_id=self.user.goods_owner_id).first()
        if found is None:
            raise ApiError(404, f"{queryset.model.__name__} {pk} was not found.")
        return found

    def integer(self, name: str) -> int | None:
        value = self.request.GET.get(name)
        if value in (None, ""):
            return None
        try:
            return int(value)
        except ValueError:
            raise ApiError(400, INVALID, {name: f"The value '{value}' is not valid."}) from None

    def moment(self, name: str) -> datetime | None:
        value = self.request.GET.get(name)
        if value in (None, ""):
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ApiError(400, INVALID, {name: f"The value '{value}' is not valid."}) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def flag(self, name: str) -> bool | None:
        value = (self.request.GET.get(name) or "").lower()
        if not value:
            return None
        if value not in ("true", "false"):
            raise ApiError(400, INVALID, {name: f"The value '{value}' is not valid."})
        return value == "true"


def _authenticate(request: HttpRequest, warehouse: Warehouse) -> ApiUser | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, _, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return services.api_user_authenticate(warehouse=warehouse, username=username, password=password)


def endpoint(**handlers: Callable[..., HttpResponse]):
    """A URL's view: its handlers per HTTP method, behind sign-in and fault injection."""

    @csrf_exempt
    def view(request: HttpRequest, warehouse: str, **kwargs) -> HttpResponse:
        found = Warehouse.objects.filter(name=warehouse).first()
        if found is None:
            return _error(404, "No HTTP resource was found that matches the request URI.")
        handler = handlers.get(request.method)
        if handler is None:
            return _error(
                405, f"The requested resource does not support http method '{request.method}'."
            )
        user = _authenticate(request, found)
        if user is None:
            return _unauthorized()
        profile = user.goods_owner
        faulty = inject_before(
            profile,
            server_error=lambda: _error(500, "An error has occurred."),
            rate_limited=lambda: _error(429, "Too many requests."),
        )
        if faulty is not None:
            return faulty
        try:
            response = handler(Call(request, found, user), **kwargs)
        except ApiError as error:
            return _error(error.status, error.message, error.model_state)
        except services.SandboxInvalid as invalid:
            return _error(400, INVALID, invalid.errors)
        return inject_after(profile, response)

    return view


def refusals(id_key: str):
    """A business refusal is answered 200 with the id left empty and the reason in message."""

    def decorator(handler):
        @wraps(handler)
        def wrapped(call: Call, **kwargs) -> HttpResponse:
            try:
                return handler(call, **kwargs)
            except services.SandboxRefusal as refusal:
                return _written(id_key, None, refusal.message)

        return wrapped

    return decorator


# --- Goods owners -------------------------------------------------------------------------------


def goods_owners_get(call: Call) -> HttpResponse:
    owner = call.user.goods_owner
    return _answer([serializers.goods_owner_json(owner)] if owner else [])


# --- Articles -----------------------------------------------------------------------------------


def articles_get(call: Call) -> HttpResponse:
    articles = selectors.articles_list(
        goods_owner=call.query_goods_owner(),
        article_numbers=call.request.GET.getlist("articleNumbers"),
        updated_from=call.moment("articleDataLastUpdatedFrom"),
        stock_changed_from=call.moment("stockInfoChangedFrom"),
        id_from=call.integer("articleSystemIdFrom"),
        limit=call.integer("maxArticlesToGet"),
    )
    return _answer([serializers.article_json(article) for article in articles])


@refusals("articleSystemId")
def articles_put(call: Call) -> HttpResponse:
    body = call.body()
    article, message = services.article_upsert(
        goods_owner=call.goods_owner(body.get("goodsOwnerId")), data=body
    )
    return _written("articleSystemId", article.pk, message)


# --- Orders -------------------------------------------------------------------------------------


def orders_get(call: Call) -> HttpResponse:
    orders = selectors.orders_list(
        goods_owner=call.query_goods_owner(),
        status_from=call.integer("orderStatusFrom"),
        status_to=call.integer("orderStatusTo"),
        status_changed_from=call.moment("orderStatusChangedTimeFrom"),
        updated_from=call.moment("orderUpdatedTimeFrom"),
        shipped_from=call.moment("shippedTimeFrom"),
        only_lines_to_report=bool(call.flag("onlyOrdersWithOrderLinesToReport")),
        order_numbers=call.request.GET.getlist("orderNumbers"),
        id_from=call.integer("orderIdFrom"),
        limit=call.integer("maxOrdersToGet"),
    )
    return _answer([serializers.order_json(order) for order in orders])


@refusals("orderId")
def orders_put(call: Call) -> HttpResponse:
    body = call.body()
    order, message = services.order_upsert(
        goods_owner=call.goods_owner(body.get("goodsOwnerId")), data=body
    )
    return _written("orderId", order.pk, message)


def order_get(call: Call, order_id: int) -> HttpResponse:
    return _answer(serializers.order_json(call.own(selectors.orders_with_lines(), order_id)))


@refusals("orderId")
def order_delete(call: Call, order_id: int) -> HttpResponse:
    order = call.own(Order.objects, order_id)
    return _written("orderId", order.pk, services.order_cancel(order=order))


def order_statuses_get(call: Call) -> HttpResponse:
    return _answer(serializers.ORDER_STATUSES)


def order_types_get(call: Call) -> HttpResponse:
    types = call.query_goods_owner().order_types.all()
    return _answer({"orderTypes": [{"code": t.code, "name": t.name} for t in types]})


@refusals("orderTypeId")
def order_types_put(call: Call) -> HttpResponse:
    body = call.body()
    order_type, message = services.order_type_upsert(
        goods_owner=call.goods_owner(body.get("goodsOwnerId")), data=body
    )
    return _written("orderTypeId", order_type.pk, message)


@refusals("orderId")
def order_reported_picked_patch(call: Call, order_id: int) -> HttpResponse:
    order = call.own(Order.objects, order_id)
    return _written("orderId", order.pk, services.order_set_reported_picked(order=order))


@refusals("orderId")
def order_reported_returned_patch(call: Call, order_id: int) -> HttpResponse:
    order = call.own(Order.objects, order_id)
    return _written("orderId", order.pk, services.order_set_reported_returned(order=order))


# --- Purchase orders ----------------------------------------------------------------------------


def purchase_orders_get(call: Call) -> HttpResponse:
    purchase_orders = selectors.purchase_orders_list(
        goods_owner=call.query_goods_owner(),
        status_changed_from=call.moment("purchaseOrderStatusChangedTimeFrom"),
        received_from=call.moment("lastReceiveTimeFrom"),
        only_lines_to_report=bool(call.flag("onlyPurchaseOrdersWithOrderLinesToReport")),
        id_from=call.integer("purchaseOrderIdFrom"),
        limit=call.integer("maxPurchaseOrdersToGet"),
    )
    return _answer([serializers.purchase_order_json(po) for po in purchase_orders])


@refusals("purchaseOrderId")
def purchase_orders_put(call: Call) -> HttpResponse:
    body = call.body()
    purchase_order, message = services.purchase_order_upsert(
        goods_owner=call.goods_owner(body.get("goodsOwnerId")), data=body
    )
    return _written("purchaseOrderId", purchase_order.pk, message)


def purchase_order_statuses_get(call: Call) -> HttpResponse:
    return _answer(serializers.PURCHASE_ORDER_STATUSES)


@refusals("purchaseOrderId")
def purchase_order_reported_received_patch(call: Call, purchase_order_id: int) -> HttpResponse:
    purchase_order = call.own(PurchaseOrder.objects, purchase_order_id)
    message = services.purchase_order_set_reported_received(purchase_order=purchase_order)
    return _written("purchaseOrderId", purchase_order.pk, message)


# --- Returns and inventory adjustments ----------------------------------------------------------


def return_orders_get(call: Call) -> HttpResponse:
    returns = selectors.return_orders_list(
        goods_owner=call.query_goods_owner(), returned_from=call.moment("goodsReturnedFromDate")
    ).order_by("pk")
    return _answer([serializers.return_order_json(return_order) for return_order in returns])


def inventory_adjustments_get(call: Call) -> HttpResponse:
    adjustments = selectors.inventory_adjustments_list(
        goods_owner=call.query_goods_owner(),
        from_time=call.moment("from"),
        to_time=call.moment("to"),
        is_reported=call.flag("isReported"),
    )
    return _answer(serializers.inventory_adjustments_json(list(adjustments)))


@refusals("inventoryId")
def inventory_adjustment_reported_patch(
    call: Call, inventory_id: int, article_system_id: int
) -> HttpResponse:
    adjustment = call.own(
        InventoryAdjustment.objects.select_related("article").filter(article_id=article_system_id),
        inventory_id,
    )
    message = services.inventory_adjustment_set_reported(adjustment=adjustment)
    return _written("inventoryId", adjustment.pk, message)


@csrf_exempt
def not_found(request: HttpRequest, warehouse: str, rest: str) -> HttpResponse:
    return _error(404, "No HTTP resource was found that matches the request URI.")
