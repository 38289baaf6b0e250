"""The emulated warehouse's webhooks: owed in the same transaction as the change, posted with the
goods owner's X-Auth-Token, retried on Ongoing's schedule (1, 5, 15, 30 min, then every 2 h for a
day), and lost on purpose when the chaos tests ask."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
import requests
from django.utils import timezone

from ongoing.sandbox import services as warehouse
from ongoing.sandbox.models import Webhook
from ongoing.sandbox.webhooks import next_attempt, webhooks_deliver_due
from tests.ongoing.sandbox.helpers import advise_purchase_order, place_order, stock_article

pytestmark = pytest.mark.django_db


class Receiver:
    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.posts = []

    def post(self, url, *, json, headers, timeout, allow_redirects):
        self.posts.append((url, json, headers))
        status = self.statuses.pop(0)
        if isinstance(status, Exception):
            raise status
        return SimpleNamespace(status_code=status)


@pytest.fixture
def goods_owner(sandbox):
    return sandbox.goods_owner


@pytest.fixture
def order(goods_owner):
    stock_article(goods_owner, "A1", 10)
    return place_order(goods_owner, "1001", [("1", "A1", 3)])


@pytest.fixture
def purchase_order(goods_owner):
    stock_article(goods_owner, "A1")
    stock_article(goods_owner, "A2")
    return advise_purchase_order(goods_owner, "PO7", [("1", "A1", 5), ("2", "A2", 2)])


@pytest.fixture
def owner(goods_owner):
    goods_owner.webhook_url = "https://integration.example.com/hooks/ongoing/abc/"
    goods_owner.webhook_token = "s3cret"
    goods_owner.save()
    return goods_owner


def test_a_status_change_owes_one_webhook_with_the_order(owner, order):
    warehouse.order_start_picking(order=order)

    webhook = Webhook.objects.get()
    assert webhook.kind == "order"
    assert webhook.body["orderId"] == order.pk
    assert webhook.body["orderNumber"] == order.order_number
    assert webhook.body["orderStatus"] == {"number": 300}
    assert webhook.body["goodsOwnerId"] == owner.pk
    assert webhook.next_attempt_at is not None


def test_no_webhook_without_an_address(goods_owner, order):
    warehouse.order_start_picking(order=order)

    assert not Webhook.objects.exists()


def test_delivery_posts_with_the_token_and_stops_at_a_2xx(owner, order):
    warehouse.order_start_picking(order=order)
    receiver = Receiver([200])

    assert webhooks_deliver_due(session=receiver) == 1

    url, body, headers = receiver.posts[0]
    assert url == owner.webhook_url and headers == {"X-Auth-Token": "s3cret"}
    assert body["webhookEventId"] == Webhook.objects.get().event_id
    assert webhooks_deliver_due(session=receiver) == 0
    assert Webhook.objects.get().delivered_at is not None


def test_failed_deliveries_are_retried_on_ongoings_schedule(owner, order):
    warehouse.order_start_picking(order=order)
    webhook = Webhook.objects.get()
    receiver = Receiver([500, requests.ConnectionError("down"), 503])

    webhooks_deliver_due(session=receiver)
    webhook.refresh_from_db()
    assert webhook.attempts == 1 and webhook.last_status == "500"
    first_retry = webhook.next_attempt_at - timezone.now()
    assert timedelta(seconds=55) < first_retry <= timedelta(minutes=1)
    assert webhooks_deliver_due(session=receiver) == 0  # not due yet
    webhooks_deliver_due(session=receiver, now=webhook.next_attempt_at)
    webhook.refresh_from_db()
    assert webhook.last_status == "ConnectionError"

    delays = []
    for attempts in range(1, 20):
        webhook.attempts = attempts
        at = next_attempt(webhook, webhook.created_at)
        delays.append(at - webhook.created_at if at else None)
    assert delays[:5] == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(hours=2),
    ]
    late = webhook.created_at + timedelta(hours=23)
    assert next_attempt(webhook, late) is None  # two more hours would pass the day


def test_a_lost_webhook_is_never_delivered(owner, order):
    owner.webhook_loss_rate = 1
    owner.save()

    warehouse.order_start_picking(order=order)

    webhook = Webhook.objects.get()
    assert webhook.next_attempt_at is None
    assert webhooks_deliver_due(session=Receiver([])) == 0


def test_receiving_goods_owes_an_inbound_webhook_per_line(owner, purchase_order):
    warehouse.purchase_order_receive(purchase_order=purchase_order)

    bodies = [webhook.body for webhook in Webhook.objects.filter(kind="inbound")]
    assert len(bodies) == purchase_order.lines.count()
    assert {body["purchaseOrder"]["purchaseOrderId"] for body in bodies} == {purchase_order.pk}


def test_a_person_sets_the_webhook_on_the_operator_page(client, goods_owner):
    url = f"/sandbox/ongoing/demolager/operator/goods-owners/{goods_owner.pk}/webhook/"

    response = client.post(
        url,
        {"webhook_url": "http://localhost:8000/hooks/ongoing/abc/", "webhook_token": "s3cret"},
        follow=True,
    )

    goods_owner.refresh_from_db()
    assert "The webhook settings were saved." in response.content.decode()
    assert goods_owner.webhook_url == "http://localhost:8000/hooks/ongoing/abc/"
    assert goods_owner.webhook_token == "s3cret"
    assert 'value="s3cret"' in client.get("/sandbox/ongoing/demolager/").content.decode()


def test_a_script_sets_the_webhook_with_the_command(goods_owner):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(
        "sandbox_warehouse", "webhook", "https://x.example/hooks/ongoing/t/", "k", stdout=out
    )

    goods_owner.refresh_from_db()
    assert (goods_owner.webhook_url, goods_owner.webhook_token) == (
        "https://x.example/hooks/ongoing/t/",
        "k",
    )
    assert "https://x.example/hooks/ongoing/t/" in out.getvalue()
