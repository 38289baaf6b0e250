from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from integrations.models import Integration, IntegrationEvent, SyncFailure, SyncRun
from integrations.text import printable, storable

from .events import integration_event_record
from .scheduler import sync_enqueue


def sync_failure_record(
    *,
    run: SyncRun,
    process: str,
    object_type: str,
    object_ref: str,
    kind: str,
    message: str,
    details: dict | None = None,
) -> None:
    """Open a failure for the object, or count another attempt on the one already open."""
    now = timezone.now()
    key = {
        "integration_id": run.integration_id,
        "process": process,
        "object_type": object_type,
        "object_ref": printable(str(object_ref), max_length=100),
    }
    fields = {
        "run": run,
        "kind": kind,
        "message": printable(message),
        "details": storable(details or {}),
    }
    still_open = SyncFailure.objects.filter(**key, resolved_at__isnull=True)
    seen_again = {
        **fields,
        "attempts": F("attempts") + 1,
        "last_seen_at": now,
        "retry_requested_at": None,
    }
    if still_open.update(**seen_again):
        return
    try:
        with transaction.atomic():
            SyncFailure.objects.create(**key, **fields, last_seen_at=now)
    except IntegrityError:
        # Another run opened the same failure between our update and our insert.
        still_open.update(**seen_again)


def sync_failures_resolve(
    *, integration: Integration | int, process: str, object_type: str, object_ref: str
) -> int:
    """Close the object's open failure because it has now synced."""
    return SyncFailure.objects.filter(
        integration=integration,
        process=process,
        object_type=object_type,
        object_ref=printable(str(object_ref), max_length=100),
        resolved_at__isnull=True,
    ).update(resolved_at=timezone.now(), resolution_note="Synced successfully.")


def sync_failure_retry(*, failure: SyncFailure, actor=None) -> bool:
    """Offer the object again on the next run, queued at once when the integration is active. A
    refused object (a validation failure) is offered even though it has not changed: what was
    refused is forgotten. Returns whether a run was queued."""
    details = {key: value for key, value in failure.details.items() if key != "refused"}
    with transaction.atomic():
        integration = Integration.objects.select_for_update().get(pk=failure.integration_id)
        marked = SyncFailure.objects.filter(pk=failure.pk, resolved_at__isnull=True).update(
            retry_requested_at=timezone.now(), details=details
        )
        if not marked:
            return False
        queued = integration.status == Integration.Status.ACTIVE
        integration_event_record(
            integration=integration,
            kind=IntegrationEvent.Kind.RUN_REQUESTED,
            message=f"Retry requested for {failure.object_type} {failure.object_ref}.",
            actor=actor,
            data={"failure": failure.pk, "run_queued": queued},
        )
        if queued:
            sync_enqueue(integration_ids=[integration.pk], trigger=SyncRun.Trigger.MANUAL)
    return queued
