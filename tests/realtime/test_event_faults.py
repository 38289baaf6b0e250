"""Events go wrong in every way the chaos list names — the socket drops, the consumer is killed and
restarts from its offsets, events come twice and out of order, webhooks are lost — and the end
state is still exactly the clean run's: the scheduled run catches what the events missed.

The same scenario runs twice in one test: cleanly inside a savepoint (its end state is read, then
rolled back), then with every fault. `scenario(world, faults)` is the hook the chaos harness
(bench/chaos*.py) can call to drive events the same way."""

from collections import deque
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from fortnox.sandbox import store
from integrations.models import RecordLink, SyncFailure, SyncRun
from ongoing.models import OngoingConnection
from ongoing.sandbox import services as warehouse
from ongoing.sandbox.models import Order
from ongoing.sandbox.webhooks import webhooks_deliver_due
from realtime.models import PendingSync
from realtime.services.fortnox_events import FortnoxEventConsumer
from realtime.services.pending import pending_syncs_run
from realtime.services.webhooks import webhook_endpoint_for, webhook_url
from tests.ongoing.processes.support import Kind, records, run
from tests.realtime.conftest import ClientSession, consume

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class EventFaults:
    duplicate: bool = False
    reorder: bool = False
    drop_socket_after: int | None = None  # events received before the line goes dead
    kill_consumer: bool = False  # a new consumer, from the stored offsets, for the last edit
    lose_webhooks: bool = False


CLEAN = EventFaults()
EVERYTHING = EventFaults(
    duplicate=True, reorder=True, drop_socket_after=1, kill_consumer=True, lose_webhooks=True
)


def _targeted_runs(world) -> list[SyncRun]:
    runs = []
    while PendingSync.objects.exists():
        ran = pending_syncs_run(
            integration_id=world.integration.pk, now=timezone.now() + timedelta(seconds=5)
        )
        assert ran is not None
        runs.append(ran)
    return runs


def scenario(world, client, faults: EventFaults) -> dict:
    """Edits in Fortnox and shipments in the warehouse, carried by events under `faults`, then
    the scheduled run as the safety net; returns the end state."""
    edited, shipped = world.orders[:3], world.orders[2:4]
    endpoint = webhook_endpoint_for(connection=OngoingConnection.objects.get(tenant=world.tenant))
    world.goods_owner.webhook_url = webhook_url(endpoint=endpoint)
    world.goods_owner.webhook_token = endpoint.secret
    world.goods_owner.webhook_loss_rate = 1 if faults.lose_webhooks else 0
    world.goods_owner.save()

    def edit(number, text):
        return lambda: store.order_write(world.company, {"Remarks": text}, key=number)

    def faulty(socket):
        socket.duplicate, socket.reverse = faults.duplicate, faults.reorder
        socket.fail_after = faults.drop_socket_after

    actions = deque(edit(number, f"Ändrad {number}") for number in edited[:2])
    try:
        consume(actions=actions, socket_setup=faulty)
    except ConnectionResetError:
        consume(actions=actions)  # reconnected: resumes from the stored offsets
    if faults.kill_consumer:
        edit(edited[2], "Medan konsumenten låg nere")()
        consume(
            consumer=FortnoxEventConsumer(
                url="ws://x", client_secret="sandbox-secret", recv_timeout=0, reconcile_seconds=0
            )
        )
    else:
        consume(actions=[edit(edited[2], "Medan konsumenten låg nere")])
    _targeted_runs(world)

    for number in shipped:
        warehouse.order_ship(
            order=Order.objects.get(goods_owner=world.goods_owner, order_number=number)
        )
    webhooks_deliver_due(session=ClientSession(client))
    _targeted_runs(world)
    safety_net = run(world)
    return {"state": end_state(world), "safety_net": safety_net.counts}


def end_state(world) -> dict:
    fortnox_orders = records(world, Kind.ORDER)
    invoices = records(world, Kind.INVOICE)
    return {
        "fortnox_orders": {
            number: (
                order.get("Remarks"),
                bool(order.get("InvoiceReference")),
                [row.get("DeliveredQuantity") for row in order.get("OrderRows") or []],
            )
            for number, order in fortnox_orders.items()
        },
        "invoices_per_order": sorted(
            (invoice["OrderReference"], len(invoice["InvoiceRows"]))
            for invoice in invoices.values()
        ),
        "wms_orders": {
            order.order_number: (
                order.status,
                order.data.get("orderRemark"),
                [(line.row_number, line.picked, line.reported) for line in order.lines.all()],
            )
            for order in Order.objects.filter(goods_owner=world.goods_owner).prefetch_related(
                "lines"
            )
        },
        "links": sorted(
            RecordLink.objects.filter(integration=world.integration).values_list(
                "object_type", "fortnox_key", "fingerprint"
            )
        ),
        "open_failures": sorted(
            SyncFailure.objects.filter(resolved_at__isnull=True).values_list(
                "process", "object_type", "object_ref"
            )
        ),
    }


class Rollback(Exception):
    pass


def test_every_event_fault_ends_in_the_clean_runs_state(small_world, client):
    world = small_world
    run(world)
    world.catch_up()

    clean = None
    try:
        with transaction.atomic():
            clean = scenario(world, client, CLEAN)
            raise Rollback
    except Rollback:
        pass
    assert not PendingSync.objects.exists() and SyncRun.objects.count() == 1

    faulty = scenario(world, client, EVERYTHING)

    assert faulty["state"] == clean["state"]
    # What the clean run did by events, the faulty one left partly to the safety net: the two
    # shipments whose webhooks were lost were invoiced by the scheduled run.
    assert clean["safety_net"]["fulfilment"]["updated"] == 0
    assert faulty["safety_net"]["fulfilment"]["updated"] == 2
    shipped = world.orders[2:4]
    assert all(clean["state"]["fortnox_orders"][number][1] for number in shipped)
    assert clean["state"]["open_failures"] == []
