"""The scheduler: each minute's tick claims the due integrations and enqueues one sync each."""

import logging
import random
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from integrations.models import Heartbeat, Integration, SyncRun

logger = logging.getLogger(__name__)

TICK = "tick"


@dataclass(frozen=True)
class TickResult:
    claimed: list[int]
    reaped: int


def sync_enqueue(*, integration_ids: list[int], trigger: str) -> None:
    """Queue one sync per integration once the surrounding transaction has committed, so a worker
    never looks for rows it cannot see yet. More than SYNC_FANOUT_BATCH_SIZE at once (a tick with
    thousands due): one fan-out message per batch of ids instead, whose task (on a worker)
    queues the batch's syncs; building a Celery message costs about a third of a millisecond,
    which at 10,000 syncs was most of the tick."""
    from integrations.tasks import integration_sync, integration_syncs_fan_out

    batch = settings.SYNC_FANOUT_BATCH_SIZE

    def send():
        if len(integration_ids) == 1:
            integration_sync.delay(integration_ids[0], trigger)
        elif len(integration_ids) <= batch:
            syncs_publish(integration_ids=integration_ids, trigger=trigger)
        else:
            with _producer_batch() as producer:
                for start in range(0, len(integration_ids), batch):
                    integration_syncs_fan_out.apply_async(
                        (integration_ids[start : start + batch], trigger), producer=producer
                    )

    transaction.on_commit(send)


@contextmanager
def _producer_batch():
    """A producer whose messages go to the broker in pipelined batches instead of one round trip
    each (kombu's Producer.batch; a broker without batches gets them one by one)."""
    from config.celery import app

    with app.producer_or_acquire() as producer, producer.batch():
        yield producer


def syncs_publish(*, integration_ids: list[int], trigger: str) -> None:
    """Send one sync message per integration now (the fan-out task's work)."""
    from integrations.tasks import integration_sync

    with _producer_batch() as producer:
        for integration_id in integration_ids:
            integration_sync.apply_async((integration_id, trigger), producer=producer)


# Rows per UPDATE when the next runs are written back.
NEXT_RUN_BATCH = 5000


def _next_runs_save(integrations: list[Integration]) -> None:
    """Write each claimed integration's own next run. On PostgreSQL one UPDATE joined to a VALUES
    list per batch (a CASE per row, as bulk_update writes it, is many times slower at 10,000
    rows); elsewhere bulk_update."""
    if connection.vendor != "postgresql":
        Integration.objects.bulk_update(integrations, ["next_run_at"], batch_size=1000)
        return
    table = connection.ops.quote_name(Integration._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(integrations), NEXT_RUN_BATCH):
            batch = integrations[start : start + NEXT_RUN_BATCH]
            values = ", ".join(["(%s, %s::timestamptz)"] * len(batch))
            cursor.execute(
                f"UPDATE {table} AS i SET next_run_at = v.next_run_at "  # noqa: S608 - no input
                f"FROM (VALUES {values}) AS v(id, next_run_at) WHERE i.id = v.id",
                [field for item in batch for field in (item.pk, item.next_run_at)],
            )


def integrations_claim_due(*, now=None, batch_size: int | None = None) -> list[int]:
    """Move every due active integration's next run forward and return their ids. Concurrent
    ticks skip each other's locked rows, so each due integration is claimed exactly once."""
    now = now or timezone.now()
    batch_size = batch_size or settings.SYNC_TICK_BATCH_SIZE
    jitter = settings.SYNC_SCHEDULE_JITTER_SECONDS
    with transaction.atomic():
        due = list(
            Integration.objects.select_for_update(skip_locked=True)
            .filter(status=Integration.Status.ACTIVE, next_run_at__lte=now)
            .order_by("next_run_at")
            .only("id", "interval_minutes", "next_run_at")[:batch_size]
        )
        for integration in due:
            integration.next_run_at = now + timedelta(
                minutes=integration.interval_minutes,
                seconds=random.uniform(0, jitter),  # noqa: S311 - load spreading, not security
            )
        _next_runs_save(due)
        claimed = [integration.pk for integration in due]
        sync_enqueue(integration_ids=claimed, trigger=SyncRun.Trigger.BEAT)
    return claimed


def sync_runs_close_abandoned(*, now=None) -> int:
    """Close runs whose worker died (killed, machine lost): no run can still be going once the
    hard time limit has passed, and leaving them 'running' would block the integration forever."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    return SyncRun.objects.filter(status=SyncRun.Status.RUNNING, started_at__lt=cutoff).update(
        status=SyncRun.Status.FAILED,
        finished_at=now,
        error="The run was interrupted (its worker stopped) and was closed by the scheduler.",
    )


def integrations_tick(*, now=None) -> TickResult:
    now = now or timezone.now()
    reaped = sync_runs_close_abandoned(now=now)
    claimed = integrations_claim_due(now=now)
    Heartbeat.objects.update_or_create(
        name=TICK, defaults={"beat_at": now, "details": {"claimed": len(claimed), "reaped": reaped}}
    )
    logger.info(
        "tick: %d due integrations enqueued, %d abandoned runs closed", len(claimed), reaped
    )
    return TickResult(claimed=claimed, reaped=reaped)
