"""Thin Celery tasks: ids in, services do the work."""

import logging

from celery import shared_task
from django.db import transaction

from tenants.emails import email_send
from tenants.models import Tenant, User

from .errors import FortnoxError
from .selectors import connections_due_keep_alive
from .services.connections import pending_activations_delete_stale
from .services.consent_links import CONSENT_LINK_LIFETIME, consent_link_url
from .services.tokens import connection_keep_alive

logger = logging.getLogger(__name__)


@shared_task(name="fortnox.tasks.fortnox_connections_keep_alive", ignore_result=True)
def fortnox_connections_keep_alive() -> int:
    """Beat: refresh every connection whose refresh token has gone unused for a week, one task
    each, so that a paused integration does not lose its consent after 31 days."""
    connection_ids = connections_due_keep_alive()

    def send():
        for connection_id in connection_ids:
            fortnox_connection_keep_alive.delay(connection_id)

    transaction.on_commit(send)
    pending_activations_delete_stale()
    return len(connection_ids)


@shared_task(name="fortnox.tasks.fortnox_connection_keep_alive", ignore_result=True)
def fortnox_connection_keep_alive(connection_id: int) -> bool:
    try:
        return connection_keep_alive(connection_id=connection_id)
    except FortnoxError as error:
        # Already recorded on the connection (and, for a dead token, on the timeline).
        logger.warning("fortnox keep-alive of connection %s failed: %s", connection_id, error)
        return False


@shared_task(name="fortnox.tasks.fortnox_consent_link_send", ignore_result=True)
def fortnox_consent_link_send(
    tenant_id: int, email: str, token: str, sender_id: int | None = None
) -> None:
    tenant = Tenant.objects.get(pk=tenant_id)
    sender = User.objects.filter(pk=sender_id).first() if sender_id else None
    email_send(
        to=email,
        template="emails/fortnox_consent_link",
        context={
            "tenant": tenant,
            "sender": sender,
            "url": consent_link_url(token=token),
            "days": CONSENT_LINK_LIFETIME.days,
        },
        language=tenant.language,
    )
