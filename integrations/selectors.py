from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from fortnox.models import FortnoxConnection
from ongoing.models import OngoingConnection
from tenants.models import Tenant

from .models import (
    Integration,
    IntegrationEvent,
    ProcessSetting,
    RecordLink,
    Supplier,
    SyncFailure,
    SyncRun,
)
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
    *,
    integration: Integration,
    registry: Registry = default_registry,
    stored: dict[str, ProcessSetting] | None = None,
) -> list[ProcessState]:
    """The offered processes in run order, each with its stored switch and options (defaults where
    nothing is stored yet, e.g. a process added after the integration was created). `stored`: the
    settings by process key when the caller has read them already (a sync run does)."""
    if stored is None:
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


def integration_health(*, integration: Integration, failing: bool) -> str:
    """One word for the status light and the API: ok, failing (some objects fail), stopped (needs
    reactivation), paused or setup."""
    if integration.status == Integration.Status.NEEDS_REACTIVATION:
        return "stopped"
    if integration.status in (Integration.Status.PAUSED, Integration.Status.SETUP):
        return integration.status
    return "failing" if failing else "ok"


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


class LinkLookup:
    """The links of one object type, read one object at a time as a run meets them, so a run
    costs queries for the objects it handles, not for the company's whole history."""

    def __init__(self, *, integration: Integration, object_type: str, by: str = "fortnox_key"):
        self._integration = integration
        self._object_type = object_type
        self._by = by
        self._seen: dict[str, RecordLink | None] = {}

    @property
    def _links(self) -> QuerySet[RecordLink]:
        # Built when a link is looked up, not with the lookup: a quiet run looks none up.
        return RecordLink.objects.filter(
            integration=self._integration, object_type=self._object_type
        )

    # Keys per query when a run reads the links of a whole list at once.
    LOAD_BATCH = 500

    def load(self, keys) -> None:
        """Read the links of many objects in a few queries (a listed page), before they are met
        one by one."""
        wanted = [str(key) for key in keys if str(key) not in self._seen]
        for start in range(0, len(wanted), self.LOAD_BATCH):
            batch = wanted[start : start + self.LOAD_BATCH]
            self._seen.update(dict.fromkeys(batch))
            for link in self._links.filter(**{f"{self._by}__in": batch}).order_by("-id"):
                self._seen[getattr(link, self._by)] = link

    def get(self, key, default=None) -> RecordLink | None:
        key = str(key)
        if key not in self._seen:
            self._seen[key] = self._links.filter(**{self._by: key}).order_by("id").first()
        return self._seen[key] or default

    def __contains__(self, key) -> bool:
        return self.get(key) is not None

    def __setitem__(self, key, link: RecordLink) -> None:
        self._seen[str(key)] = link


def failed_refs_to_retry(*, integration: Integration, process: str, object_type: str) -> list[str]:
    """Objects whose last sync failed for a reason that may pass by itself (the API was down, the
    rate limit, a bug since fixed). Validation failures wait for the object to change, or for
    someone to press retry."""
    return list(
        SyncFailure.objects.filter(
            integration=integration,
            process=process,
            object_type=object_type,
            resolved_at__isnull=True,
        )
        .exclude(Q(kind=SyncFailure.Kind.VALIDATION) & Q(retry_requested_at__isnull=True))
        .order_by("first_seen_at")
        .values_list("object_ref", flat=True)
    )


def suppliers_by_number(*, integration: Integration) -> dict[str, Supplier]:
    return {
        supplier.number: supplier for supplier in Supplier.objects.filter(integration=integration)
    }


def process_enabled(*, integration: Integration, key: str) -> bool:
    return any(
        state.enabled and state.process.key == key
        for state in process_states(integration=integration)
    )


def suppliers_changed_since(*, integration: Integration, since) -> QuerySet[Supplier]:
    return Supplier.objects.filter(integration=integration, updated_at__gt=since).order_by("number")


def connections_missing(*, tenant: Tenant) -> list[str]:
    """What the company must still connect before the integration can run."""
    missing = []
    if not FortnoxConnection.objects.filter(
        tenant=tenant, status=FortnoxConnection.Status.ACTIVE
    ).exists():
        missing.append("Fortnox")
    if not OngoingConnection.objects.filter(
        tenant=tenant, status=OngoingConnection.Status.VERIFIED
    ).exists():
        missing.append("Ongoing WMS")
    return missing


@dataclass(frozen=True)
class ProgressStep:
    label: str
    state: str  # "done", "running" or "waiting"
    processed: int


@dataclass(frozen=True)
class RunProgress:
    run: SyncRun
    first: bool
    steps: list[ProgressStep]
    percent: int
    processed: int


def run_progress(
    *, integration: Integration, runs: list[SyncRun], processes: list[ProcessState]
) -> RunProgress | None:
    """How far the running run has come (None when none runs), from the counts the engine writes
    while it works: the processes run in registry order, so those with counts are done but the
    last, which is running."""
    if not runs or runs[0].status != SyncRun.Status.RUNNING:
        return None
    run = runs[0]
    started = [state.process.key for state in processes if state.process.key in run.counts]
    steps = []
    for state in processes:
        key = state.process.key
        counts = run.counts.get(key, {})
        if key not in run.counts:
            step_state = "waiting"
        elif key == started[-1]:
            step_state = "running"
        else:
            step_state = "done"
        steps.append(
            ProgressStep(
                label=str(state.process.label),
                state=step_state,
                processed=sum(counts.values()),
            )
        )
    done = sum(step.state == "done" for step in steps)
    running = any(step.state == "running" for step in steps)
    percent = int(100 * (done + (0.5 if running else 0)) / len(steps)) if steps else 0
    return RunProgress(
        run=run,
        first=not SyncRun.objects.filter(integration=integration).exclude(pk=run.pk).exists(),
        steps=steps,
        percent=percent,
        processed=sum(step.processed for step in steps),
    )


@dataclass(frozen=True)
class OnboardingStep:
    number: int
    title: str
    url_name: str
    done: bool


def onboarding_steps(*, integration: Integration) -> list[OnboardingStep]:
    """The seed's order of setting up: warehouse, Fortnox consent, fine-tuning; then Activate."""
    missing = connections_missing(tenant=integration.tenant)
    settings_saved = IntegrationEvent.objects.filter(
        integration=integration, kind=IntegrationEvent.Kind.SETTINGS
    ).exists()
    return [
        OnboardingStep(
            1, _("Connect the warehouse"), "ongoing:connection", "Ongoing WMS" not in missing
        ),
        OnboardingStep(
            2, _("Give consent in Fortnox"), "fortnox:connection", "Fortnox" not in missing
        ),
        OnboardingStep(3, _("Fine-tune the settings"), "integrations:settings", settings_saved),
    ]
