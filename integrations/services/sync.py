"""The sync engine: one run of one integration, its processes in registry order."""

import json
import logging
import time
import traceback
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from integrations.errors import failure_details, failure_kind_of
from integrations.metering import metering
from integrations.models import (
    Integration,
    ProcessSetting,
    SyncCursor,
    SyncFailure,
    SyncRun,
)
from integrations.processes import registry as default_registry
from integrations.registry import Process, Registry
from integrations.selectors import process_enabled, process_states
from integrations.services.slow_lane import slow_lane_admit, slow_lane_release, slow_lane_settle

from .failures import sync_failure_record, sync_failures_resolve
from .problem_emails import failures_email_queue

logger = logging.getLogger(__name__)

OUTCOMES = ("created", "updated", "skipped", "failed")
# A process-level failure (the process crashed, or was refused by the settings rules) is filed
# under this object type with the process key as its reference.
PROCESS_OBJECT = "process"


class RunProgress:
    """Writes the run's counts while it runs, so the status page can show the first sync moving:
    one cheap UPDATE every PROGRESS_EVERY objects or PROGRESS_SECONDS, whichever comes first."""

    PROGRESS_EVERY = 25
    PROGRESS_SECONDS = 2.0

    def __init__(self, run: SyncRun, counts: dict[str, dict[str, int]]):
        self.run_id = run.pk
        self.counts = counts
        self.pending = 0
        self.flushed_at = time.monotonic()

    def counted(self, number: int = 1) -> None:
        self.pending += number
        if (
            self.pending >= self.PROGRESS_EVERY
            or time.monotonic() - self.flushed_at >= self.PROGRESS_SECONDS
        ):
            self.flush()

    def flush_if_due(self) -> None:
        """Between processes: write what was counted since the last write (or when that write is
        old), so a run that handles nothing costs no progress writes at all."""
        if self.pending or time.monotonic() - self.flushed_at >= self.PROGRESS_SECONDS:
            self.flush()

    def flush(self) -> None:
        SyncRun.objects.filter(pk=self.run_id, status=SyncRun.Status.RUNNING).update(
            counts=self.counts
        )
        self.pending = 0
        self.flushed_at = time.monotonic()


@dataclass
class RunMemory:
    """What a run reads once for all its processes, in one query: the process settings, the
    cursors, and which (process, object type) pairs have open failures, so that a healthy run asks
    nothing about failures. The cursors the processes move are written once, when the run ends."""

    settings: dict[str, ProcessSetting]
    cursors: dict[str, str]
    failing: set[tuple[str, str]]
    cursor_ids: dict[str, int] = field(default_factory=dict)
    enabled: frozenset[str] = frozenset()
    moved: dict[str, str] = field(default_factory=dict)
    # What one process learned from an API that a later process of the same run may reuse.
    learned: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, integration: Integration) -> "RunMemory":
        memory = cls(settings={}, cursors={}, failing=set())
        # Raw SQL: this runs on every sync, and the three small reads as one UNION are one round
        # trip instead of three, without compiling three ORM queries each time.
        tables = {
            model.__name__: connection.ops.quote_name(model._meta.db_table)
            for model in (ProcessSetting, SyncCursor, SyncFailure)
        }
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 's', process, CASE WHEN enabled THEN 'on' ELSE '' END, "  # noqa: S608
                f"CAST(options AS TEXT) FROM {tables['ProcessSetting']} WHERE integration_id = %s "
                f"UNION ALL SELECT 'c', process, value, CAST(id AS TEXT) "
                f"FROM {tables['SyncCursor']} WHERE integration_id = %s "
                f"UNION ALL SELECT DISTINCT 'f', process, object_type, '' "
                f"FROM {tables['SyncFailure']} WHERE integration_id = %s AND resolved_at IS NULL",
                [integration.pk] * 3,
            )
            rows = cursor.fetchall()
        for kind, process, value, extra in rows:
            if kind == "s":
                memory.settings[process] = ProcessSetting(
                    integration=integration,
                    process=process,
                    enabled=bool(value),
                    options=json.loads(extra) if extra else {},
                )
            elif kind == "c":
                memory.cursors[process] = value
                memory.cursor_ids[process] = int(extra)
            else:
                memory.failing.add((process, value))
        return memory

    def cursor_moved(self, process: str, value: str) -> None:
        self.cursors[process] = value
        self.moved[process] = value

    def cursors_save(self, integration: Integration) -> None:
        """Write the cursors the run moved: one UPDATE for those that existed when it started, an
        upsert for a first run's. Late is safe: a cursor not written (the worker died) only makes
        the next run read the same window again. A cursor deleted meanwhile (a resync) stays
        deleted."""
        now = timezone.now()
        existing = {
            self.cursor_ids[process]: value
            for process, value in self.moved.items()
            if process in self.cursor_ids
        }
        if existing:
            # Raw SQL for the same reason as the read: every run that listed anything moves its
            # cursors, and the ORM's CASE … WHEN took longer to build than to run.
            table = connection.ops.quote_name(SyncCursor._meta.db_table)
            whens = " ".join(["WHEN %s THEN %s"] * len(existing))
            marks = ", ".join(["%s"] * len(existing))
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET value = CASE id {whens} END, "  # noqa: S608 - no input
                    f"updated_at = %s WHERE id IN ({marks})",
                    [
                        *(item for pair in existing.items() for item in pair),
                        connection.ops.adapt_datetimefield_value(now),
                        *existing,
                    ],
                )
        new = [
            SyncCursor(integration=integration, process=process, value=value, updated_at=now)
            for process, value in self.moved.items()
            if process not in self.cursor_ids
        ]
        if new:
            SyncCursor.objects.bulk_create(
                new,
                update_conflicts=True,
                unique_fields=["integration", "process"],
                update_fields=["value", "updated_at"],
            )
        self.moved.clear()


