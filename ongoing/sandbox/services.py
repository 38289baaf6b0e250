"""Everything that changes the emulated warehouse: what the API's writes do, and what the warehouse
staff do (the operator page and `manage.py sandbox_warehouse` both call these)."""

from collections.abc import Mapping
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ongoing.statuses import (
    ORDER_WORK_STARTED,
    PURCHASE_ORDER_WORK_STARTED,
    OrderStatus,
    PurchaseOrderStatus,
)

from .models import (
    ApiUser,
    Article,
    GoodsOwner,
    InventoryAdjustment,
    Order,
    OrderLine,
    OrderType,
    PurchaseOrder,
    PurchaseOrderLine,
    ReturnOrder,
    ReturnOrderLine,
    Warehouse,
)
from .webhooks import inbound_webhook_owe, order_webhook_owe

Quantities = Mapping[str, Decimal] | None


class SandboxRefusal(Exception):
    """Ongoing understood the request but will not do it. The API answers these in a 2xx whose id is
    missing and whose message says why; the operator page shows the message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SandboxInvalid(Exception):
    """A malformed request: answered 400 with ASP.NET's ModelState shape."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("The request is invalid.")
        self.errors = errors


# --- Sign-in ------------------------------------------------------------------------------------


def api_user_authenticate(*, warehouse: Warehouse, username: str, password: str) -> ApiUser | None:
    user = (
        ApiUser.objects.select_related("goods_owner")
        .filter(warehouse=warehouse, username=username)
        .first()
    )
    if user is None or not user.check_password(password):
        return None
    return user


# --- The API's writes ---------------------------------------------------------------------------


def _required_text(data: dict, key: str, errors: dict[str, str], prefix: str = "") -> str:
    value = data.get(key)
    if value is None or not str(value).strip():
        errors[f"{prefix}{key}"] = f"The {key} field is required."
        return ""
    return str(value).strip()


def _number(value, key: str, errors: dict[str, str]) -> Decimal:
    try:
        number = Decimal(str(value if value is not None else 0))
    except ArithmeticError:
        errors[key] = f"The value '{value}' is not valid for {key}."
        return Decimal(0)
    if not number.is_finite() or number < 0:
        errors[key] = f"The value '{value}' is not valid for {key}."
        return Decimal(0)
    return number


def _lines(data: dict, key: str, errors: dict[str, str]) -> list[tuple[str, str, Decimal, dict]]:
    """(rowNumber, articleNumber, numberOfItems, other fields) of a body's order lines."""
    lines = data.get(key) or []
    if not isinstance(lines, list):
        errors[key] = f"The {key} field must be a list."
        return []
    parsed, seen = [], set()
    for index, line in enumerate(lines):
        prefix = f"{key}[{index}]."
        if not isinstance(line, dict):
            errors[f"{key}[{index}]"] = "An order line must be an object."
            continue
        row = _required_text(line, "rowNumber", errors, prefix)
        article_number = _required_text(line, "articleNumber", errors, prefix)
        quantity = _number(line.get("numberOfItems"), f"{prefix}numberOfItems", errors)
        if row in seen:
            errors[f"{prefix}rowNumber"] = f"Row number {row} appears twice."
        seen.add(row)
        extra = {
            k: v
            for k, v in line.items()
            if k not in ("rowNumber", "articleNumber", "numberOfItems")
        }
        parsed.append((row, article_number, quantity, extra))
    return parsed


def _articles_by_number(goods_owner: GoodsOwner, numbers: set[str]) -> dict[str, Article]:
    return {
        article.article_number: article
        for article in Article.objects.filter(goods_owner=goods_owner, article_number__in=numbers)
    }


@transaction.atomic
def article_upsert(*, goods_owner: GoodsOwner, data: dict) -> tuple[Article, str]:
    errors: dict[str, str] = {}
    number = _required_text(data, "articleNumber", errors)
    if errors:
        raise SandboxInvalid(errors)
    fields = {k: v for k, v in data.items() if k not in ("goodsOwnerId", "articleNumber")}
    now = timezone.now()
    article = (
        Article.objects.select_for_update()
        .filter(goods_owner=goods_owner, article_number=number)
        .first()
    )
    if article is None:
        article = Article.objects.create(
            goods_owner=goods_owner,
            article_number=number,
            data=fields,
            data_updated_at=now,
            stock_changed_at=now,
        )
    else:
        # Fields a PUT leaves out keep their values, as an upsert of some fields would.
        merged = {**article.data, **fields}
        if merged != article.data:
            article.data = merged
            article.data_updated_at = now
            article.save(update_fields=["data", "data_updated_at"])
    name = article.data.get("articleName") or ""
    return article, f"Article {number} {name} Updated/Created"


