"""Thin Celery tasks: ids in, services do the work."""

from celery import shared_task

from integrations.services import problem_emails, reactivation, retention, scheduler, sync


@shared_task(name="integrations.tasks.integrations_tick", ignore_result=True)
def integrations_tick() -> int:
    return len(scheduler.integrations_tick().claimed)


@shared_task(name="integrations.tasks.integration_sync", ignore_result=True)
def integration_sync(integration_id: int, trigger: str = "beat") -> int | None:
    run = sync.integration_sync(integration_id=integration_id, trigger=trigger)
    return run.pk if run else None


@shared_task(name="integrations.tasks.integration_syncs_fan_out", ignore_result=True)
def integration_syncs_fan_out(integration_ids: list[int], trigger: str = "beat") -> int:
    scheduler.syncs_publish(integration_ids=integration_ids, trigger=trigger)
    return len(integration_ids)


@shared_task(
    name="integrations.tasks.reactivation_email_send",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=60,
    max_retries=10,
)
def reactivation_email_send(link_id: int) -> bool:
    return reactivation.reactivation_email_send(link_id=link_id)


@shared_task(
    name="integrations.tasks.failures_email_send",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=60,
    max_retries=10,
)
def failures_email_send(run_id: int) -> bool:
    return problem_emails.failures_email_send(run_id=run_id)


@shared_task(name="integrations.tasks.sync_runs_prune", ignore_result=True)
def sync_runs_prune() -> int:
    return retention.sync_runs_prune()
