"""Ongoing WMS webhooks: the per-company endpoint (an unguessable URL token and a secret for
X-Auth-Token) and the receiver, which answers at once: it records the delivery by its
webhookEventId (a redelivery changes nothing) and queues a targeted sync of the order or purchase
order it names. Whatever a webhook fails to say, the scheduled run still finds."""

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from integrations.errors import ObjectValidationError
from integrations.http import UnreadableBody, json_body
from integrations.models import Integration
from integrations.processes import FULFILMENT, PURCHASE_ORDERS
from integrations.selectors import process_states
from integrations.text import printable
from ongoing.mappers import whole_number
from ongoing.models import OngoingConnection

from ..models import WebhookDelivery, WebhookEndpoint
from .pending import pending_sync_request, targeted_run_queue

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
SOURCE = "ongoing"


def _token() -> str:
    return secrets.token_urlsafe(32)


def webhook_endpoint_for(*, connection: OngoingConnection) -> WebhookEndpoint:
    """The company's endpoint, made the first time it is asked for."""
    endpoint = WebhookEndpoint.objects.filter(connection=connection).first()
    if endpoint is not None:
        return endpoint
    try:
        with transaction.atomic():
            return WebhookEndpoint.objects.create(
                connection=connection, token=_token(), secret=_token()
            )
    except IntegrityError:
        return WebhookEndpoint.objects.get(connection=connection)


def webhook_endpoint_renew(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new URL and secret: the old ones stop working at once (paste the new ones in Ongoing)."""
    endpoint.token = _token()
    endpoint.secret = _token()
    endpoint.save(update_fields=["token", "secret"])
    return endpoint


def webhook_url(*, endpoint: WebhookEndpoint) -> str:
    return settings.SITE_URL + reverse("realtime:ongoing_webhook", args=[endpoint.token])


class WebhookRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class WebhookOutcome:
    kind: str
    duplicate: bool = False
    queued: bool = False
    ignored: str = ""


def webhook_kind(payload: dict) -> tuple[str, str, str]:
    """(kind, process, object reference) of a webhook body: an order webhook names a warehouse
    order for fulfilment, an inbound transaction a purchase order for its receipts; article
    webhooks need nothing from us."""
    purchase_order = payload.get("purchaseOrder")
    if isinstance(purchase_order, dict) and purchase_order.get("purchaseOrderId") is not None:
        return "inbound", PURCHASE_ORDERS, _id(purchase_order["purchaseOrderId"], "purchaseOrderId")
    if "articleSystemId" in payload or "webhookArticlesId" in payload:
        return "article", "", printable(str(payload.get("articleSystemId") or ""), max_length=100)
    if payload.get("orderId") is not None:
        return "order", FULFILMENT, _id(payload["orderId"], "orderId")
    return "unknown", "", ""


def _id(value, name: str) -> str:
    """An Ongoing id the webhook names, as the reference of the targeted sync."""
    try:
        number = whole_number(value, what=name)
    except ObjectValidationError:
        number = None
    if number is None:
        raise WebhookRefused(400, f"{name} is not an id.")
    return str(number)


def webhook_endpoint_find(*, token: str) -> WebhookEndpoint | None:
    if not TOKEN_PATTERN.match(token or ""):
        return None
    return (
        WebhookEndpoint.objects.select_related("connection")
        .filter(token=token, connection__status=OngoingConnection.Status.VERIFIED)
        .first()
    )


def webhook_receive(*, token: str, auth_token: str, body: bytes) -> WebhookOutcome:
    """Check, record and queue; raises WebhookRefused (404 unknown URL, 401 wrong secret, 400
    not a webhook) having recorded nothing."""
    endpoint = webhook_endpoint_find(token=token)
    if endpoint is None:
        raise WebhookRefused(404, "Unknown webhook address.")
    if not auth_token or not constant_time_compare(auth_token, endpoint.secret or ""):
        raise WebhookRefused(401, "Wrong or missing X-Auth-Token.")
    try:
        payload = json_body(body)
    except UnreadableBody as unreadable:
        raise WebhookRefused(400, f"The body is {unreadable}.") from None
    if not isinstance(payload, dict):
        raise WebhookRefused(400, "The body is not a JSON object.")
    event_id = payload.get("webhookEventId")
    event_id = "" if isinstance(event_id, bool) else str(event_id).strip()
    if not isinstance(payload.get("webhookEventId"), str | int) or not event_id:
        raise WebhookRefused(400, "webhookEventId is missing.")
    if len(event_id) > 100 or not event_id.isprintable():
        raise WebhookRefused(400, "webhookEventId is not an id.")
    kind, process, ref = webhook_kind(payload)
    connection = endpoint.connection
    ignored = ""
    if str(payload.get("goodsOwnerId")) != str(connection.goods_owner_id):
        ignored, process = "another goods owner", ""
    integration = Integration.objects.filter(
        tenant_id=connection.tenant_id, kind=Integration.Kind.ONGOING_FORTNOX
    ).first()
    with transaction.atomic():
        try:
            with transaction.atomic():
                WebhookDelivery.objects.create(
                    endpoint=endpoint, event_id=event_id, kind=kind, object_ref=ref[:100]
                )
        except IntegrityError:
            return WebhookOutcome(kind=kind, duplicate=True)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(last_received_at=timezone.now())
        if not process:
            return WebhookOutcome(kind=kind, ignored=ignored or "nothing to sync")
        if integration is None or integration.status != Integration.Status.ACTIVE:
            return WebhookOutcome(kind=kind, ignored="the integration is not active")
        enabled = {
            state.process.key for state in process_states(integration=integration) if state.enabled
        }
        if process not in enabled:
            return WebhookOutcome(kind=kind, ignored=f"{process} is switched off")
        queued = pending_sync_request(
            integration_id=integration.pk, process=process, object_ref=ref, source=SOURCE
        )
        if queued:
            targeted_run_queue(integration_id=integration.pk)
    return WebhookOutcome(kind=kind, queued=queued)


def webhook_deliveries_prune() -> int:
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS)
    deleted, _ = WebhookDelivery.objects.filter(received_at__lt=cutoff).delete()
    return deleted
