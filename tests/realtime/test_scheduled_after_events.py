"""The scheduled run after events: with the event path healthy it finds nothing to do and costs one
list request per process (realtime/services/event_synced.py); whatever an event did not bring is
still read and synced by it — the safety net."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fortnox.sandbox import store
from fortnox.sandbox.models import SandboxEvent
from integrations.models import Heartbeat, SyncRun
from integrations.processes import ARTICLES, SALES_ORDERS
from ongoing.sandbox.models import Article, GoodsOwner, Order
from realtime.models import EventSynced
from realtime.services.fortnox_events import HEARTBEAT
from realtime.services.pending import pending_syncs_run
from tests.ongoing.processes.support import Kind, records, run
from tests.realtime.conftest import consume

pytestmark = pytest.mark.django_db

# suppliers, articles and sales orders list their changes in Fortnox; fulfilment lists in Ongoing.
QUIET = (3, 1)


def after_debounce():
    return timezone.now() + timedelta(seconds=5)


def edit(world, number, fields):
    return lambda: store.order_write(world.company, fields, key=number)


def events_synced(world, actions):
    """The actions' changes through the real consumer and one targeted run."""
    consume(actions=actions)
    return pending_syncs_run(integration_id=world.integration.pk, now=after_debounce())


def lose_events(world):
    """What the event stream announced and the consumer never got."""
    SandboxEvent.objects.filter(company=world.company).delete()


def wms_order(world, number):
    return Order.objects.get(goods_owner=world.goods_owner, order_number=number)


def test_a_scheduled_run_after_event_synced_orders_reads_none_of_them(small_world):
    world = small_world
    run(world)
    world.catch_up()
    targeted = events_synced(
        world, [edit(world, number, {"Remarks": f"Ändrad {number}"}) for number in world.orders]
    )
    assert targeted.trigger == SyncRun.Trigger.EVENT
    assert targeted.counts[SALES_ORDERS]["updated"] == len(world.orders)
    assert EventSynced.objects.filter(process=SALES_ORDERS).count() == len(world.orders)

    scheduled = run(world)

    assert scheduled.trigger == SyncRun.Trigger.BEAT
    assert scheduled.status == SyncRun.Status.SUCCEEDED
    assert (scheduled.fortnox_requests, scheduled.ongoing_requests) == QUIET
    assert scheduled.counts[SALES_ORDERS] == {
        "created": 0,
        "updated": 0,
        "skipped": len(world.orders),
        "failed": 0,
    }


def test_a_change_whose_event_was_lost_is_synced_by_the_next_scheduled_run(small_world):
    world = small_world
    run(world)
    world.catch_up()
    synced, changed_again, never_announced = world.orders[:3]
    events_synced(
        world,
        [
            edit(world, synced, {"Remarks": "Via händelse"}),
            edit(world, changed_again, {"Remarks": "Via händelse"}),
        ],
    )
    # Changed after their targeted run, and the events telling so are lost: one order that was
    # event-synced (its new delivery date shows in the list), one that no event ever named.
    store.order_write(world.company, {"DeliveryDate": "2027-01-15"}, key=changed_again)
    store.order_write(world.company, {"Remarks": "Ingen händelse"}, key=never_announced)
    lose_events(world)

    scheduled = run(world)

    assert scheduled.counts[SALES_ORDERS]["updated"] == 2
    assert scheduled.counts[SALES_ORDERS]["skipped"] == 1  # the one the event path brought
    assert wms_order(world, changed_again).data["deliveryDate"].startswith("2027-01-15")
    assert wms_order(world, never_announced).data["orderRemark"] == "Ingen händelse"
    assert wms_order(world, synced).data["orderRemark"] == "Via händelse"
    # The record the run did not trust is gone: the next event makes a new one.
    assert set(EventSynced.objects.values_list("object_ref", flat=True)) == {synced}


