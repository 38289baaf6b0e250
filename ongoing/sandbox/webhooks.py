"""The emulated warehouse's webhooks (reference/ongoing-api.md, "Webhooks"): an order status change
or an inbound transaction owes the goods owner's webhook URL one POST with the static X-Auth-Token,
retried after 1, 5, 15 and 30 minutes, then every 2 hours, until answered 2xx or a day has passed.

The webhook row is written in the same transaction as the change; `manage.py sandbox_events`
delivers due rows. The webhook ids and `path` are UNVERIFIED in meaning: `webhookOrdersId` is the
goods owner's one configured webhook, `path` the resource the event is about."""

import logging
import random
import uuid
from datetime import datetime, timedelta

import requests
from django.utils import timezone

from .models import GoodsOwner, Order, PurchaseOrder, PurchaseOrderLine, Webhook

logger = logging.getLogger(__name__)

RETRY_AFTER = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=30),
)
RETRY_EVERY = timedelta(hours=2)
GIVE_UP_AFTER = timedelta(days=1)
TIMEOUT = (2, 5)
DELIVERY_BATCH = 50


def _owed(goods_owner: GoodsOwner, kind: str, body: dict) -> Webhook | None:
    if not goods_owner.webhook_url:
        return None
    now = timezone.now()
    event_id = str(uuid.uuid4())
    lost = bool(goods_owner.webhook_loss_rate) and (
        random.random() < goods_owner.webhook_loss_rate  # noqa: S311 - fault injection
    )
    return Webhook.objects.create(
        goods_owner=goods_owner,
        event_id=event_id,
        kind=kind,
        body={
            "webhookEventId": event_id,
            "system": goods_owner.warehouse.name,
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "goodsOwnerId": goods_owner.pk,
            **body,
        },
        created_at=now,
        next_attempt_at=None if lost else now,
        last_status="lost (fault injection)" if lost else "",
    )


def order_webhook_owe(*, order: Order) -> Webhook | None:
    """Order created, picked or status changed."""
    return _owed(
        order.goods_owner,
        "order",
        {
            "webhookOrdersId": order.goods_owner_id,
            "orderId": order.pk,
            "orderNumber": order.order_number,
            "orderStatus": {"number": order.status},
            "tracking": [{"waybill": order.way_bill}] if order.way_bill else [],
            "parcels": [],
            "path": f"orders/{order.pk}",
        },
    )


# UNVERIFIED whether Ongoing posts a webhook when a purchase order is closed (Deflection or
# Received) without goods arriving: the reference names only inbound (receive) transactions.
# Decided: it does, as an inbound webhook whose purchaseOrderLine is null, so the integration
# completes the Fortnox purchase order within seconds. Set False to emulate an Ongoing that does
# not: the scheduled run then completes it (it lists purchase orders closed since its last run).
WEBHOOK_ON_PURCHASE_ORDER_CLOSE = True


def inbound_webhook_owe(
    *, purchase_order: PurchaseOrder, line: PurchaseOrderLine | None
) -> Webhook | None:
    """An inbound transaction (goods received on a purchase order line), or the purchase order
    closed (line None; see WEBHOOK_ON_PURCHASE_ORDER_CLOSE)."""
    if line is None and not WEBHOOK_ON_PURCHASE_ORDER_CLOSE:
        return None
    line_json = (
        {
            "id": line.pk,
            "rowNumber": line.row_number,
            "reportedNumberOfItems": float(line.reported) if line.reported is not None else None,
        }
        if line is not None
        else None
    )
    return _owed(
        purchase_order.goods_owner,
        "inbound",
        {
            "purchaseOrder": {
                "purchaseOrderId": purchase_order.pk,
                "purchaseOrderNumber": purchase_order.purchase_order_number,
                "purchaseOrderStatus": {"number": purchase_order.status},
                "purchaseOrderLine": line_json,
            },
            "path": f"purchaseOrders/{purchase_order.pk}",
        },
    )


def next_attempt(webhook: Webhook, now: datetime) -> datetime | None:
    """When to try again after `webhook.attempts` failed attempts; None when a day has passed."""
    index = webhook.attempts - 1
    delay = RETRY_AFTER[index] if index < len(RETRY_AFTER) else RETRY_EVERY
    at = now + delay
    return at if at <= webhook.created_at + GIVE_UP_AFTER else None


def webhook_deliver(*, webhook: Webhook, session: requests.Session | None = None) -> bool:
    """One attempt; True when the receiver answered 2xx."""
    goods_owner = webhook.goods_owner
    session = session or requests
    try:
        response = session.post(
            goods_owner.webhook_url,
            json=webhook.body,
            headers={"X-Auth-Token": goods_owner.webhook_token},
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        status = str(response.status_code)
        delivered = 200 <= response.status_code < 300
    except requests.RequestException as error:
        status, delivered = error.__class__.__name__, False
    now = timezone.now()
    webhook.attempts += 1
    webhook.last_status = status[:100]
    if delivered:
        webhook.delivered_at, webhook.next_attempt_at = now, None
    else:
        webhook.next_attempt_at = next_attempt(webhook, now)
    webhook.save(update_fields=["attempts", "last_status", "delivered_at", "next_attempt_at"])
    return delivered


def webhooks_deliver_due(*, now: datetime | None = None, session=None) -> int:
    """Deliver every webhook whose attempt is due; returns how many were delivered."""
    now = now or timezone.now()
    due = list(
        Webhook.objects.select_related("goods_owner__warehouse")
        .filter(next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")[:DELIVERY_BATCH]
    )
    # No transaction around a delivery: the receiver writes to the same database while we wait
    # for its answer (SQLite would have it wait for our lock, and both time out).
    return sum(webhook_deliver(webhook=webhook, session=session) for webhook in due)
