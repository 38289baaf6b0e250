"""The latency benchmark's smoke version (bench/event_latency.py measures the times): a handful of
changes each way through the whole event path — the sandbox's event stream, the real consumer, the
Ongoing webhooks into our receiver, the Celery task each of them queues (run as a worker runs it)
and the processes' targeted bodies — deliver everything with no scheduled run after the first.
Fortnox orders created and confirmed become warehouse orders; the warehouse sends them and Fortnox
invoices them. No clock is read: the debounce is zero and each queued task runs when its
transaction commits."""

import pytest

from config.celery import app
from fortnox.sandbox import store
from integrations.models import RecordLink, SyncRun
from integrations.processes import FULFILMENT, SALES_ORDERS
from ongoing.models import OngoingConnection
from ongoing.sandbox import services as warehouse
from ongoing.sandbox.models import Order
from ongoing.sandbox.webhooks import webhooks_deliver_due
from realtime.models import PendingSync
from realtime.services.webhooks import webhook_endpoint_for, webhook_url
from tests.ongoing.processes.support import Kind, records, run
from tests.realtime.conftest import ClientSession, consume

pytestmark = pytest.mark.django_db

CHANGES = 6


@pytest.fixture
def worker(monkeypatch, settings):
    """Queued tasks run in the test, each when its transaction commits, as a worker would take
    them at once; the debounce window is zero."""
    settings.EVENT_DEBOUNCE_SECONDS = 0
    monkeypatch.setitem(app.conf, "task_always_eager", True)


def totals(trigger, process, outcome) -> int:
    return sum(
        (run.counts.get(process) or {}).get(outcome, 0)
        for run in SyncRun.objects.filter(trigger=trigger)
    )


def test_changes_each_way_are_delivered_by_events_alone(
    small_world, client, worker, django_capture_on_commit_callbacks
):
    world = small_world
    first = run(world)
    assert first.trigger == SyncRun.Trigger.BEAT
    template = records(world, Kind.ORDER)[world.orders[0]]
    rows = [
        {"ArticleNumber": row["ArticleNumber"], "OrderedQuantity": 1}
        for row in template["OrderRows"]
        if row.get("ArticleNumber")
    ]
    created: list[str] = []

    def confirm_new_order():
        order = store.order_write(
            world.company,
            {"CustomerNumber": template["CustomerNumber"], "OrderRows": rows},
        )
        store.order_mark_sent(world.company, order["DocumentNumber"])
        created.append(str(order["DocumentNumber"]))

    # Fortnox → warehouse: orders created and confirmed in Fortnox.
    with django_capture_on_commit_callbacks(execute=True):
        consume(actions=[confirm_new_order] * CHANGES)

    assert len(created) == CHANGES
    in_warehouse = Order.objects.filter(goods_owner=world.goods_owner, order_number__in=created)
    assert in_warehouse.count() == CHANGES
    assert totals(SyncRun.Trigger.EVENT, SALES_ORDERS, "created") == CHANGES
    assert RecordLink.objects.filter(object_type="order", fortnox_key__in=created).count() == (
        CHANGES
    )

    # Warehouse → Fortnox: the warehouse sends those orders; its webhooks reach our receiver.
    endpoint = webhook_endpoint_for(connection=OngoingConnection.objects.get(tenant=world.tenant))
    world.goods_owner.webhook_url = webhook_url(endpoint=endpoint)
    world.goods_owner.webhook_token = endpoint.secret
    world.goods_owner.save()
    session = ClientSession(client)
    for order in in_warehouse:
        warehouse.order_ship(order=order)
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks_deliver_due(session=session) >= CHANGES
    assert {status for _url, status in session.posts} == {200}

    fortnox_orders = records(world, Kind.ORDER)
    invoices = records(world, Kind.INVOICE)
    for number in created:
        assert fortnox_orders[number]["InvoiceReference"] in invoices, number
    assert totals(SyncRun.Trigger.EVENT, FULFILMENT, "updated") == CHANGES

    # Nothing waits, nothing failed, and the only scheduled run is the first.
    assert not PendingSync.objects.exists()
    assert list(SyncRun.objects.exclude(trigger=SyncRun.Trigger.EVENT)) == [first]
    assert not SyncRun.objects.exclude(status=SyncRun.Status.SUCCEEDED).exists()
