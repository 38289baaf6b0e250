"""POST /hooks/ongoing/<token>/: authenticated by the company's secret, idempotent by
webhookEventId, answered at once (the sync runs later), and refusing anything else having
recorded nothing."""

import json
import time

import pytest
from django.test import override_settings

from integrations.models import Integration, ProcessSetting
from integrations.processes import FULFILMENT, PURCHASE_ORDERS
from ongoing.models import OngoingConnection
from realtime.models import PendingSync, WebhookDelivery
from realtime.services.webhooks import webhook_endpoint_for, webhook_endpoint_renew, webhook_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(member):
    from django.utils import timezone

    connection = OngoingConnection.objects.create(
        tenant=member.tenant,
        system="https://demo.ongoingsystems.se/demo/",
        warehouse="demo",
        api_base_url="https://api.ongoingsystems.se/demo/api/v1/",
        goods_owner_id=77,
        username="WSIDemo",
        password="pw",
        verified_at=timezone.now(),
    )
    Integration.objects.filter(tenant=member.tenant).update(status=Integration.Status.ACTIVE)
    return webhook_endpoint_for(connection=connection)


def order_webhook(event_id="e-1", order_id=5001, goods_owner_id=77, **extra):
    return {
        "webhookOrdersId": 1,
        "webhookEventId": event_id,
        "system": "demo",
        "timestamp": "2026-11-23T10:00:00Z",
        "orderId": order_id,
        "orderNumber": "1042",
        "goodsOwnerId": goods_owner_id,
        "orderStatus": {"number": 450},
        "tracking": [],
        "parcels": [],
        "path": f"orders/{order_id}",
        **extra,
    }


def post(client, endpoint, body, *, secret=None, token=None, raw=None):
    return client.post(
        f"/hooks/ongoing/{token or endpoint.token}/",
        data=raw if raw is not None else json.dumps(body),
        content_type="application/json",
        headers={"X-Auth-Token": endpoint.secret if secret is None else secret},
    )


def test_an_order_webhook_queues_a_targeted_fulfilment_sync(
    client, endpoint, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(
        "realtime.tasks.integration_sync_objects.apply_async",
        lambda args, countdown: queued.append((args, countdown)),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, endpoint, order_webhook())

    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False, "queued": True}
    pending = PendingSync.objects.get()
    assert (pending.process, pending.object_ref, pending.source) == (FULFILMENT, "5001", "ongoing")
    integration = Integration.objects.get(tenant=endpoint.connection.tenant)
    assert queued == [((integration.pk,), 2.0)]
    assert WebhookDelivery.objects.get().event_id == "e-1"
    endpoint.refresh_from_db()
    assert endpoint.last_received_at is not None


def test_an_inbound_transaction_queues_a_purchase_order_receipt_sync(client, endpoint):
    ProcessSetting.objects.filter(process=PURCHASE_ORDERS).update(enabled=True)
    body = {
        "webhookEventId": "in-1",
        "goodsOwnerId": 77,
        "purchaseOrder": {
            "purchaseOrderId": 246,
            "purchaseOrderNumber": "PO7",
            "purchaseOrderLine": {"id": 1, "rowNumber": "1", "reportedNumberOfItems": None},
        },
    }

    assert post(client, endpoint, body).status_code == 200

    pending = PendingSync.objects.get()
    assert (pending.process, pending.object_ref) == (PURCHASE_ORDERS, "246")


def test_a_redelivered_webhook_is_answered_and_changes_nothing(client, endpoint):
    first = post(client, endpoint, order_webhook())
    again = post(client, endpoint, order_webhook())

    assert first.status_code == again.status_code == 200
    assert again.json()["duplicate"] is True
    assert WebhookDelivery.objects.count() == 1
    assert PendingSync.objects.get().events == 1


def test_two_webhooks_for_one_order_make_one_pending_sync(client, endpoint):
    post(client, endpoint, order_webhook("e-1"))
    post(client, endpoint, order_webhook("e-2"))

    assert WebhookDelivery.objects.count() == 2
    assert PendingSync.objects.get().events == 2


@pytest.mark.parametrize(
    ("token", "secret", "status"),
    [
        ("not-a-token", None, 404),
        ("A" * 43, None, 404),  # the right shape, nobody's
        (None, "wrong-secret", 401),
        (None, "", 401),
    ],
)
def test_a_bad_address_or_secret_is_refused_and_nothing_is_recorded(
    client, endpoint, token, secret, status
):
    response = post(client, endpoint, order_webhook(), token=token, secret=secret)

    assert response.status_code == status
    assert not WebhookDelivery.objects.exists()
    assert not PendingSync.objects.exists()
    endpoint.refresh_from_db()
    assert endpoint.last_received_at is None