@transaction.atomic
def order_upsert(*, goods_owner: GoodsOwner, data: dict) -> tuple[Order, str]:
    errors: dict[str, str] = {}
    number = _required_text(data, "orderNumber", errors)
    _required_text(data, "deliveryDate", errors)
    if not isinstance(data.get("consignee"), dict):
        errors["consignee"] = "The consignee field is required."
    lines = _lines(data, "orderLines", errors)
    if errors:
        raise SandboxInvalid(errors)

    order = (
        Order.objects.select_for_update()
        .filter(goods_owner=goods_owner, order_number=number)
        .first()
    )
    if order is not None and order.status >= ORDER_WORK_STARTED:
        raise SandboxRefusal(_order_locked_message(order, "updated"))
    articles = _articles_by_number(goods_owner, {line[1] for line in lines})
    missing = sorted({line[1] for line in lines} - set(articles))
    if missing:
        raise SandboxRefusal(
            f"Order number {number} was not saved: article {', '.join(missing)} does not exist."
        )
    order_type = data.get("orderType") or {}
    if (
        order_type.get("code")
        and not OrderType.objects.filter(goods_owner=goods_owner, code=order_type["code"]).exists()
    ):
        raise SandboxRefusal(
            f"Order number {number} was not saved: order type {order_type['code']} does not exist."
        )

    header = {
        k: v for k, v in data.items() if k not in ("goodsOwnerId", "orderNumber", "orderLines")
    }
    now = timezone.now()
    if order is None:
        order = Order.objects.create(
            goods_owner=goods_owner,
            order_number=number,
            data=header,
            updated_at=now,
            status_changed_at=now,
        )
    else:
        order.data = header
        order.updated_at = now
        order.save(update_fields=["data", "updated_at"])
    existing = {line.row_number: line for line in order.lines.all()}
    for row, article_number, quantity, extra in lines:
        line = existing.pop(row, None) or OrderLine(order=order, row_number=row)
        line.article = articles[article_number]
        line.ordered = quantity
        line.data = extra
        line.save()
    OrderLine.objects.filter(pk__in=[line.pk for line in existing.values()]).delete()
    return order, f"Order number {number} created/updated"


def _order_locked_message(order: Order, verb: str) -> str:
    if order.status == OrderStatus.CANCELLED:
        return f"Order number {order.order_number} cannot be {verb}: it is cancelled."
    return (
        f"Order number {order.order_number} cannot be {verb}: the warehouse has started working "
        f"on it (status {order.status} {order.status_text})."
    )


@transaction.atomic
def order_cancel(*, order: Order) -> str:
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status == OrderStatus.CANCELLED:
        return f"Order number {order.order_number} is cancelled."
    if order.status >= ORDER_WORK_STARTED:
        raise SandboxRefusal(_order_locked_message(order, "cancelled"))
    now = timezone.now()
    order.status = OrderStatus.CANCELLED
    order.status_changed_at = order.updated_at = now
    order.save(update_fields=["status", "status_changed_at", "updated_at"])
    return f"Order number {order.order_number} cancelled."


@transaction.atomic
def order_set_reported_picked(*, order: Order) -> str:
    for line in order.lines.select_for_update():
        line.reported = line.picked
        line.save(update_fields=["reported"])
    return f"Order number {order.order_number}: reported number of items set to picked."


@transaction.atomic
def order_set_reported_returned(*, order: Order) -> str:
    for line in order.lines.select_for_update():
        line.reported_returned = line.returned
        line.save(update_fields=["reported_returned"])
    return f"Order number {order.order_number}: reported returned number of items set to returned."


@transaction.atomic
def order_type_upsert(*, goods_owner: GoodsOwner, data: dict) -> tuple[OrderType, str]:
    errors: dict[str, str] = {}
    code = _required_text(data, "code", errors)
    if errors:
        raise SandboxInvalid(errors)
    order_type, created = OrderType.objects.update_or_create(
        goods_owner=goods_owner, code=code, defaults={"name": str(data.get("name") or "")}
    )
    return order_type, f"Order type {code} {'created' if created else 'updated'}."


