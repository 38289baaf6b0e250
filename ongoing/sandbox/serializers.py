"""The emulator's answers, in the shapes of reference/ongoing-examples/*-get-response.json."""

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ongoing.statuses import OrderStatus, PurchaseOrderStatus

from .models import (
    Article,
    GoodsOwner,
    InventoryAdjustment,
    Order,
    OrderLine,
    PurchaseOrder,
    ReturnOrder,
)

# Return order statuses are not in Ongoing's public reference (UNVERIFIED); a registered return is
# answered with this one.
RETURN_ORDER_REGISTERED = {"number": 500, "text": "Received"}

ARTICLE_FIELDS = (
    "productCode",
    "unitCode",
    "description",
    "isActive",
    "supplierInfo",
    "barCodeInfo",
    "purcaseCurrencyCode",
    "countryOfOriginCode",
    "statisticsNumber",
    "articleGroup",
    "articleCategory",
    "articleColor",
    "articleSize",
)
# Sent as strings in the vendor's full PUT example ("weight": "1.5"), answered as numbers.
ARTICLE_NUMBERS = (
    "quantityPerPackage",
    "quantityPerPallet",
    "weight",
    "netWeight",
    "length",
    "width",
    "height",
    "volume",
    "purchasePrice",
    "stockValuationPrice",
    "customerPrice",
    "stockLimit",
)
ORDER_INFO_FIELDS = (
    "goodsOwnerOrderId",
    "referenceNumber",
    "salesCode",
    "orderRemark",
    "deliveryInstruction",
    "servicePointCode",
    "freeText1",
    "freeText2",
    "freeText3",
    "orderType",
    "wayOfDelivery",
    "termsOfDeliveryType",
    "deliveryDate",
)
ORDER_INFO_TAIL = (
    "emailNotification",
    "smsNotification",
    "telephoneNotification",
)


