"""The targeted runs behind events: one pending row per object (debounce, duplicates), one run for
an integration's due objects, nothing lost when a run is busy or a worker dies."""

from dataclasses import replace
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from integrations.models import Integration, SyncRun
from integrations.processes import FULFILMENT, SALES_ORDERS, registry
from realtime.models import PendingSync
from realtime.services import pending
from tests.factories import IntegrationFactory, SyncRunFactory

pytestmark = pytest.mark.django_db

handled: list[tuple[str, list[str]]] = []


def targeted(context, refs):
    handled.append((context.process.key, list(refs)))
    context.count("updated", len(refs))


@pytest.fixture
def targeted_bodies(monkeypatch):
    """Every process runs the test body above, for full and targeted runs alike."""
    handled.clear()
    processes = {
        key: replace(
            process,
            body="tests.integrations.bodies.succeed",
            targeted="tests.realtime.test_pending.targeted" if process.targeted else None,
        )
        for key, process in registry._processes.items()
    }
    monkeypatch.setattr(registry, "_processes", processes)


@pytest.fixture
def queued(monkeypatch):
    """Targeted runs queued through Celery, as (integration id, countdown). The test's transaction
    never commits, so after-commit callbacks run at once here."""
    cache.clear()
    monkeypatch.setattr(pending.transaction, "on_commit", lambda callback: callback())
    calls = []
    monkeypatch.setattr(
        "realtime.tasks.integration_sync_objects.apply_async",
        lambda args, countdown: calls.append((args[0], round(countdown, 1))),
    )
    return calls


def request(integration, ref, *, process=SALES_ORDERS, at=None):
    return pending.pending_sync_request(
        integration_id=integration.pk, process=process, object_ref=ref, source="test", now=at
    )


def test_a_burst_of_events_for_one_object_is_one_pending_row(settings):
    settings.EVENT_DEBOUNCE_SECONDS = 2
    integration = IntegrationFactory()
    now = timezone.now()

    first = request(integration, "1042", at=now)
    again = [request(integration, "1042", at=now + timedelta(seconds=s)) for s in (0.5, 1, 1.5)]

    row = PendingSync.objects.get()
    assert first is True and again == [False, False, False]
    assert row.events == 4
    # The window is not pushed forward by every event: a steady stream still syncs.
    assert row.due_at == now + timedelta(seconds=2)
    assert row.first_requested_at == now


def test_an_event_for_an_object_already_due_re_arms_it_and_asks_for_a_run(settings):
    settings.EVENT_DEBOUNCE_SECONDS = 2
    integration = IntegrationFactory()
    now = timezone.now()
    request(integration, "1042", at=now)

    later = now + timedelta(seconds=3)
    assert request(integration, "1042", at=later) is True
    assert PendingSync.objects.get().due_at == later + timedelta(seconds=2)


def test_a_targeted_run_syncs_the_due_objects_and_forgets_them(targeted_bodies, queued):
    integration = IntegrationFactory()
    past = timezone.now() - timedelta(seconds=10)
    request(integration, "1042", at=past)
    request(integration, "1043", at=past)
    request(integration, "9001", process=FULFILMENT, at=past)
    request(integration, "1044")  # still inside its debounce window

    run = pending.pending_syncs_run(integration_id=integration.pk)

    assert run.trigger == SyncRun.Trigger.EVENT
    assert run.status == SyncRun.Status.SUCCEEDED
    assert sorted(handled) == [(FULFILMENT, ["9001"]), (SALES_ORDERS, ["1042", "1043"])]
    assert run.counts == {
        SALES_ORDERS: {"created": 0, "updated": 2, "skipped": 0, "failed": 0},
        FULFILMENT: {"created": 0, "updated": 1, "skipped": 0, "failed": 0},
    }
    assert list(PendingSync.objects.values_list("object_ref", flat=True)) == ["1044"]
    # A follow-up for the row still waiting, at the end of its window.
    assert len(queued) == 1 and queued[0][0] == integration.pk and 0 < queued[0][1] <= 2.1


def test_nothing_due_means_no_run(targeted_bodies, queued):
    integration = IntegrationFactory()

    assert pending.pending_syncs_run(integration_id=integration.pk) is None
    assert not SyncRun.objects.exists()
    assert queued == []


def test_a_busy_integration_keeps_its_objects_and_tries_again_shortly(targeted_bodies, queued):
    integration = IntegrationFactory()
    SyncRunFactory(integration=integration, status=SyncRun.Status.RUNNING)
    request(integration, "1042", at=timezone.now() - timedelta(seconds=10))

    assert pending.pending_syncs_run(integration_id=integration.pk) is None
    assert pending.pending_syncs_run(integration_id=integration.pk) is None

    assert PendingSync.objects.get().object_ref == "1042"
    # One retry queued, not one per attempt.
    assert queued == [(integration.pk, pending.BUSY_RETRY_SECONDS)]
    assert handled == []


def test_an_event_during_the_run_keeps_its_object_for_the_next_run(
    targeted_bodies, queued, monkeypatch
):
    integration = IntegrationFactory()
    request(integration, "1042", at=timezone.now() - timedelta(seconds=10))

    def targeted_while_edited(context, refs):
        handled.append((context.process.key, list(refs)))
        request(integration, "1042")  # the order changes again while we sync it

    monkeypatch.setattr("tests.realtime.test_pending.targeted", targeted_while_edited)

    pending.pending_syncs_run(integration_id=integration.pk)

    row = PendingSync.objects.get()
    assert row.events == 2
    assert row.due_at > timezone.now()


def test_a_crashed_run_leaves_its_objects_for_the_sweep(targeted_bodies, queued, monkeypatch):
    integration = IntegrationFactory()
    request(integration, "1042", at=timezone.now() - timedelta(minutes=2))

    def killed(**kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(pending, "integration_sync", killed)
    with pytest.raises(SystemExit):
        pending.pending_syncs_run(integration_id=integration.pk)

    assert PendingSync.objects.count() == 1
    assert pending.pending_syncs_sweep() == [integration.pk]
    assert queued == [(integration.pk, 0)]


def test_a_paused_integration_drops_its_pending_objects(targeted_bodies, queued):
    integration = IntegrationFactory(status=Integration.Status.PAUSED)
    request(integration, "1042", at=timezone.now() - timedelta(seconds=10))

    assert pending.pending_syncs_run(integration_id=integration.pk) is None
    assert not PendingSync.objects.exists()


def test_a_switched_off_process_is_not_run_by_its_events(targeted_bodies, queued):
    integration = IntegrationFactory()
    integration.process_settings.update_or_create(process=SALES_ORDERS, defaults={"enabled": False})
    request(integration, "1042", at=timezone.now() - timedelta(seconds=10))
    request(integration, "9001", process=FULFILMENT, at=timezone.now() - timedelta(seconds=10))

    run = pending.pending_syncs_run(integration_id=integration.pk)

    assert handled == [(FULFILMENT, ["9001"])]
    assert list(run.counts) == [FULFILMENT]
    assert not PendingSync.objects.exists()


def test_the_sweep_leaves_rows_that_are_only_just_due(queued):
    integration = IntegrationFactory()
    request(integration, "1042", at=timezone.now() - timedelta(seconds=5))

    assert pending.pending_syncs_sweep() == []
    assert queued == []
