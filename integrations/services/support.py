"""What support staff do by hand from the admin; every action is recorded on the company's
timeline with who did it."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.models import Integration, IntegrationEvent, ReactivationLink

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


def reactivation_email_resend(*, integration: Integration, actor) -> None:
    """E-mail the open incident's reactivation link again, as a new link (the one sent before
    stops working)."""
    from integrations.tasks import reactivation_email_send

    with transaction.atomic():
        link = (
            ReactivationLink.objects.select_for_update()
            .filter(
                integration=integration,
                used_at__isnull=True,
                integration__status=Integration.Status.NEEDS_REACTIVATION,
            )
            .order_by("-incident_started_at")
            .first()
        )
        if link is None:
            raise ValidationError(_("There is no open reactivation to send again."))
        link.sent_at = None
        link.token_hash = ""
        link.save(update_fields=["sent_at", "token_hash"])
        integration_event_record(
            integration=integration,
            kind=IntegrationEvent.Kind.SUPPORT,
            message="Reactivation e-mail sent again by support.",
            actor=actor,
            data={"link": link.pk},
        )
        transaction.on_commit(lambda: reactivation_email_send.delay(link.pk))
