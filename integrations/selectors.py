from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from tenants.models import Tenant

from .models import Integration, SyncFailure, SyncRun
from .processes import registry as default_registry
from .registry import Process, Registry


@dataclass(frozen=True)
class ProcessState:
    process: Process
    enabled: bool
    options: dict[str, Any]


def integration_for_tenant(*, tenant: Tenant) -> Integration:
    return get_object_or_404(Integration, tenant=tenant, kind=Integration.Kind.ONGOING_FORTNOX)


def process_states(
    *, integration: Integration, registry: Registry = default_registry
) -> list[ProcessState]:
    """The offered processes in run order, each with its stored switch and options (defaults where
    nothing is stored yet, e.g. a process added after the integration was created)."""
    stored = {setting.process: setting for setting in integration.process_settings.all()}
    states = []
    for process in registry.offered():
        setting = stored.get(process.key)
        options = process.default_options()
        if setting is not None:
            options.update({key: value for key, value in setting.options.items() if key in options})
        enabled = setting.enabled if setting is not None else process.default_enabled
        states.append(ProcessState(process=process, enabled=enabled, options=options))
    return states


def runs_for_integration(*, integration: Integration) -> QuerySet[SyncRun]:
    return SyncRun.objects.filter(integration=integration).order_by("-started_at", "-id")


def run_for_tenant(*, tenant: Tenant, run_id: int) -> SyncRun:
    """The run, if it belongs to this company; 404 otherwise, so other companies' ids reveal
    nothing."""
    return get_object_or_404(
        SyncRun.objects.select_related("integration"), pk=run_id, integration__tenant=tenant
    )


def open_failures(*, integration: Integration) -> QuerySet[SyncFailure]:
    return SyncFailure.objects.filter(integration=integration, resolved_at__isnull=True).order_by(
        "-last_seen_at", "-id"
    )


def failures_for_run(*, run: SyncRun) -> QuerySet[SyncFailure]:
    return SyncFailure.objects.filter(run=run).order_by("process", "object_type", "object_ref")
