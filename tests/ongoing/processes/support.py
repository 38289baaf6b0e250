"""What the end-to-end process tests share: running a sync as the worker does, and reading the
Fortnox sandbox's records."""

from fortnox.sandbox.models import SandboxRecord
from integrations.models import SyncRun
from integrations.tasks import integration_sync

Kind = SandboxRecord.Kind


def run(world) -> SyncRun:
    """One run through the Celery task, the code path a worker takes."""
    run_id = integration_sync.apply(kwargs={"integration_id": world.integration.pk}).get()
    return SyncRun.objects.get(pk=run_id)


def records(world, kind) -> dict[str, dict]:
    return {
        record.key: record.data
        for record in SandboxRecord.objects.filter(company=world.company, kind=kind)
    }