@dataclass
class ProcessContext:
    """What a process body gets: its integration, run, options, and the means to report."""

    integration: Integration
    run: SyncRun
    process: Process
    options: dict[str, Any]
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    progress: RunProgress | None = None
    memory: RunMemory | None = None

    def process_enabled(self, key: str) -> bool:
        """Whether another process of this integration is switched on for this run."""
        if self.memory is not None:
            return key in self.memory.enabled
        return process_enabled(integration=self.integration, key=key)

    def may_have_failures(self, object_type: str) -> bool:
        """False when no object of this type can have an open failure in this process."""
        return self.memory is None or (self.process.key, object_type) in self.memory.failing

    def count(self, outcome: str, number: int = 1) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"Unknown outcome {outcome!r}")
        self.counts[outcome] += number
        if self.progress is not None:
            self.progress.counted(number)

    def synced(self, *, object_type: str, object_ref: str, outcome: str) -> None:
        """An object went through: count it and close any failure it had."""
        self.count(outcome)
        if not self.may_have_failures(object_type):
            return
        sync_failures_resolve(
            integration=self.integration,
            process=self.process.key,
            object_type=object_type,
            object_ref=object_ref,
        )

    def fail(
        self,
        *,
        object_type: str,
        object_ref: str,
        kind: str,
        message: str,
        details: dict | None = None,
    ) -> None:
        """An object failed: record it; the process carries on with the others."""
        self.count("failed")
        if self.memory is not None:
            self.memory.failing.add((self.process.key, object_type))
        sync_failure_record(
            run=self.run,
            process=self.process.key,
            object_type=object_type,
            object_ref=object_ref,
            kind=kind,
            message=message,
            details=details,
        )

    def fail_process(self, *, kind: str, message: str, details: dict | None = None) -> str:
        """The process as a whole could not do its work; returns the line for the run's error."""
        self.fail(
            object_type=PROCESS_OBJECT,
            object_ref=self.process.key,
            kind=kind,
            message=message,
            details=details,
        )
        return f"{self.process.key}: {message}"

    def cursor(self) -> str | None:
        if self.memory is not None:
            return self.memory.cursors.get(self.process.key)
        return (
            SyncCursor.objects.filter(integration=self.integration, process=self.process.key)
            .values_list("value", flat=True)
            .first()
        )

    def save_cursor(self, value: str) -> None:
        """Call only after the page the cursor covers has been committed. Within a run the cursor
        is kept in the run's memory and written when the run ends (RunMemory.cursors_save); one
        UPDATE once the cursor exists, an upsert the first time, when there is no run memory."""
        if self.memory is not None:
            self.memory.cursor_moved(self.process.key, value)
            return
        moved = SyncCursor.objects.filter(
            integration=self.integration, process=self.process.key
        ).update(value=value, updated_at=timezone.now())
        if not moved:
            SyncCursor.objects.bulk_create(
                [SyncCursor(integration=self.integration, process=self.process.key, value=value)],
                update_conflicts=True,
                unique_fields=["integration", "process"],
                update_fields=["value", "updated_at"],
            )


def _record_crash(context: ProcessContext, error: Exception) -> str:
    if isinstance(error, SoftTimeLimitExceeded):
        return context.fail_process(
            kind=SyncFailure.Kind.BUG,
            message="The run took longer than its time limit and was stopped.",
        )
    logger.exception("sync %s: process %s failed", context.integration.pk, context.process.key)
    return context.fail_process(
        kind=failure_kind_of(error),
        message=str(error) or error.__class__.__name__,
        details={
            **failure_details(error),
            "exception": f"{error.__class__.__module__}.{error.__class__.__name__}",
            "traceback": traceback.format_exc(limit=20)[-8000:],
        },
    )


