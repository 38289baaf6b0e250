"""Thin Celery tasks: ids in, services do the work."""

from celery import shared_task

from integrations.services import scheduler, sync


@shared_task(name="integrations.tasks.integrations_tick", ignore_result=True)
def integrations_tick() -> int:
    return len(scheduler.integrations_tick().claimed)


@shared_task(name="integrations.tasks.integration_sync", ignore_result=True)
def integration_sync(integration_id: int, trigger: str = "beat") -> int | None:
    run = sync.integration_sync(integration_id=integration_id, trigger=trigger)
    return run.pk if run else None
