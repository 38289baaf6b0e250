from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from tenants.models import Tenant

from .models import FortnoxConnection, PendingFortnoxActivation


def connection_for_tenant(*, tenant: Tenant) -> FortnoxConnection | None:
    return FortnoxConnection.objects.filter(tenant=tenant).first()


def keep_alive_cutoff(*, now: datetime) -> datetime:
    """Refresh tokens issued before this are refreshed by the keep-alive beat."""
    return now - timedelta(days=settings.FORTNOX_KEEP_ALIVE_AFTER_DAYS)


def connections_due_keep_alive(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        FortnoxConnection.objects.filter(status=FortnoxConnection.Status.ACTIVE)
        .filter(
            Q(refresh_token_issued_at__lt=keep_alive_cutoff(now=now))
            | Q(refresh_token_issued_at__isnull=True)
        )
        .order_by("refresh_token_issued_at")
        .values_list("pk", flat=True)
    )


def pending_activation_unclaimed(*, activation_id) -> PendingFortnoxActivation | None:
    if not activation_id:
        return None
    try:
        return PendingFortnoxActivation.objects.filter(
            pk=activation_id, claimed_at__isnull=True
        ).first()
    except ValidationError:  # not a UUID: a session from before, or tampered with
        return None