@transaction.atomic
def purchase_order_upsert(*, goods_owner: GoodsOwner, data: dict) -> tuple[PurchaseOrder, str]:
    errors: dict[str, str] = {}
    number = _required_text(data, "purchaseOrderNumber", errors)
    lines = _lines(data, "purchaseOrderLines", errors)
    if errors:
        raise SandboxInvalid(errors)
    purchase_order = (
        PurchaseOrder.objects.select_for_update()
        .filter(goods_owner=goods_owner, purchase_order_number=number)
        .first()
    )
    if purchase_order is not None and purchase_order.status >= PURCHASE_ORDER_WORK_STARTED:
        raise SandboxRefusal(
            f"Inorder with order number {number} cannot be updated: the warehouse has started "
            f"receiving it (status {purchase_order.status} {purchase_order.status_text})."
        )
    articles = _articles_by_number(goods_owner, {line[1] for line in lines})
    missing = sorted({line[1] for line in lines} - set(articles))
    if missing:
        raise SandboxRefusal(
            f"Inorder with order number {number} was not saved: article {', '.join(missing)} "
            "does not exist."
        )
    header = {
        k: v
        for k, v in data.items()
        if k not in ("goodsOwnerId", "purchaseOrderNumber", "purchaseOrderLines")
    }
    now = timezone.now()
    created = purchase_order is None
    if created:
        purchase_order = PurchaseOrder.objects.create(
            goods_owner=goods_owner,
            purchase_order_number=number,
            data=header,
            updated_at=now,
            status_changed_at=now,
        )
    else:
        purchase_order.data = header
        purchase_order.updated_at = now
        purchase_order.save(update_fields=["data", "updated_at"])
    existing = {line.row_number: line for line in purchase_order.lines.all()}
    for row, article_number, quantity, extra in lines:
        line = existing.pop(row, None) or PurchaseOrderLine(
            purchase_order=purchase_order, row_number=row
        )
        line.article = articles[article_number]
        line.advised = quantity
        line.data = extra
        line.save()
    PurchaseOrderLine.objects.filter(pk__in=[line.pk for line in existing.values()]).delete()
    return purchase_order, (
        f"Inorder with order number {number} {'created' if created else 'updated'}. <br/>"
    )


@transaction.atomic
def purchase_order_set_reported_received(*, purchase_order: PurchaseOrder) -> str:
    for line in purchase_order.lines.select_for_update():
        line.reported = line.received
        line.save(update_fields=["reported"])
    return (
        f"Inorder with order number {purchase_order.purchase_order_number}: reported number of "
        "items set to received."
    )


def inventory_adjustment_set_reported(*, adjustment: InventoryAdjustment) -> str:
    InventoryAdjustment.objects.filter(pk=adjustment.pk).update(is_reported=True)
    return f"Inventory {adjustment.pk} for article {adjustment.article.article_number} reported."


# --- The warehouse staff ------------------------------------------------------------------------


def _quantity_for(quantities: Quantities, row: str, default: Decimal) -> Decimal:
    """The quantity asked for a row: all that is left when no quantities were given at all, none
    for a row left out of the given ones."""
    if quantities is None:
        return default
    quantity = Decimal(quantities.get(row, 0))
    if not quantity.is_finite() or quantity < 0:
        raise SandboxRefusal(f"Row {row}: the quantity must be zero or more.")
    return quantity


def _move_stock(article: Article, change: Decimal, *, arriving: bool = False) -> None:
    now = timezone.now()
    article.number_of_items += change
    article.stock_changed_at = now
    if arriving:
        article.last_in_at = now
    article.save(update_fields=["number_of_items", "stock_changed_at", "last_in_at"])


def _set_status(record, status: int) -> None:
    now = timezone.now()
    record.status = status
    record.status_changed_at = record.updated_at = now
    record.save(update_fields=["status", "status_changed_at", "updated_at"])
    if isinstance(record, Order):
        order_webhook_owe(order=record)


