"""The e-mail to the problem address when objects keep failing.

The rule: after a run, when an open failure first seen more than STUCK_AFTER ago was seen again in
that run (so retries have not cured it), the problem address gets one e-mail listing the open
failures, unless such an e-mail already went to this integration within the last EMAIL_EVERY."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from integrations.models import Integration, IntegrationEvent, SyncFailure, SyncRun

from .events import integration_event_record
from .reactivation import problem_recipients

logger = logging.getLogger(__name__)

STUCK_AFTER = timedelta(hours=1)
EMAIL_EVERY = timedelta(days=1)
FAILURES_EMAIL = "failures"
LISTED_AT_MOST = 20


def _stuck_failures(*, run: SyncRun, now):
    return SyncFailure.objects.filter(
        integration_id=run.integration_id,
        resolved_at__isnull=True,
        first_seen_at__lte=now - STUCK_AFTER,
        last_seen_at__gte=run.started_at,
    )


def _emailed_recently(*, integration_id: int, now) -> bool:
    return IntegrationEvent.objects.filter(
        integration_id=integration_id,
        kind=IntegrationEvent.Kind.EMAIL,
        data__type=FAILURES_EMAIL,
        created_at__gt=now - EMAIL_EVERY,
    ).exists()


def failures_email_queue(*, run: SyncRun) -> bool:
    """After a run: queue the e-mail when the rule says so (the task checks again under a lock)."""
    from integrations.tasks import failures_email_send as send_task

    if run.status == SyncRun.Status.SUCCEEDED:
        # No object failed in this run, so no failure was seen in it: nothing to ask.
        return False
    now = timezone.now()
    if not _stuck_failures(run=run, now=now).exists():
        return False
    if _emailed_recently(integration_id=run.integration_id, now=now):
        return False
    transaction.on_commit(lambda: send_task.delay(run.pk))
    return True


def failures_email_send(*, run_id: int) -> bool:
    """Send the failures e-mail for this run's integration if still due. Returns whether it went."""
    run = SyncRun.objects.filter(pk=run_id).first()
    if run is None:
        return False
    now = timezone.now()
    with transaction.atomic():
        integration = (
            Integration.objects.select_for_update()
            .select_related("tenant")
            .get(pk=run.integration_id)
        )
        if _emailed_recently(integration_id=integration.pk, now=now):
            return False
        stuck = list(_stuck_failures(run=run, now=now).order_by("first_seen_at")[:LISTED_AT_MOST])
        recipients = problem_recipients(integration=integration)
        if not stuck or not recipients:
            return False
        open_count = SyncFailure.objects.filter(
            integration=integration, resolved_at__isnull=True
        ).count()
        integration_event_record(
            integration=integration,
            kind=IntegrationEvent.Kind.EMAIL,
            message=f"Failing objects e-mailed to {', '.join(recipients)}.",
            data={"type": FAILURES_EMAIL, "run": run.pk, "recipients": recipients},
        )
        tenant = integration.tenant
        context = {
            "tenant": tenant,
            "failures": stuck,
            "open_count": open_count,
            "status_url": settings.SITE_URL + reverse("integrations:home"),
        }
        with translation.override(tenant.language):
            subject = render_to_string("integrations/email/failures_subject.txt", context).strip()
            message = EmailMultiAlternatives(
                subject=subject,
                body=render_to_string("integrations/email/failures.txt", context),
                to=recipients,
            )
            message.attach_alternative(
                render_to_string("integrations/email/failures.html", context), "text/html"
            )
        message.send()
    return True
