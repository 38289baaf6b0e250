"""Reads of the emulated warehouse: the API's filtered, id-cursor-paged lists and the operator's
overviews."""

from datetime import datetime
from decimal import Decimal

from django.db.models import DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from ongoing.statuses import OrderStatus, PurchaseOrderStatus

from .models import (
    Article,
    GoodsOwner,
    InventoryAdjustment,
    Order,
    OrderLine,
    PurchaseOrder,
    PurchaseOrderLine,
    ReturnOrder,
    Warehouse,
)

_QUANTITY = DecimalField(max_digits=14, decimal_places=3)


def _sum_per_article(lines: QuerySet, expression) -> Coalesce:
    total = (
        lines.filter(article=OuterRef("pk"))
        .order_by()
        .values("article")
        .annotate(total=Sum(expression, output_field=_QUANTITY))
        .values("total")
    )
    return Coalesce(
        Subquery(total, output_field=_QUANTITY), Value(Decimal(0)), output_field=_QUANTITY
    )


def articles_with_stock(*, goods_owner: GoodsOwner) -> QuerySet[Article]:
    """Articles annotated with booked (ordered, not yet picked, on orders still to be sent) and
    to_receive (advised, not yet received, on open purchase orders)."""
    open_order_lines = OrderLine.objects.filter(
        order__status__gte=OrderStatus.OPEN, order__status__lt=OrderStatus.SENT
    )
    open_purchase_lines = PurchaseOrderLine.objects.filter(
        purchase_order__status__lt=PurchaseOrderStatus.DEFLECTION
    )
    return (
        Article.objects.filter(goods_owner=goods_owner)
        .select_related("goods_owner")
        .annotate(
            booked=_sum_per_article(open_order_lines, F("ordered") - F("picked")),
            to_receive=_sum_per_article(open_purchase_lines, F("advised") - F("received")),
        )
        .order_by("pk")
    )


def articles_list(
    *,
    goods_owner: GoodsOwner,
    article_numbers: list[str],
    updated_from: datetime | None,
    stock_changed_from: datetime | None,
    id_from: int | None,
    limit: int | None,
) -> list[Article]:
    articles = articles_with_stock(goods_owner=goods_owner)
    if article_numbers:
        articles = articles.filter(article_number__in=article_numbers)
    if updated_from:
        articles = articles.filter(data_updated_at__gte=updated_from)
    if stock_changed_from:
        articles = articles.filter(stock_changed_at__gte=stock_changed_from)
    return _page(articles, id_from=id_from, limit=limit)


def orders_with_lines() -> QuerySet[Order]:
    return Order.objects.select_related("goods_owner").prefetch_related("lines__article")


def orders_list(
    *,
    goods_owner: GoodsOwner,
    status_from: int | None,
    status_to: int | None,
    status_changed_from: datetime | None,
    updated_from: datetime | None,
    shipped_from: datetime | None,
    only_lines_to_report: bool,
    order_numbers: list[str],
    id_from: int | None,
    limit: int | None,
) -> list[Order]:
    orders = orders_with_lines().filter(goods_owner=goods_owner)
    if status_from is not None:
        orders = orders.filter(status__gte=status_from)
    if status_to is not None:
        orders = orders.filter(status__lte=status_to)
    if status_changed_from:
        orders = orders.filter(status_changed_at__gte=status_changed_from)
    if updated_from:
        orders = orders.filter(updated_at__gte=updated_from)
    if shipped_from:
        orders = orders.filter(shipped_at__gte=shipped_from)
    if order_numbers:
        orders = orders.filter(order_number__in=order_numbers)
    if only_lines_to_report:
        orders = orders.filter(
            pk__in=OrderLine.objects.filter(picked__gt=0)
            .filter(Q(reported__isnull=True) | ~Q(reported=F("picked")))
            .values("order_id")
        )
    return _page(orders, id_from=id_from, limit=limit)


def purchase_orders_with_lines() -> QuerySet[PurchaseOrder]:
    return PurchaseOrder.objects.select_related("goods_owner").prefetch_related("lines__article")


def purchase_orders_list(
    *,
    goods_owner: GoodsOwner,
    status_changed_from: datetime | None,
    received_from: datetime | None,
    only_lines_to_report: bool,
    id_from: int | None,
    limit: int | None,
) -> list[PurchaseOrder]:
    purchase_orders = purchase_orders_with_lines().filter(goods_owner=goods_owner)
    if status_changed_from:
        purchase_orders = purchase_orders.filter(status_changed_at__gte=status_changed_from)
    if received_from:
        purchase_orders = purchase_orders.filter(last_received_at__gte=received_from)
    if only_lines_to_report:
        purchase_orders = purchase_orders.filter(
            pk__in=PurchaseOrderLine.objects.filter(received__gt=0)
            .filter(Q(reported__isnull=True) | ~Q(reported=F("received")))
            .values("purchase_order_id")
        )
    return _page(purchase_orders, id_from=id_from, limit=limit)


def return_orders_list(
    *, goods_owner: GoodsOwner, returned_from: datetime | None
) -> QuerySet[ReturnOrder]:
    returns = ReturnOrder.objects.filter(goods_owner=goods_owner).prefetch_related(
        "lines__order_line__article"
    )
    if returned_from:
        returns = returns.filter(returned_at__gte=returned_from)
    return returns.select_related("order")


def inventory_adjustments_list(
    *,
    goods_owner: GoodsOwner,
    from_time: datetime | None,
    to_time: datetime | None,
    is_reported: bool | None,
) -> QuerySet[InventoryAdjustment]:
    adjustments = InventoryAdjustment.objects.filter(goods_owner=goods_owner).select_related(
        "article"
    )
    if from_time:
        adjustments = adjustments.filter(adjusted_at__gte=from_time)
    if to_time:
        adjustments = adjustments.filter(adjusted_at__lte=to_time)
    if is_reported is not None:
        adjustments = adjustments.filter(is_reported=is_reported)
    return adjustments


def _page(queryset: QuerySet, *, id_from: int | None, limit: int | None) -> list:
    """Ongoing's id cursor: ids from id_from upwards, at most limit of them (all without one)."""
    if id_from is not None:
        queryset = queryset.filter(pk__gte=id_from)
    queryset = queryset.order_by("pk")
    return list(queryset[:limit] if limit else queryset)


def warehouse_overview(*, warehouse: Warehouse) -> list[dict]:
    """Per goods owner: what the operator page lists."""
    return [
        {
            "goods_owner": goods_owner,
            "orders": orders_with_lines().filter(goods_owner=goods_owner).order_by("-pk")[:50],
            "purchase_orders": purchase_orders_with_lines()
            .filter(goods_owner=goods_owner)
            .order_by("-pk")[:50],
            "articles": articles_with_stock(goods_owner=goods_owner),
            "returns": return_orders_list(goods_owner=goods_owner, returned_from=None).order_by(
                "-pk"
            )[:20],
            "adjustments": inventory_adjustments_list(
                goods_owner=goods_owner, from_time=None, to_time=None, is_reported=None
            ).order_by("-pk")[:20],
        }
        for goods_owner in warehouse.goods_owners.order_by("pk")
    ]