@transaction.atomic
def order_start_picking(*, order: Order) -> Order:
    """Release the order to the pickers: from here on the integration may no longer change it."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status != OrderStatus.OPEN:
        raise SandboxRefusal(f"Only open orders can be released; {order} is {order.status_text}.")
    _set_status(order, OrderStatus.RELEASED)
    return order


@transaction.atomic
def order_pick(*, order: Order, quantities: Quantities = None) -> Order:
    """Pick the given quantity per row number (everything still to pick when None). Picking takes
    the goods off the shelf: the articles' stock goes down."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if not OrderStatus.OPEN <= order.status <= OrderStatus.PICKED:
        raise SandboxRefusal(f"{order} is {order.status_text} and cannot be picked.")
    lines = list(order.lines.select_related("article").select_for_update())
    articles = {
        article.pk: article
        for article in Article.objects.select_for_update().filter(
            pk__in=[line.article_id for line in lines]
        )
    }
    picked_any = False
    now = timezone.now()
    for line in lines:
        if not line.should_be_picked:
            continue
        remaining = line.to_pick
        quantity = _quantity_for(quantities, line.row_number, remaining)
        if not quantity:
            continue
        article = articles[line.article_id]
        if quantity > remaining:
            raise SandboxRefusal(
                f"Row {line.row_number}: only {remaining.normalize()} left to pick of "
                f"{line.ordered.normalize()}."
            )
        if quantity > article.number_of_items:
            raise SandboxRefusal(
                f"Row {line.row_number}: only {article.number_of_items.normalize()} of article "
                f"{article.article_number} in stock. Receive a purchase order or adjust the "
                "inventory first."
            )
        line.picked += quantity
        line.picked_at = now
        line.save(update_fields=["picked", "picked_at"])
        _move_stock(article, -quantity)
        picked_any = True
    if not picked_any:
        raise SandboxRefusal(f"Nothing to pick on {order}.")
    _set_status(order, OrderStatus.PICKED)
    return order


@transaction.atomic
def order_send(*, order: Order) -> Order:
    """Press "sent": what was picked is packed and leaves; anything not picked is not delivered."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status != OrderStatus.PICKED:
        raise SandboxRefusal(f"Only picked orders can be sent; {order} is {order.status_text}.")
    for line in order.lines.select_for_update():
        line.packed = line.picked
        line.save(update_fields=["packed"])
    order.shipped_at = timezone.now()
    order.way_bill = f"SBX{order.pk:09d}"
    order.save(update_fields=["shipped_at", "way_bill"])
    _set_status(order, OrderStatus.SENT)
    return order


@transaction.atomic
def order_collect(*, order: Order) -> Order:
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status != OrderStatus.SENT:
        raise SandboxRefusal(f"Only sent orders can be collected; {order} is {order.status_text}.")
    _set_status(order, OrderStatus.COLLECTED)
    return order


@transaction.atomic
def purchase_order_receive(
    *, purchase_order: PurchaseOrder, quantities: Quantities = None
) -> PurchaseOrder:
    """Receive the given quantity per row number (everything advised and not yet received when
    None). The goods go on the shelf: the articles' stock goes up."""
    purchase_order = PurchaseOrder.objects.select_for_update().get(pk=purchase_order.pk)
    if purchase_order.status >= PurchaseOrderStatus.DEFLECTION:
        raise SandboxRefusal(
            f"{purchase_order} is {purchase_order.status_text}; nothing more can be received."
        )
    received_any = False
    received_lines = []
    for line in purchase_order.lines.select_related("article").select_for_update():
        quantity = _quantity_for(quantities, line.row_number, line.to_receive)
        if not quantity:
            continue
        line.received += quantity
        line.save(update_fields=["received"])
        received_lines.append(line)
        _move_stock(
            Article.objects.select_for_update().get(pk=line.article_id), quantity, arriving=True
        )
        received_any = True
    if not received_any:
        raise SandboxRefusal(f"Nothing to receive on {purchase_order}.")
    purchase_order.last_received_at = timezone.now()
    purchase_order.save(update_fields=["last_received_at"])
    if purchase_order.status != PurchaseOrderStatus.INBOUND:
        _set_status(purchase_order, PurchaseOrderStatus.INBOUND)
    for line in received_lines:
        inbound_webhook_owe(purchase_order=purchase_order, line=line)
    return purchase_order