def sync_run_start(*, integration_id: int, trigger: str) -> SyncRun | None:
    """Open a run, or None when the integration is not active or already has one running.

    One SELECT and one INSERT, each its own transaction: the one-running-run constraint keeps two
    runs apart, so the integration's row is not locked (that cost BEGIN, SELECT … FOR UPDATE and
    COMMIT on every run), and a pause committed a moment later finds this run going just as it
    would have found it a moment after the lock."""
    # The company and both connections come along: the run's clients are made from them.
    integration = (
        Integration.objects.select_related(
            "tenant__fortnox_connection", "tenant__ongoing_connection"
        )
        .filter(pk=integration_id)
        .first()
    )
    if integration is None or integration.status != Integration.Status.ACTIVE:
        logger.info("sync %s: not active, nothing to run", integration_id)
        return None
    if not slow_lane_admit(integration):
        return None
    try:
        # Called inside a transaction (a test, a caller's atomic block), the INSERT takes a
        # savepoint so that its IntegrityError does not spoil the caller's transaction.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            return SyncRun.objects.create(integration=integration, trigger=trigger)
    except IntegrityError:
        # one_running_run_per_integration: a run is going (asking first would cost a query on
        # every run to spare an exception on the rare one).
        slow_lane_release()
        logger.info("sync %s: a run is already in progress", integration_id)
        return None


def sync_run_finish(
    *, run: SyncRun, counts: dict, requests: dict, process_failed: bool, error: str = ""
) -> None:
    if process_failed:
        status = SyncRun.Status.FAILED
    elif any(process_counts["failed"] for process_counts in counts.values()):
        status = SyncRun.Status.PARTIAL
    else:
        status = SyncRun.Status.SUCCEEDED
    run.status = status
    run.finished_at = timezone.now()
    run.counts = counts
    run.fortnox_requests = requests.get("fortnox", 0)
    run.ongoing_requests = requests.get("ongoing", 0)
    run.error = error
    run.save(
        update_fields=[
            "status",
            "finished_at",
            "counts",
            "fortnox_requests",
            "ongoing_requests",
            "error",
        ]
    )


def integration_sync(
    *,
    integration_id: int,
    trigger: str,
    registry: Registry = default_registry,
    objects: dict[str, list[str]] | None = None,
) -> SyncRun | None:
    """Run the integration's enabled processes once. Always closes the run it opens, with the
    status it earned, whatever a process does.

    With `objects` ({process key: [object reference, …]}, what events announced) it is a targeted
    run: only those processes run, each through its targeted body for just those objects, and no
    cursor moves — the scheduled run's pull stays the safety net for whatever no event told."""
    run = sync_run_start(integration_id=integration_id, trigger=trigger)
    if run is None:
        return None
    integration = run.integration
    counts: dict[str, dict[str, int]] = {}
    progress = RunProgress(run, counts)
    errors: list[str] = []
    stopped_slow = False
    with metering() as requests:
        memory = None
        try:
            memory = RunMemory.load(integration)
            states = [
                state
                for state in process_states(
                    integration=integration, registry=registry, stored=memory.settings
                )
                if state.enabled
            ]
            refused = registry.validate_selection({state.process.key: True for state in states})
            memory.enabled = frozenset(state.process.key for state in states)
            if objects is not None:
                states = [
                    state
                    for state in states
                    if objects.get(state.process.key) and state.process.targeted
                ]
            for state in states:
                context = ProcessContext(
                    integration=integration,
                    run=run,
                    process=state.process,
                    options=state.options,
                    progress=progress,
                    memory=memory,
                )
                counts[state.process.key] = context.counts
                progress.flush_if_due()
                if state.process.key in refused:
                    message = " ".join(str(reason) for reason in refused[state.process.key])
                    errors.append(
                        context.fail_process(kind=SyncFailure.Kind.VALIDATION, message=message)
                    )
                    continue
                try:
                    if objects is None:
                        state.process.load_body()(context)
                    else:
                        state.process.load_targeted()(context, objects[state.process.key])
                except Exception as error:
                    errors.append(_record_crash(context, error))
                    if isinstance(error, SoftTimeLimitExceeded) or getattr(
                        error, "stops_run", False
                    ):
                        stopped_slow = getattr(error, "slow_system", False)
                        break
                else:
                    # A few objects going through says nothing about the whole process.
                    if objects is None and (state.process.key, PROCESS_OBJECT) in memory.failing:
                        sync_failures_resolve(
                            integration=integration,
                            process=state.process.key,
                            object_type=PROCESS_OBJECT,
                            object_ref=state.process.key,
                        )
        except BaseException as error:
            # Outside any one process (settings could not be read, the time limit struck between
            # processes, the worker is shutting down): the run still closes, as failed.
            errors.append(f"run: {error.__class__.__name__}: {error}")
            raise
        finally:
            try:
                if memory is not None:
                    memory.cursors_save(integration)
            finally:
                sync_run_finish(
                    run=run,
                    counts=counts,
                    requests=requests,
                    process_failed=bool(errors),
                    error="\n".join(errors),
                )
                slow_lane_settle(integration, stopped_slow=stopped_slow)
    failures_email_queue(run=run)
    logger.info(
        "sync %s: run %s %s in %.1fs",
        integration.pk,
        run.pk,
        run.status,
        run.duration.total_seconds(),
    )
    return run
