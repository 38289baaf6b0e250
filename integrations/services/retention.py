"""Old runs are deleted after the retention period; failures stay until resolved (a deleted run
leaves its failures without a run), and the timeline's events stay."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from integrations.models import SyncRun

# Deleted in slices, so no statement holds its locks for long on a big table.
PRUNE_BATCH = 5000


def sync_runs_prune(*, now=None, retention_days: int | None = None) -> int:
    """Delete finished runs older than the retention; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=retention_days or settings.SYNC_RUN_RETENTION_DAYS)
    old = SyncRun.objects.filter(started_at__lt=cutoff).exclude(status=SyncRun.Status.RUNNING)
    deleted = 0
    while True:
        batch = list(old.values_list("pk", flat=True)[:PRUNE_BATCH])
        if not batch:
            return deleted
        SyncRun.objects.filter(pk__in=batch).delete()
        deleted += len(batch)