@transaction.atomic
def purchase_order_close(*, purchase_order: PurchaseOrder, status: int) -> PurchaseOrder:
    """Finish receiving: Deflection (with differences) or Received."""
    if status not in (PurchaseOrderStatus.DEFLECTION, PurchaseOrderStatus.RECEIVED):
        raise SandboxRefusal("A purchase order is closed as Deflection or Received.")
    purchase_order = PurchaseOrder.objects.select_for_update().get(pk=purchase_order.pk)
    if purchase_order.status >= PurchaseOrderStatus.DEFLECTION:
        raise SandboxRefusal(f"{purchase_order} is already {purchase_order.status_text}.")
    _set_status(purchase_order, status)
    inbound_webhook_owe(purchase_order=purchase_order, line=None)
    return purchase_order


@transaction.atomic
def return_register(
    *, order: Order, quantities: Quantities = None, cause: str = "", comment: str = ""
) -> ReturnOrder:
    """Goods came back on a delivered order (everything delivered and not yet returned when
    quantities is None); they go back on the shelf."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status not in (OrderStatus.SENT, OrderStatus.COLLECTED):
        raise SandboxRefusal(
            f"Only sent or collected orders can have returns; {order} is {order.status_text}."
        )
    returned = []
    for line in order.lines.select_related("article").select_for_update():
        returnable = line.returnable
        quantity = _quantity_for(quantities, line.row_number, returnable)
        if not quantity:
            continue
        if quantity > returnable:
            raise SandboxRefusal(
                f"Row {line.row_number}: only {returnable.normalize()} can be returned."
            )
        line.returned += quantity
        line.save(update_fields=["returned"])
        _move_stock(
            Article.objects.select_for_update().get(pk=line.article_id), quantity, arriving=True
        )
        returned.append((line, quantity))
    if not returned:
        raise SandboxRefusal(f"Nothing to return on {order}.")
    sequence = order.return_orders.count() + 1
    return_order = ReturnOrder.objects.create(
        goods_owner=order.goods_owner,
        order=order,
        return_order_number=f"{order.order_number}-R{sequence}",
        comment=comment,
        returned_at=timezone.now(),
    )
    ReturnOrderLine.objects.bulk_create(
        ReturnOrderLine(return_order=return_order, order_line=line, returned=quantity, cause=cause)
        for line, quantity in returned
    )
    return return_order


@transaction.atomic
def inventory_adjust(
    *, article: Article, number_of_items: Decimal, comment: str = "", location: str = "A1"
) -> InventoryAdjustment:
    """Found (+) or lost (-) goods: the stock changes and an unreported adjustment is recorded."""
    article = Article.objects.select_for_update().get(pk=article.pk)
    number_of_items = Decimal(number_of_items)
    if not number_of_items.is_finite() or not number_of_items:
        raise SandboxRefusal("An adjustment changes the stock by some number of items.")
    if article.number_of_items + number_of_items < 0:
        raise SandboxRefusal(
            f"Only {article.number_of_items.normalize()} of {article.article_number} in stock."
        )
    _move_stock(article, number_of_items, arriving=number_of_items > 0)
    return InventoryAdjustment.objects.create(
        goods_owner=article.goods_owner,
        article=article,
        number_of_items=number_of_items,
        comment=comment,
        location=location,
        adjusted_at=timezone.now(),
    )


@transaction.atomic
def order_ship(*, order: Order) -> Order:
    """The whole warehouse round for scripts and benchmarks: adjust in what is missing on the
    shelf, release, pick everything and send (status 450)."""
    for line in order.lines.select_related("article"):
        missing = line.ordered - line.article.number_of_items
        if missing > 0 and line.should_be_picked:
            inventory_adjust(article=line.article, number_of_items=missing, comment="Restocked")
    order_start_picking(order=order)
    order_pick(order=order)
    return order_send(order=order)


def goods_owner_webhook_set(*, goods_owner: GoodsOwner, url: str, token: str) -> GoodsOwner:
    """Ongoing's webhook settings for a goods owner, as a person pastes them in: where order
    status changes and inbound transactions are posted, and the X-Auth-Token sent with them.
    An empty address switches webhooks off."""
    if url and not url.startswith(("http://", "https://")):
        raise SandboxRefusal("The webhook address starts with http:// or https://.")
    goods_owner.webhook_url = url.strip()
    goods_owner.webhook_token = token.strip()
    goods_owner.save(update_fields=["webhook_url", "webhook_token"])
    return goods_owner
