"""What the settings page shows about near-real-time sync for one company."""

from datetime import timedelta

from django.db.models import Max
from django.utils import timezone

from fortnox.models import FortnoxConnection
from tenants.models import Tenant

from .health import WEBHOOK_RECENT, events_health
from .models import FortnoxEventOffset, WebhookEndpoint


def realtime_status(*, tenant: Tenant, endpoint: WebhookEndpoint | None) -> dict:
    now = timezone.now()
    connection = FortnoxConnection.objects.filter(tenant=tenant).first()
    last_event_at = (
        FortnoxEventOffset.objects.filter(fortnox_tenant_id=connection.fortnox_tenant_id).aggregate(
            last=Max("updated_at")
        )["last"]
        if connection is not None
        else None
    )
    received = endpoint.last_received_at if endpoint is not None else None
    return {
        "events_connected": bool(events_health(now=now).get("ok")),
        "last_event_at": last_event_at,
        "last_webhook_at": received,
        "webhooks_recent": received is not None and received >= now - WEBHOOK_RECENT,
        "recent_hours": int(WEBHOOK_RECENT / timedelta(hours=1)),
    }
