"""Bringing an integration back after Fortnox refused its refresh token: one e-mail per incident
with a signed, expiring, single-use link; the link's checks; and the run that follows the new
consent.

An incident is one connection needing reactivation since one moment
(FortnoxConnection.needs_reactivation_since): the ReactivationLink row for it is created once
(unique), and the e-mail goes only for a row not yet sent, under its row lock."""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare

from fortnox.models import FortnoxConnection
from integrations.models import Integration, IntegrationEvent, ReactivationLink, SyncRun
from tenants.models import Membership, User

from .events import integration_event_record
from .scheduler import sync_enqueue

logger = logging.getLogger(__name__)

SIGNING_SALT = "integrations.reactivation-link"


class LinkProblem(StrEnum):
    INVALID = "invalid"
    EXPIRED = "expired"
    USED = "used"
    RESOLVED = "resolved"
    OTHER_COMPANY = "other_company"


@dataclass(frozen=True)
class LinkCheck:
    link: ReactivationLink | None
    problem: LinkProblem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def problem_recipients(*, integration: Integration) -> list[str]:
    """The problem address from the settings, else the company's owners."""
    if integration.problem_email:
        return [integration.problem_email]
    return sorted(
        Membership.objects.filter(tenant_id=integration.tenant_id, role=Membership.Role.OWNER)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )


def reactivation_incident_open(*, connection_id: int) -> ReactivationLink | None:
    """Called once the connection was marked: file the incident and queue its e-mail. A second
    call for the same incident does nothing; an integration still being set up gets no e-mail
    (it never ran, and its status page already asks for the consent)."""
    from integrations.tasks import reactivation_email_send as send_task

    connection = FortnoxConnection.objects.filter(pk=connection_id).first()
    if (
        connection is None
        or connection.status != FortnoxConnection.Status.NEEDS_REACTIVATION
        or connection.needs_reactivation_since is None
    ):
        return None
    integration = Integration.objects.filter(
        tenant_id=connection.tenant_id, status=Integration.Status.NEEDS_REACTIVATION
    ).first()
    if integration is None:
        return None
    try:
        with transaction.atomic():
            link = ReactivationLink.objects.create(
                integration=integration,
                connection=connection,
                incident_started_at=connection.needs_reactivation_since,
            )
            transaction.on_commit(lambda: send_task.delay(link.pk))
    except IntegrityError:
        return None  # this incident is already filed (and its e-mail queued or sent)
    return link


def _link_url(token: str) -> str:
    return settings.SITE_URL + reverse("integrations:reactivate", args=[token])


def reactivation_email_send(*, link_id: int) -> bool:
    """Send the incident's e-mail unless it has gone already. The token exists only in this
    e-mail: its hash is stored in the same transaction, so a failed send leaves nothing behind
    and the task's retry makes a new one. Returns whether an e-mail went."""
    with transaction.atomic():
        link = (
            ReactivationLink.objects.select_for_update()
            .select_related("integration__tenant")
            .filter(pk=link_id)
            .first()
        )
        if link is None or link.sent_at is not None:
            return False
        integration = link.integration
        recipients = problem_recipients(integration=integration)
        if not recipients:
            logger.warning("integration %s: nobody to e-mail the reactivation to", integration.pk)
            return False
        now = timezone.now()
        token = signing.dumps({"link": link.pk, "n": secrets.token_urlsafe(16)}, salt=SIGNING_SALT)
        link.token_hash = _token_hash(token)
        link.recipients = recipients
        link.sent_at = now
        link.expires_at = now + timedelta(days=settings.REACTIVATION_LINK_MAX_AGE_DAYS)
        link.save(update_fields=["token_hash", "recipients", "sent_at", "expires_at"])
        integration_event_record(
            integration=integration,
            kind=IntegrationEvent.Kind.EMAIL,
            message=f"Reactivation link e-mailed to {', '.join(recipients)}.",
            data={"type": "reactivation", "link": link.pk, "recipients": recipients},
        )
        tenant = integration.tenant
        context = {
            "tenant": tenant,
            "url": _link_url(token),
            "expires_at": link.expires_at,
            "settings_url": settings.SITE_URL + reverse("integrations:settings"),
        }
        with translation.override(tenant.language):
            subject = render_to_string(
                "integrations/email/reactivation_subject.txt", context
            ).strip()
            message = EmailMultiAlternatives(
                subject=subject,
                body=render_to_string("integrations/email/reactivation.txt", context),
                to=recipients,
            )
            message.attach_alternative(
                render_to_string("integrations/email/reactivation.html", context), "text/html"
            )
        message.send()
    return True


