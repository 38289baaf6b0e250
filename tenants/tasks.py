"""Thin Celery tasks: ids in, the e-mail rendered from the reloaded rows."""

from celery import shared_task

from .emails import email_send
from .models import Invitation
from .services import INVITATION_LIFETIME, invitation_url


@shared_task(name="tenants.tasks.tenant_invitation_send", ignore_result=True)
def tenant_invitation_send(invitation_id: int, token: str) -> None:
    invitation = (
        Invitation.objects.select_related("tenant", "invited_by")
        .filter(pk=invitation_id, accepted_at__isnull=True)
        .first()
    )
    if invitation is None:  # revoked or accepted before the worker got to it
        return
    email_send(
        to=invitation.email,
        template="emails/tenant_invitation",
        context={
            "invitation": invitation,
            "tenant": invitation.tenant,
            "sender": invitation.invited_by,
            "url": invitation_url(token=token),
            "days": INVITATION_LIFETIME.days,
        },
        language=invitation.tenant.language,
    )
