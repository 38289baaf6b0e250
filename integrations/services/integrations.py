"""The integration's lifecycle and settings, each change recorded on its timeline."""

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.fingerprints import CANCELLED
from integrations.models import (
    Integration,
    IntegrationEvent,
    ProcessSetting,
    RecordLink,
    SyncCursor,
    SyncRun,
)
from integrations.processes import registry as default_registry
from integrations.registry import Registry
from integrations.selectors import connections_missing, process_states
from tenants.models import Tenant

from .events import integration_event_record
from .scheduler import sync_enqueue


@transaction.atomic
def integration_create(
    *, tenant: Tenant, problem_email: str = "", registry: Registry = default_registry
) -> Integration:
    integration = Integration.objects.create(tenant=tenant, problem_email=problem_email)
    ProcessSetting.objects.bulk_create(
        ProcessSetting(
            integration=integration,
            process=process.key,
            enabled=process.default_enabled,
            options=process.default_options(),
        )
        for process in registry
    )
    integration_event_record(
        integration=integration, kind=IntegrationEvent.Kind.CREATED, message="Integration created."
    )
    return integration


def _status_change(
    *, integration: Integration, to: str, allowed_from: set[str], actor, message: str
) -> Integration:
    with transaction.atomic():
        locked = Integration.objects.select_for_update().get(pk=integration.pk)
        if locked.status not in allowed_from:
            raise ValidationError(
                _("The integration is %(status)s and cannot be changed that way."),
                params={"status": locked.get_status_display()},
            )
        previous = locked.status
        locked.status = to
        fields = ["status"]
        if to == Integration.Status.ACTIVE:
            locked.next_run_at = timezone.now()
            fields.append("next_run_at")
            if locked.activated_at is None:
                locked.activated_at = timezone.now()
                fields.append("activated_at")
        locked.save(update_fields=fields)
        integration_event_record(
            integration=locked,
            kind=IntegrationEvent.Kind.STATUS,
            message=message,
            actor=actor,
            data={"from": previous, "to": to},
        )
    return locked


def integration_activate(*, integration: Integration, actor=None) -> Integration:
    """Start scheduled runs; the first one is due at once. Both systems must be connected."""
    missing = connections_missing(tenant=integration.tenant)
    if missing:
        raise ValidationError(
            _("Connect %(missing)s before activating the integration."),
            params={"missing": _(" and ").join(missing)},
        )
    return _status_change(
        integration=integration,
        to=Integration.Status.ACTIVE,
        allowed_from={Integration.Status.SETUP, Integration.Status.NEEDS_REACTIVATION},
        actor=actor,
        message="Integration activated.",
    )


def integration_pause(*, integration: Integration, actor=None) -> Integration:
    return _status_change(
        integration=integration,
        to=Integration.Status.PAUSED,
        allowed_from={Integration.Status.ACTIVE},
        actor=actor,
        message="Integration paused.",
    )


def integration_resume(*, integration: Integration, actor=None) -> Integration:
    return _status_change(
        integration=integration,
        to=Integration.Status.ACTIVE,
        allowed_from={Integration.Status.PAUSED},
        actor=actor,
        message="Integration resumed.",
    )


def integration_request_run(*, integration: Integration, actor=None) -> None:
    """Run now, through the same task the schedule uses (which refuses a second parallel run)."""
    if integration.status != Integration.Status.ACTIVE:
        raise ValidationError(_("Only an active integration can run."))
    with transaction.atomic():
        integration_event_record(
            integration=integration,
            kind=IntegrationEvent.Kind.RUN_REQUESTED,
            message="Run requested.",
            actor=actor,
        )
        sync_enqueue(integration_ids=[integration.pk], trigger=SyncRun.Trigger.MANUAL)


def integration_settings_update(
    *,
    integration: Integration,
    actor=None,
    interval_minutes: int,
    problem_email: str,
    processes: dict[str, dict[str, Any]],
    registry: Registry = default_registry,
) -> list[str]:
    """Store new settings. `processes` maps offered process keys to {"enabled": bool, "options":
    {…}}. Raises ValidationError (per process key) when a rule is broken; returns what changed,
    which is also recorded on the timeline. Takes effect on the next run."""
    enabled = {key: bool(value["enabled"]) for key, value in processes.items()}
    problems = registry.validate_selection(enabled)
    if problems:
        raise ValidationError(problems)
    cleaned = {
        key: registry[key].clean_options(value.get("options", {}))
        for key, value in processes.items()
    }
    current = {state.process.key: state for state in process_states(integration=integration)}
    changes: list[str] = []
    with transaction.atomic():
        locked = Integration.objects.select_for_update().get(pk=integration.pk)
        if locked.interval_minutes != interval_minutes:
            changes.append(f"interval: {locked.interval_minutes} → {interval_minutes} min")
            locked.interval_minutes = interval_minutes
            soonest = timezone.now() + timedelta(minutes=interval_minutes)
            if locked.next_run_at and locked.next_run_at > soonest:
                locked.next_run_at = soonest
        if locked.problem_email != problem_email:
            changes.append(
                f"problem e-mail: {locked.problem_email or '—'} → {problem_email or '—'}"
            )
            locked.problem_email = problem_email
        locked.save(update_fields=["interval_minutes", "problem_email", "next_run_at"])
        for key, options in cleaned.items():
            before = current.get(key)
            if before and before.enabled == enabled[key] and before.options == options:
                continue
            if before is None or before.enabled != enabled[key]:
                changes.append(f"{key}: {'on' if enabled[key] else 'off'}")
            if before is not None:
                changes.extend(
                    f"{key}.{option}: {before.options.get(option)!r} → {value!r}"
                    for option, value in options.items()
                    if before.options.get(option) != value
                )
            ProcessSetting.objects.update_or_create(
                integration=locked,
                process=key,
                defaults={"enabled": enabled[key], "options": options},
            )
        if changes:
            integration_event_record(
                integration=locked,
                kind=IntegrationEvent.Kind.SETTINGS,
                message="Settings changed: " + "; ".join(changes),
                actor=actor,
                data={"changes": changes},
            )
    integration.refresh_from_db()
    return changes


def integration_resync(*, integration: Integration, actor=None, process: str = "") -> None:
    """Start again from a full pull. For the whole integration, the next run lists everything in
    Fortnox and writes every object once more; for one process, only that process pulls from the
    start (objects unchanged since they were last written still cost no write). Links are kept,
    so nothing is created twice in the warehouse."""
    with transaction.atomic():
        cursors = SyncCursor.objects.filter(integration=integration)
        if process:
            cursors = cursors.filter(process=process)
        cleared, _deleted = cursors.delete()
        links = 0
        if not process:
            links = (
                RecordLink.objects.filter(integration=integration)
                .exclude(fingerprint=CANCELLED)
                .update(fingerprint="")
            )
        integration_event_record(
            integration=integration,
            kind=IntegrationEvent.Kind.SUPPORT,
            message=(
                f"Cursor of {process} reset: its next run pulls from the start."
                if process
                else "Full resync requested: the next run pulls and writes everything again."
            ),
            actor=actor,
            data={"cursors_cleared": cleared, "links_to_rewrite": links, "process": process},
        )
