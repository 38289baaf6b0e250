"""The UNVERIFIED webhook on a purchase order's close (ongoing/sandbox/webhooks.py,
WEBHOOK_ON_PURCHASE_ORDER_CLOSE) either way: with it, the close completes the Fortnox purchase order
by a targeted run; without it, the next scheduled run does."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.models import SyncRun
from ongoing.models import OngoingConnection
from ongoing.sandbox import services as warehouse
from ongoing.sandbox import webhooks as sandbox_webhooks
from ongoing.sandbox.models import PurchaseOrderStatus
from ongoing.sandbox.webhooks import webhooks_deliver_due
from realtime.models import PendingSync
from realtime.services.pending import pending_syncs_run
from realtime.services.webhooks import webhook_endpoint_for, webhook_url
from tests.ongoing.processes.support import Kind, records, run
from tests.ongoing.processes.test_to_fortnox import (  # noqa: F401 - the fixture
    fortnox_po,
    purchasing,
    wms_po,
)
from tests.realtime.conftest import ClientSession

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("webhook_on_close", [True, False], ids=["webhook", "no-webhook"])
def test_a_purchase_order_closed_in_the_warehouse_completes_in_fortnox(
    purchasing,  # noqa: F811
    client,
    monkeypatch,
    webhook_on_close,
):
    monkeypatch.setattr(sandbox_webhooks, "WEBHOOK_ON_PURCHASE_ORDER_CLOSE", webhook_on_close)
    world = purchasing
    number = sorted(records(world, Kind.PURCHASE_ORDER), key=int)[1]
    purchase_order = wms_po(world, number)
    first = purchase_order.lines.order_by("row_number").first()
    warehouse.purchase_order_receive(
        purchase_order=purchase_order, quantities={first.row_number: Decimal(2)}
    )
    run(world)
    world.catch_up()
    assert fortnox_po(world, number)["_state"] == "SENT"
    endpoint = webhook_endpoint_for(connection=OngoingConnection.objects.get(tenant=world.tenant))
    world.goods_owner.webhook_url = webhook_url(endpoint=endpoint)
    world.goods_owner.webhook_token = endpoint.secret
    world.goods_owner.save()

    warehouse.purchase_order_close(
        purchase_order=purchase_order, status=PurchaseOrderStatus.DEFLECTION
    )
    delivered = webhooks_deliver_due(session=ClientSession(client))

    if webhook_on_close:
        assert delivered == 1
        assert PendingSync.objects.count() == 1
        targeted = pending_syncs_run(
            integration_id=world.integration.pk, now=timezone.now() + timedelta(seconds=5)
        )
        assert targeted.trigger == SyncRun.Trigger.EVENT
    else:
        assert delivered == 0
        assert not PendingSync.objects.exists()
        assert run(world).trigger == SyncRun.Trigger.BEAT
    assert fortnox_po(world, number)["_state"] == "RECEIVED"