def reactivation_link_check(*, token: str, user: User | None = None) -> LinkCheck:
    """What the link may do. Without a user, only the link itself is checked (before sign-in);
    with one, also that they administer its company."""
    try:
        payload = signing.loads(token, salt=SIGNING_SALT)
        link_id = int(payload["link"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return LinkCheck(link=None, problem=LinkProblem.INVALID)
    link = (
        ReactivationLink.objects.select_related("integration__tenant", "connection")
        .filter(pk=link_id)
        .first()
    )
    if (
        link is None
        or not link.token_hash
        or not constant_time_compare(link.token_hash, _token_hash(token))
    ):
        return LinkCheck(link=None, problem=LinkProblem.INVALID)
    if link.used_at is not None:
        return LinkCheck(link=link, problem=LinkProblem.USED)
    if link.expires_at is None or link.expires_at <= timezone.now():
        return LinkCheck(link=link, problem=LinkProblem.EXPIRED)
    connection = link.connection
    if (
        connection.status != FortnoxConnection.Status.NEEDS_REACTIVATION
        or connection.needs_reactivation_since != link.incident_started_at
    ):
        return LinkCheck(link=link, problem=LinkProblem.RESOLVED)
    if user is not None and not _administers(user=user, tenant_id=link.integration.tenant_id):
        return LinkCheck(link=link, problem=LinkProblem.OTHER_COMPANY)
    return LinkCheck(link=link)


def _administers(*, user: User, tenant_id: int) -> bool:
    membership = Membership.objects.filter(user=user, tenant_id=tenant_id).first()
    return membership is not None and membership.can_manage


def reactivation_link_use(*, token: str, user: User) -> LinkCheck:
    """Spend the link for this administrator of its company; the caller then sends them to the
    Fortnox consent. Two clicks at once: only one spends it."""
    check = reactivation_link_check(token=token, user=user)
    if not check.ok:
        return check
    link = check.link
    with transaction.atomic():
        spent = ReactivationLink.objects.filter(pk=link.pk, used_at__isnull=True).update(
            used_at=timezone.now(), used_by=user
        )
        if not spent:
            return LinkCheck(link=link, problem=LinkProblem.USED)
        integration_event_record(
            integration=link.integration,
            kind=IntegrationEvent.Kind.TOKEN,
            message="Reactivation link opened; on to the Fortnox consent.",
            actor=user,
            data={"link": link.pk},
        )
    return check


def integration_run_after_reactivation(*, connection_id: int) -> bool:
    """The new consent made the integration active again: run at once instead of at the next
    tick, and move the schedule on so the tick does not start a second run."""
    with transaction.atomic():
        integration = (
            Integration.objects.select_for_update()
            .filter(tenant__fortnox_connection__pk=connection_id, status=Integration.Status.ACTIVE)
            .first()
        )
        if integration is None:
            return False
        integration.next_run_at = timezone.now() + timedelta(minutes=integration.interval_minutes)
        integration.save(update_fields=["next_run_at"])
        integration_event_record(
            integration=integration,
            kind=IntegrationEvent.Kind.RUN_REQUESTED,
            message="Reactivated: a run starts at once.",
        )
        sync_enqueue(integration_ids=[integration.pk], trigger=SyncRun.Trigger.EVENT)
    return True
