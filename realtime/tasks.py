"""Thin Celery tasks: ids in, services do the work."""

from celery import shared_task

from .services import event_synced, pending, webhooks


@shared_task(name="realtime.tasks.integration_sync_objects", ignore_result=True)
def integration_sync_objects(integration_id: int) -> int | None:
    run = pending.pending_syncs_run(integration_id=integration_id)
    return run.pk if run else None


@shared_task(name="realtime.tasks.pending_syncs_sweep", ignore_result=True)
def pending_syncs_sweep() -> int:
    queued = len(pending.pending_syncs_sweep())
    webhooks.webhook_deliveries_prune()
    event_synced.event_synced_prune()
    return queued
