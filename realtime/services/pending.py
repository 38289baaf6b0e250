"""Objects an event announced, and the targeted runs that sync them.

An event becomes one PendingSync row per (integration, process, object), due a debounce window
later; more events for the same object inside the window only count on that row. A targeted run
takes every due row of its integration, syncs those objects through the processes' targeted
bodies, then deletes the rows it handled — unless another event re-armed one meanwhile. So a
duplicate costs nothing, a burst costs one sync, and an object is never forgotten: a run that is
busy (the integration's scheduled run holds it), a lost task or a dead worker leaves the row, and
the row is taken again shortly after or by the sweep."""

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.models import Integration, SyncRun
from integrations.services.sync import integration_sync

from ..models import PendingSync

logger = logging.getLogger(__name__)

# While the integration's run is busy, try again this often (a scheduled run with nothing to do
# takes about a second; a first full run over a minute).
BUSY_RETRY_SECONDS = 3
# The sweep queues a run for rows due longer ago than this: their task was lost.
OVERDUE_AFTER = timedelta(seconds=30)


def _debounce() -> timedelta:
    return timedelta(seconds=settings.EVENT_DEBOUNCE_SECONDS)


def pending_sync_request(
    *, integration_id: int, process: str, object_ref: str, source: str, now: datetime | None = None
) -> bool:
    """Record that an object changed. Call inside a transaction (with the offset or delivery it
    answers); returns True when a targeted run must be queued: the row is new, or it was already
    due (a run may be syncing it right now, and must not be the last to see it)."""
    now = now or timezone.now()
    key = {"integration_id": integration_id, "process": process, "object_ref": str(object_ref)}
    row = PendingSync.objects.select_for_update().filter(**key).first()
    if row is None:
        try:
            with transaction.atomic():
                PendingSync.objects.create(
                    **key,
                    due_at=now + _debounce(),
                    requested_at=now,
                    first_requested_at=now,
                    source=source,
                )
            return True
        except IntegrityError:
            # Another process created it between our read and our insert.
            row = PendingSync.objects.select_for_update().get(**key)
    rearm = row.due_at <= now
    row.events += 1
    row.requested_at = now
    if rearm:
        row.due_at = now + _debounce()
    row.save(update_fields=["events", "requested_at", "due_at"])
    return rearm


def targeted_run_queue(*, integration_id: int, countdown: float | None = None) -> None:
    """Queue the integration's targeted run after commit, at the end of the debounce window."""
    from realtime.tasks import integration_sync_objects

    delay = settings.EVENT_DEBOUNCE_SECONDS if countdown is None else countdown
    transaction.on_commit(
        lambda: integration_sync_objects.apply_async((integration_id,), countdown=max(delay, 0))
    )


def _follow_up(integration_id: int, *, now: datetime, busy: bool = False) -> None:
    """Queue one later run for the rows still waiting (one per integration at a time: every event
    queued its own task already, this only covers rows those tasks came too early or too busy
    for)."""
    if busy:
        countdown = BUSY_RETRY_SECONDS
    else:
        next_due = (
            PendingSync.objects.filter(integration_id=integration_id)
            .order_by("due_at")
            .values_list("due_at", flat=True)
            .first()
        )
        if next_due is None:
            return
        countdown = max((next_due - now).total_seconds(), 0) + 0.1
    if cache.add(f"realtime:follow-up:{integration_id}", 1, timeout=max(countdown, 1)):
        targeted_run_queue(integration_id=integration_id, countdown=countdown)


def pending_syncs_run(*, integration_id: int, now: datetime | None = None) -> SyncRun | None:
    """Sync the integration's due objects in one targeted run (trigger "event")."""
    now = now or timezone.now()
    due = list(
        PendingSync.objects.filter(integration_id=integration_id, due_at__lte=now).values_list(
            "pk", "process", "object_ref"
        )
    )
    if not due:
        _follow_up(integration_id, now=now)
        return None
    objects: dict[str, list[str]] = defaultdict(list)
    for _pk, process, ref in due:
        objects[process].append(ref)
    run = integration_sync(
        integration_id=integration_id, trigger=SyncRun.Trigger.EVENT, objects=dict(objects)
    )
    if run is None:
        active = Integration.objects.filter(
            pk=integration_id, status=Integration.Status.ACTIVE
        ).exists()
        if not active:
            # Paused, disconnected or gone: its next first run pulls everything anyway.
            PendingSync.objects.filter(integration_id=integration_id).delete()
            return None
        _follow_up(integration_id, now=now, busy=True)
        return None
    # Rows re-armed by an event after `now` stay for the next run.
    PendingSync.objects.filter(pk__in=[pk for pk, _p, _r in due], requested_at__lte=now).delete()
    _follow_up(integration_id, now=timezone.now())
    return run


def pending_syncs_sweep(*, now: datetime | None = None) -> list[int]:
    """Queue a targeted run for every integration whose rows have waited too long (their task was
    lost, or its broker message with it); returns the integrations queued."""
    now = now or timezone.now()
    integration_ids = list(
        PendingSync.objects.filter(due_at__lte=now - OVERDUE_AFTER)
        .values_list("integration_id", flat=True)
        .distinct()
    )
    for integration_id in integration_ids:
        targeted_run_queue(integration_id=integration_id, countdown=0)
    return integration_ids
