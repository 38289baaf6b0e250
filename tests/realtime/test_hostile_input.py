"""The two push channels fed the hostile corpus (tests/hostile.py) and junk of their own: Ongoing's
webhook (authenticated, so only Ongoing or whoever holds the secret can send it — still a remote
system) answers 200 or a 4xx, never a server error, and records nothing it refused; the Fortnox
event consumer takes or skips each frame without crashing, and what it stores fits its columns."""

import json

import pytest

from fortnox.sandbox.models import SandboxCompany  # noqa: F401 - the app's models are loaded
from integrations.processes import ARTICLES, SALES_ORDERS, SUPPLIERS
from realtime.models import FortnoxEventOffset, PendingSync, WebhookDelivery
from realtime.services.fortnox_events import FortnoxEventConsumer, Subscriber
from tests.factories import IntegrationFactory
from tests.hostile import CORPUS
from tests.realtime.test_webhooks import endpoint, order_webhook, post  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db

# Webhook bodies with the right shape and hostile values: ids that are not ids, NUL, huge texts.
WEBHOOK_JUNK = {
    "order id a long text": order_webhook(order_id="9" * 5000),
    "order id with NUL": order_webhook(order_id="5001\u0000"),
    "order id an object": order_webhook(order_id={"id": 5001}),
    "order id negative": order_webhook(order_id=-3),
    "event id with NUL": order_webhook(event_id="e\u00001"),
    "event id a long text": order_webhook(event_id="e" * 5000),
    "purchase order id a long text": {
        "webhookEventId": "e-9", "goodsOwnerId": 77,
        "purchaseOrder": {"purchaseOrderId": "7" * 500},
    },
    "goods owner a list": order_webhook(goods_owner_id=[77]),
    "nested under the cap": None,  # made below
}  # fmt: skip
NESTED = b'{"webhookEventId": "e-1", "orderId": ' + b"[" * 3000 + b"]" * 3000 + b"}"


def bodies() -> dict[str, bytes]:
    found = {f"corpus {name}": answer.body for name, answer in CORPUS.items() if answer.body}
    found |= {
        f"junk {name}": json.dumps(body).encode()
        for name, body in WEBHOOK_JUNK.items()
        if body is not None
    }
    found["junk nested under the cap"] = NESTED
    return found


@pytest.mark.parametrize("name", list(bodies()))
def test_a_hostile_webhook_is_answered_without_a_server_error(client, endpoint, name):  # noqa: F811
    response = post(client, endpoint, None, raw=bodies()[name])

    assert response.status_code in (200, 400, 413), (name, response.status_code)
    assert set(response.json()) & {"received", "error"}
    if response.status_code != 200:
        assert not WebhookDelivery.objects.exists()
    for delivery in WebhookDelivery.objects.all():
        assert "\x00" not in delivery.event_id + delivery.object_ref
    for pending in PendingSync.objects.all():
        assert pending.object_ref.isdigit() and len(pending.object_ref) <= 18, pending.object_ref


# --- the Fortnox event stream -------------------------------------------------------------------

EVENT_JUNK = [
    {"topic": "orders", "offset": "1", "tenantId": 42, "type": "order-updated-v1",
     "entityId": "1" * 5000},
    {"topic": "orders", "offset": "2", "tenantId": 42, "type": "order-updated-v1",
     "entityId": "10\u000042"},
    {"topic": "articles", "offset": "3", "tenantId": 42, "type": "article-updated-v1",
     "entityId": {"id": "A1"}},
    {"topic": "suppliers", "offset": "4\u0000", "tenantId": 42, "type": "supplier-updated-v1",
     "entityId": "7"},
    {"topic": "orders", "offset": "5" * 500, "tenantId": 42, "type": "order-updated-v1",
     "entityId": "1042"},
    {"topic": ["orders"], "offset": "6", "tenantId": 42, "entityId": "1042"},
    {"topic": "orders", "offset": None, "tenantId": 42, "entityId": "1042"},
    {"topic": "orders", "offset": "8", "tenantId": "x", "entityId": "1042"},
    {"topic": "orders", "offset": "9", "tenantId": 42, "type": None, "entityId": "1042",
     "timestamp": "inte en tid"},
]  # fmt: skip


@pytest.fixture
def consumer():
    integration = IntegrationFactory()
    consumer = FortnoxEventConsumer(url="ws://x", client_secret="s", connect=lambda url: None)
    consumer.subscribers = {
        42: Subscriber(
            fortnox_tenant_id=42,
            integration_id=integration.pk,
            connection_id=1,
            processes=frozenset({SALES_ORDERS, ARTICLES, SUPPLIERS}),
        )
    }
    return consumer


def frames() -> dict[str, bytes | str]:
    found = {f"corpus {name}": answer.body for name, answer in CORPUS.items() if answer.body}
    found |= {f"junk {n}": json.dumps(event) for n, event in enumerate(EVENT_JUNK)}
    return found


@pytest.mark.parametrize("name", list(frames()))
def test_a_hostile_event_frame_is_taken_or_skipped_without_crashing_the_consumer(consumer, name):
    raw = frames()[name]

    consumer.message(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw)

    for pending in PendingSync.objects.all():
        assert pending.object_ref.isprintable() and len(pending.object_ref) <= 100
    for offset in FortnoxEventOffset.objects.all():
        assert offset.offset.isprintable() and len(offset.offset) <= 100