def quantity(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def timestamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _as_number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(Decimal(str(value)))
    except InvalidOperation:
        return None


def goods_owner_json(goods_owner: GoodsOwner) -> dict:
    return {"id": goods_owner.pk, "name": goods_owner.name}


def _article_ref(article: Article) -> dict:
    return {
        "articleSystemId": article.pk,
        "articleNumber": article.article_number,
        "articleName": article.data.get("articleName") or "",
        "productCode": article.data.get("productCode") or "",
    }


def article_json(article: Article) -> dict:
    """Needs the annotations of selectors.articles_with_stock (booked, to_receive)."""
    data = article.data
    booked = article.booked or Decimal(0)
    on_hand = article.number_of_items
    return {
        "goodsOwner": goods_owner_json(article.goods_owner),
        "articleSystemId": article.pk,
        "articleNumber": article.article_number,
        "articleName": data.get("articleName"),
        **{field: data.get(field) for field in ARTICLE_FIELDS},
        "isStockArticle": article.is_stock_article,
        **{field: _as_number(data.get(field)) for field in ARTICLE_NUMBERS},
        "articleDataLastUpdated": timestamp(article.data_updated_at),
        "inventoryInfo": {
            "numberOfItems": quantity(on_hand),
            "sellableNumberOfItems": quantity(max(on_hand - booked, Decimal(0))),
            "numberOfBookedItems": quantity(booked),
            "numberOfLockedItems": 0.0,
            "toReceiveNumberOfItems": quantity(max(article.to_receive or Decimal(0), Decimal(0))),
            "allocatedNumberOfItems": quantity(min(booked, max(on_hand, Decimal(0)))),
            "lockedForSaleNumberOfItems": 0.0,
            "pickedToBeCollectedNumberOfItems": 0.0,
            "receivedToBeFinishedNumberOfItems": 0.0,
            "lastInDate": timestamp(article.last_in_at),
            "stockInfoChanged": timestamp(article.stock_changed_at),
        },
    }


def _transporter(value: dict | None) -> dict | None:
    if not value:
        return None
    return {
        "transporterName": None,
        "name": None,
        "code": value.get("transporterCode"),
        "serviceCode": value.get("transporterServiceCode"),
    }


def _order_line_json(order: Order, line: OrderLine) -> dict:
    allocated = line.ordered if OrderStatus.ALLOCATED <= order.status < OrderStatus.CANCELLED else 0
    picked_items = []
    if line.picked:
        picked_items.append(
            {
                "articleItemId": line.pk,
                "numberOfItems": quantity(line.picked),
                "isPicked": True,
                "isReturned": bool(line.returned),
                "pickedTime": timestamp(line.picked_at),
                "location": "A1",
            }
        )
    return {
        "id": line.pk,
        "rowNumber": line.row_number,
        "article": _article_ref(line.article),
        "comment": line.data.get("comment"),
        "orderedNumberOfItems": quantity(line.ordered),
        "allocatedNumberOfItems": quantity(allocated),
        "pickedNumberOfItems": quantity(line.picked),
        "packedNumberOfItems": quantity(line.packed),
        "reportedNumberOfItems": quantity(line.reported),
        "returnedNumberOfItems": quantity(line.returned),
        "reportedReturnedNumberOfItems": quantity(line.reported_returned),
        "shouldBePicked": line.should_be_picked,
        "prices": line.data.get("prices"),
        "externalId": line.data.get("externalId"),
        "pickedArticleItems": picked_items,
        "subOrderLines": None,
        "serialNumber": line.data.get("serialNumber"),
        "lineTotalCustomsValue": line.data.get("lineTotalCustomsValue"),
    }


def order_json(order: Order) -> dict:
    """Needs order.lines prefetched with their articles."""
    data = order.data
    lines = list(order.lines.all())
    ordered = sum((line.ordered for line in lines), Decimal(0))
    return {
        "goodsOwner": goods_owner_json(order.goods_owner),
        "orderInfo": {
            "orderId": order.pk,
            "orderNumber": order.order_number,
            **{field: data.get(field) for field in ORDER_INFO_FIELDS},
            "createdDate": timestamp(order.created_at),
            "shippedTime": timestamp(order.shipped_at),
            "wayBill": order.way_bill or None,
            "returnWayBill": None,
            "orderStatus": {"number": order.status, "text": order.status_text},
            **{field: data.get(field) for field in ORDER_INFO_TAIL},
            "orderedNumberOfItems": quantity(ordered),
            "allocatedNumberOfItems": quantity(
                ordered if OrderStatus.ALLOCATED <= order.status < OrderStatus.CANCELLED else 0
            ),
            "pickedNumberOfItems": quantity(sum((line.picked for line in lines), Decimal(0))),
            "customsInfo": data.get("customsInfo"),
        },
        "consignee": data.get("consignee"),
        "parcels": [],
        "orderLines": [_order_line_json(order, line) for line in lines],
        "tracking": ([{"trackingUrl": None, "waybill": order.way_bill}] if order.way_bill else []),
        "transporter": _transporter(data.get("transporter")),
        "returnTransporter": _transporter(data.get("returnTransporter")),
    }


def purchase_order_json(purchase_order: PurchaseOrder) -> dict:
    """Needs purchase_order.lines prefetched with their articles."""
    data = purchase_order.data
    lines = []
    for line in purchase_order.lines.all():
        items = []
        if line.received:
            items.append(
                {
                    "originalArticleItemId": line.pk,
                    "numberOfItems": quantity(line.received),
                    "inDate": timestamp(purchase_order.last_received_at),
                    "location": "A1",
                }
            )
        lines.append(
            {
                "id": line.pk,
                "rowNumber": line.row_number,
                "article": _article_ref(line.article),
                "comment": line.data.get("comment"),
                "advisedNumberOfItems": quantity(line.advised),
                "receivedNumberOfItems": quantity(line.received),
                "reportedNumberOfItems": quantity(line.reported),
                "externalOrderLineId": line.data.get("externalOrderLineId"),
                "articleItems": items,
                "subPurchaseOrderLines": None,
            }
        )
    return {
        "goodsOwner": goods_owner_json(purchase_order.goods_owner),
        "supplierInfo": data.get("supplierInfo"),
        "purchaseOrderInfo": {
            "purchaseOrderId": purchase_order.pk,
            "purchaseOrderNumber": purchase_order.purchase_order_number,
            "supplierOrderNumber": data.get("supplierOrderNumber"),
            "goodsOwnerReference": data.get("goodsOwnerReference"),
            "referenceNumber": data.get("referenceNumber"),
            "purchaseOrderStatus": {
                "number": purchase_order.status,
                "text": purchase_order.status_text,
            },
            "purchaseOrderType": None,
            "inDate": data.get("inDate"),
            "purchaseOrderRemark": data.get("purchaseOrderRemark"),
            "lastReceiveTime": timestamp(purchase_order.last_received_at),
        },
        "purchaseOrderLines": lines,
    }


def return_order_json(return_order: ReturnOrder) -> dict:
    order = return_order.order
    return {
        "returnOrderInfo": {
            "returnOrderId": return_order.pk,
            "returnOrderNumber": return_order.return_order_number,
            "comment": return_order.comment or None,
            "inDate": timestamp(return_order.returned_at),
            "returnOrderStatus": RETURN_ORDER_REGISTERED,
        },
        "customerOrderInfo": {
            "orderId": order.pk,
            "orderNumber": order.order_number,
            "goodsOwnerOrderId": order.data.get("goodsOwnerOrderId"),
        },
        "returnOrderLines": [
            {
                "returnOrderLineId": line.pk,
                "returnOrderRowNumber": str(number),
                "customerOrderLine": {
                    "orderLineId": line.order_line.pk,
                    "rowNumber": line.order_line.row_number,
                },
                "article": _article_ref(line.order_line.article),
                "returnCause": {"code": None, "name": line.cause} if line.cause else None,
                "returnedNumberOfItems": quantity(line.returned),
                "pickedNumberOfItems": quantity(line.order_line.picked),
            }
            for number, line in enumerate(return_order.lines.all(), start=1)
        ],
    }


def inventory_adjustments_json(adjustments: list[InventoryAdjustment]) -> list[dict]:
    """Grouped by article, as GET /inventoryAdjustments answers."""
    by_article: dict[int, dict] = {}
    for adjustment in adjustments:
        group = by_article.setdefault(
            adjustment.article_id,
            {"article": _article_ref(adjustment.article), "inventoryAdjustments": []},
        )
        group["inventoryAdjustments"].append(
            {
                "inventoryId": adjustment.pk,
                "numberOfItems": quantity(adjustment.number_of_items),
                "inventoryTime": timestamp(adjustment.adjusted_at),
                "articleItemComment": "",
                "inventoryItemComment": adjustment.comment,
                "inventoryAdjustmentCause": None,
                "location": adjustment.location,
                "batchNumber": "",
                "serial": "",
                "articleItemStatus": None,
                "expiryDate": None,
                "isReported": adjustment.is_reported,
            }
        )
    return list(by_article.values())


def statuses_json(statuses) -> dict:
    return {"orderStatuses": [{"number": int(status), "text": status.text} for status in statuses]}


ORDER_STATUSES = statuses_json(OrderStatus)
PURCHASE_ORDER_STATUSES = statuses_json(PurchaseOrderStatus)
