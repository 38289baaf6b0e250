"""How near-real-time sync is doing, for /healthz, the admin dashboard and the settings page."""

from datetime import timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.models import Heartbeat

from .models import PendingSync, WebhookDelivery, WebhookEndpoint
from .services.fortnox_events import HEARTBEAT

# The consumer reports every few seconds while it runs; a minute of silence means it is down.
STALE_AFTER = timedelta(minutes=1)
# A webhook endpoint that has heard nothing for this long is shown as quiet.
WEBHOOK_RECENT = timedelta(hours=24)


def events_health(*, now=None) -> dict:
    now = now or timezone.now()
    beat = Heartbeat.objects.filter(name=HEARTBEAT).first()
    if beat is None:
        return {"ok": None, "last_at": None}
    details = dict(beat.details)
    age = now - beat.beat_at
    # Connected, or idle because no tenant needs events yet; not reconnecting after an error.
    working = bool(details.get("connected")) or not details.get("error")
    last_event = parse_datetime(details.get("last_event_at") or "")
    return {
        "ok": age <= STALE_AFTER and working,
        "last_at": beat.beat_at.isoformat(),
        "age_seconds": int(age.total_seconds()),
        "last_event_age_seconds": int((now - last_event).total_seconds()) if last_event else None,
        "pending": PendingSync.objects.count(),
        **details,
    }


def webhooks_health(*, now=None) -> dict:
    now = now or timezone.now()
    day_ago = now - WEBHOOK_RECENT
    return {
        "endpoints": WebhookEndpoint.objects.count(),
        "recent_endpoints": WebhookEndpoint.objects.filter(last_received_at__gte=day_ago).count(),
        "deliveries_24h": WebhookDelivery.objects.filter(received_at__gte=day_ago).count(),
    }