def test_a_renewed_endpoint_refuses_the_old_address_and_secret(client, endpoint):
    old_token, old_secret = endpoint.token, endpoint.secret
    webhook_endpoint_renew(endpoint=endpoint)

    assert post(client, endpoint, order_webhook(), token=old_token).status_code == 404
    assert post(client, endpoint, order_webhook(), secret=old_secret).status_code == 401
    assert post(client, endpoint, order_webhook()).status_code == 200


def test_a_disconnected_warehouse_has_no_webhook_address(client, endpoint):
    OngoingConnection.objects.update(status=OngoingConnection.Status.DISCONNECTED)

    assert post(client, endpoint, order_webhook()).status_code == 404


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", json.dumps({"orderId": 5}).encode(), b"\xff\xfe"],
    ids=["not-json", "not-an-object", "no-event-id", "not-utf8"],
)
def test_malformed_bodies_are_refused_cleanly(client, endpoint, raw):
    response = post(client, endpoint, None, raw=raw)

    assert response.status_code == 400
    assert "error" in response.json()
    assert not WebhookDelivery.objects.exists()


@override_settings(WEBHOOK_MAX_BODY_BYTES=1000)
def test_a_body_over_the_cap_is_refused_before_it_is_read(client, endpoint):
    response = post(client, endpoint, order_webhook(padding="x" * 2000))

    assert response.status_code == 413
    assert not WebhookDelivery.objects.exists()


def test_only_get_is_not_allowed(client, endpoint):
    assert client.get(f"/hooks/ongoing/{endpoint.token}/").status_code == 405


def test_webhooks_for_another_goods_owner_or_a_switched_off_process_queue_nothing(client, endpoint):
    other = post(client, endpoint, order_webhook("e-1", goods_owner_id=999))
    ProcessSetting.objects.filter(process=FULFILMENT).update(enabled=False)
    off = post(client, endpoint, order_webhook("e-2"))
    article = post(
        client, endpoint, {"webhookEventId": "a-1", "articleSystemId": 5, "goodsOwnerId": 77}
    )

    assert other.json()["ignored"] == "another goods owner"
    assert off.json()["ignored"] == "fulfilment is switched off"
    assert article.json()["ignored"] == "nothing to sync"
    assert WebhookDelivery.objects.count() == 3
    assert not PendingSync.objects.exists()


def test_a_paused_integration_records_the_webhook_but_queues_nothing(client, endpoint):
    Integration.objects.update(status=Integration.Status.PAUSED)

    response = post(client, endpoint, order_webhook())

    assert response.json()["ignored"] == "the integration is not active"
    assert not PendingSync.objects.exists()


def test_the_answer_is_fast_because_nothing_is_synced_while_ongoing_waits(
    client, endpoint, monkeypatch
):
    def no_sync(**kwargs):
        raise AssertionError("the receiver must not sync")

    monkeypatch.setattr("integrations.services.sync.integration_sync", no_sync)
    monkeypatch.setattr("realtime.services.pending.integration_sync", no_sync)
    timings = []
    for index in range(20):
        started = time.perf_counter()
        assert (
            post(client, endpoint, order_webhook(f"e-{index}", order_id=index)).status_code == 200
        )
        timings.append(time.perf_counter() - started)

    # Ongoing waits a few seconds before it counts a delivery as failed; we answer in milliseconds
    # (the bound is loose for a busy CI machine).
    assert sorted(timings)[len(timings) // 2] < 0.25
    assert PendingSync.objects.count() == 20


def test_the_endpoint_is_made_once_per_connection_with_unguessable_values(endpoint):
    again = webhook_endpoint_for(connection=endpoint.connection)

    assert again.pk == endpoint.pk
    assert len(endpoint.token) >= 40 and len(endpoint.secret) >= 40
    assert endpoint.token != endpoint.secret
    assert (
        webhook_url(endpoint=endpoint) == f"http://localhost:8000/hooks/ongoing/{endpoint.token}/"
    )


def test_the_secret_is_encrypted_at_rest(endpoint):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM realtime_webhookendpoint WHERE id = %s", [endpoint.pk])
        stored = cursor.fetchone()[0]

    assert endpoint.secret not in stored
