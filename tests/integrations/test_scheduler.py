import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from django.utils import timezone

from integrations.models import Heartbeat, Integration, SyncRun
from integrations.services import scheduler
from integrations.tasks import integration_sync
from tests.concurrency import run_concurrently
from tests.factories import IntegrationFactory, SyncRunFactory


@pytest.fixture
def sent():
    """Catches the syncs sent to the broker, one at a time (delay) or in a batch alike; no
    broker connection is made."""
    with (
        mock.patch("integrations.tasks.integration_sync.apply_async") as apply_async,
        mock.patch.object(integration_sync.app, "producer_or_acquire"),
    ):
        yield apply_async


def sent_syncs(sent) -> list[tuple]:
    """(integration id, trigger) of each sync sent."""
    return [tuple(call.args[0]) for call in sent.call_args_list]


@pytest.mark.django_db
def test_tick_claims_only_due_active_integrations_and_enqueues_after_commit(
    sent, django_capture_on_commit_callbacks
):
    now = timezone.now()
    due = IntegrationFactory(next_run_at=now - timedelta(minutes=1), interval_minutes=15)
    IntegrationFactory(next_run_at=now + timedelta(minutes=1))
    IntegrationFactory(status=Integration.Status.PAUSED, next_run_at=now - timedelta(hours=1))
    IntegrationFactory(status=Integration.Status.SETUP, next_run_at=None)
    IntegrationFactory(
        status=Integration.Status.NEEDS_REACTIVATION, next_run_at=now - timedelta(hours=1)
    )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = scheduler.integrations_tick(now=now)
        sent.assert_not_called()

    assert result.claimed == [due.pk]
    assert len(callbacks) == 1
    assert sent_syncs(sent) == [(due.pk, SyncRun.Trigger.BEAT)]
    due.refresh_from_db()
    assert now + timedelta(minutes=15) <= due.next_run_at <= now + timedelta(minutes=15, seconds=30)


@pytest.mark.django_db
def test_claimed_integration_is_not_due_again_until_its_interval_passed(sent):
    now = timezone.now()
    IntegrationFactory(next_run_at=now, interval_minutes=5)

    assert len(scheduler.integrations_claim_due(now=now)) == 1
    assert scheduler.integrations_claim_due(now=now + timedelta(minutes=4)) == []
    assert len(scheduler.integrations_claim_due(now=now + timedelta(minutes=6))) == 1


@pytest.mark.django_db
def test_jitter_spreads_integrations_activated_together(sent):
    now = timezone.now()
    IntegrationFactory.create_batch(20, next_run_at=now)

    scheduler.integrations_claim_due(now=now)

    next_runs = set(Integration.objects.values_list("next_run_at", flat=True))
    assert len(next_runs) > 10


@pytest.mark.django_db
def test_tick_records_heartbeat_and_logs(sent, caplog):
    now = timezone.now()
    IntegrationFactory.create_batch(3, next_run_at=now)

    with caplog.at_level("INFO", logger="integrations.services.scheduler"):
        scheduler.integrations_tick(now=now)

    beat = Heartbeat.objects.get(name=scheduler.TICK)
    assert beat.beat_at == now
    assert beat.details == {"claimed": 3, "reaped": 0}
    assert "tick: 3 due integrations enqueued" in caplog.text


@pytest.mark.django_db
def test_tick_closes_runs_abandoned_by_a_dead_worker(sent, settings):
    now = timezone.now()
    stale = SyncRunFactory(status=SyncRun.Status.RUNNING)
    SyncRun.objects.filter(pk=stale.pk).update(
        started_at=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 61)
    )
    recent = SyncRunFactory(status=SyncRun.Status.RUNNING)

    result = scheduler.integrations_tick(now=now)

    assert result.reaped == 1
    stale.refresh_from_db()
    recent.refresh_from_db()
    assert stale.status == SyncRun.Status.FAILED
    assert "interrupted" in stale.error
    assert recent.status == SyncRun.Status.RUNNING


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_tick_skips_integrations_another_tick_holds(sent):
    now = timezone.now()
    held = IntegrationFactory.create_batch(3, next_run_at=now)
    free = IntegrationFactory.create_batch(2, next_run_at=now)
    locked = threading.Event()
    release = threading.Event()

    def hold_rows():
        try:
            with transaction.atomic():
                list(Integration.objects.select_for_update().filter(pk__in=[i.pk for i in held]))
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_rows)
    holder.start()
    locked.wait(10)
    try:
        claimed = scheduler.integrations_claim_due(now=now)
    finally:
        release.set()
        holder.join()

    assert sorted(claimed) == sorted(i.pk for i in free)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_racing_ticks_claim_each_due_integration_exactly_once(sent, attempt):
    now = timezone.now()
    integrations = IntegrationFactory.create_batch(200, next_run_at=now)
    claims = run_concurrently(2, lambda: scheduler.integrations_claim_due(now=now))

    first, second = claims
    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(i.pk for i in integrations)
    enqueued = [integration_id for integration_id, _trigger in sent_syncs(sent)]
    assert sorted(enqueued) == sorted(i.pk for i in integrations)


@pytest.mark.django_db
def test_a_tick_sends_every_claimed_sync_to_the_broker_once(django_capture_on_commit_callbacks):
    """Many due integrations go to the broker in one batch of messages (one round trip per batch
    instead of per sync); each is a normal integration_sync message."""
    now = timezone.now()
    due = IntegrationFactory.create_batch(5, next_run_at=now - timedelta(minutes=1))
    published = []

    def publish(self, body, **kwargs):
        published.append(body)

    with (
        mock.patch("kombu.Producer.publish", publish),
        django_capture_on_commit_callbacks(execute=True),
    ):
        scheduler.integrations_tick(now=now)

    assert sorted(args[0] for args, _kwargs, _embed in published) == sorted(i.pk for i in due)
    assert {args[1] for args, _kwargs, _embed in published} == {SyncRun.Trigger.BEAT}
