from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from integrations.models import Integration, SyncFailure, SyncRun


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
        "object_ref": str(object_ref)[:100],
    }
    fields = {"run": run, "kind": kind, "message": message, "details": details or {}}
    still_open = SyncFailure.objects.filter(**key, resolved_at__isnull=True)
    seen_again = {**fields, "attempts": F("attempts") + 1, "last_seen_at": now}
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
        object_ref=str(object_ref)[:100],
        resolved_at__isnull=True,
    ).update(resolved_at=timezone.now(), resolution_note="Synced successfully.")
