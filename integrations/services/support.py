"""What support staff do by hand from the admin; every action is recorded on the company's
timeline with who did it."""

from django.db import transaction
from django.utils import timezone

from integrations.models import IntegrationEvent

from .events import integration_event_record


def sync_failures_resolve_by_support(*, failures, actor, note: str) -> int:
    """Close open failures with the reason support gives; returns how many were closed."""
    closed = 0
    with transaction.atomic():
        for failure in failures.filter(resolved_at__isnull=True).select_related("integration"):
            failure.resolved_at = timezone.now()
            failure.resolved_by = actor
            failure.resolution_note = note
            failure.save(update_fields=["resolved_at", "resolved_by", "resolution_note"])
            integration_event_record(
                integration=failure.integration,
                kind=IntegrationEvent.Kind.SUPPORT,
                message=(
                    f"Failure of {failure.object_type} {failure.object_ref} marked resolved: {note}"
                ),
                actor=actor,
                data={"failure": failure.pk},
            )
            closed += 1
    return closed
