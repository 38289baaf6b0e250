"""The normal path, end to end and browser-free: an order edited in the Fortnox sandbox reaches the
warehouse sandbox through its event, and an order the warehouse sends is invoiced in Fortnox
through its webhook — each by a targeted run, with no scheduled run in between."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fortnox.sandbox import store
from integrations.models import SyncRun
from integrations.processes import FULFILMENT, SALES_ORDERS
from ongoing.models import OngoingConnection
from ongoing.sandbox import services as warehouse
from ongoing.sandbox.models import Order
from ongoing.sandbox.webhooks import webhooks_deliver_due
from realtime.models import FortnoxEventOffset, PendingSync
from realtime.services.pending import pending_syncs_run
from realtime.services.webhooks import webhook_endpoint_for, webhook_url
from tests.ongoing.processes.support import Kind, records, run
from tests.realtime.conftest import ClientSession, consume

pytestmark = pytest.mark.django_db


def after_debounce():
    return timezone.now() + timedelta(seconds=5)


def test_an_order_edited_in_fortnox_reaches_the_warehouse_through_its_event(small_world):
    world = small_world
    first = run(world)
    number = world.orders[0]

    consumer, _socket = consume(
        actions=[
            lambda: store.order_write(world.company, {"Remarks": "Ring före leverans"}, key=number)
        ]
    )

    pending = PendingSync.objects.get()
    assert (pending.process, pending.object_ref) == (SALES_ORDERS, number)
    assert pending.source == "fortnox"
    assert FortnoxEventOffset.objects.get(topic="orders").offset
    assert consumer.state.events == 1
    targeted = pending_syncs_run(integration_id=world.integration.pk, now=after_debounce())

    assert targeted.trigger == SyncRun.Trigger.EVENT
    assert targeted.status == SyncRun.Status.SUCCEEDED
    assert list(targeted.counts) == [SALES_ORDERS]
    assert targeted.counts[SALES_ORDERS]["updated"] == 1
    order = Order.objects.get(goods_owner=world.goods_owner, order_number=number)
    assert order.data["orderRemark"] == "Ring före leverans"
    assert list(SyncRun.objects.order_by("id")) == [first, targeted]
    assert not PendingSync.objects.exists()
    # The one order and its customer are read, and one upsert sent: no list, no page.
    assert targeted.fortnox_requests == 2
    assert targeted.ongoing_requests == 1


def test_an_order_sent_by_the_warehouse_is_invoiced_through_its_webhook(small_world, client):
    world = small_world
    run(world)
    number = world.orders[0]
    endpoint = webhook_endpoint_for(connection=OngoingConnection.objects.get(tenant=world.tenant))
    world.goods_owner.webhook_url = webhook_url(endpoint=endpoint)
    world.goods_owner.webhook_token = endpoint.secret
    world.goods_owner.save()
    order = Order.objects.get(goods_owner=world.goods_owner, order_number=number)

    warehouse.order_ship(order=order)
    session = ClientSession(client)
    assert webhooks_deliver_due(session=session) == 3
    assert [status for _url, status in session.posts] == [200, 200, 200]

    pending = PendingSync.objects.get()
    assert (pending.process, pending.object_ref, pending.events) == (FULFILMENT, str(order.pk), 3)
    targeted = pending_syncs_run(integration_id=world.integration.pk, now=after_debounce())

    assert targeted.trigger == SyncRun.Trigger.EVENT
    assert targeted.counts[FULFILMENT]["updated"] == 1
    fortnox_order = records(world, Kind.ORDER)[number]
    assert fortnox_order["InvoiceReference"]
    assert fortnox_order["InvoiceReference"] in records(world, Kind.INVOICE)
    assert SyncRun.objects.filter(trigger=SyncRun.Trigger.BEAT).count() == 1