def test_with_the_consumer_down_every_listed_order_is_read_again(small_world):
    world = small_world
    run(world)
    world.catch_up()
    events_synced(
        world, [edit(world, number, {"Remarks": f"Ändrad {number}"}) for number in world.orders]
    )
    Heartbeat.objects.filter(name=HEARTBEAT).update(beat_at=timezone.now() - timedelta(minutes=5))

    scheduled = run(world)

    # The orders and their customers are read again (and skipped by their fingerprints).
    assert scheduled.fortnox_requests > QUIET[0] + len(world.orders)
    assert scheduled.counts[SALES_ORDERS]["skipped"] == len(world.orders)
    assert not EventSynced.objects.exists()


def test_a_scheduled_run_after_article_and_supplier_events_reads_nothing_again(small_world):
    world = small_world
    run(world)
    world.catch_up()
    articles = records(world, Kind.ARTICLE)
    article, supplied = sorted(
        (number for number, data in articles.items() if data.get("StockGoods")), key=str
    )[:2]
    supplier = str(articles[supplied].get("SupplierNumber") or "")
    assert supplier, "the demo articles carry a supplier"

    targeted = events_synced(
        world,
        [
            lambda: store.article_write(
                world.company, {"Description": "Ny benämning"}, key=article
            ),
            lambda: store.supplier_write(world.company, {"Name": "Nytt Namn AB"}, key=supplier),
        ],
    )
    assert targeted.counts[ARTICLES]["updated"] >= 2
    assert (
        Article.objects.get(goods_owner=world.goods_owner, article_number=article).data[
            "articleName"
        ]
        == "Ny benämning"
    )

    scheduled = run(world)

    assert scheduled.status == SyncRun.Status.SUCCEEDED
    assert (scheduled.fortnox_requests, scheduled.ongoing_requests) == QUIET


def test_an_order_whose_targeted_sync_failed_is_read_by_the_scheduled_run(small_world):
    world = small_world
    run(world)
    world.catch_up()
    number = world.orders[0]
    events_synced(world, [edit(world, number, {"Remarks": "Första"})])
    assert EventSynced.objects.filter(object_ref=number).exists()

    # The warehouse fails the next change's upsert: the targeted run records the failure and
    # forgets that the event path had this order.
    GoodsOwner.objects.filter(pk=world.goods_owner.pk).update(error_rate=1.0)
    failed = events_synced(world, [edit(world, number, {"Remarks": "Andra"})])
    assert failed.counts[SALES_ORDERS]["failed"] == 1
    assert not EventSynced.objects.exists()
    GoodsOwner.objects.filter(pk=world.goods_owner.pk).update(error_rate=0)

    scheduled = run(world)

    assert scheduled.counts[SALES_ORDERS]["updated"] == 1
    assert wms_order(world, number).data["orderRemark"] == "Andra"


def test_records_older_than_any_pull_window_are_pruned_by_the_sweep(small_world):
    from realtime.tasks import pending_syncs_sweep

    now = timezone.now()
    for ref, age in (("1", timedelta(days=3)), ("2", timedelta(hours=20))):
        EventSynced.objects.create(
            integration=small_world.integration,
            process=SALES_ORDERS,
            object_ref=ref,
            listed="",
            synced_at=now - age,
        )

    pending_syncs_sweep.apply().get()

    assert list(EventSynced.objects.values_list("object_ref", flat=True)) == ["2"]


def test_a_list_entry_and_the_full_object_give_one_fingerprint():
    from realtime.services.event_synced import ARTICLE_LIST_FIELDS, listed_fingerprint

    full = {"ArticleNumber": "1100", "PurchasePrice": 12.5, "QuantityInStock": 10, "Note": "x"}
    listed = {"@url": "…", "ArticleNumber": "1100", "PurchasePrice": "12.50"}
    listed["QuantityInStock"] = "10.0"
    assert listed_fingerprint(full, ARTICLE_LIST_FIELDS) == listed_fingerprint(
        listed, ARTICLE_LIST_FIELDS
    )
    listed["QuantityInStock"] = "9"
    assert listed_fingerprint(full, ARTICLE_LIST_FIELDS) != listed_fingerprint(
        listed, ARTICLE_LIST_FIELDS
    )
    # An exponent is compared as written, never expanded.
    assert listed_fingerprint({"EAN": "1e100000000"}, ARTICLE_LIST_FIELDS)
