"""GET /healthz: can this process reach the database and the broker, and is the tick alive?"""

from datetime import timedelta

from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app

from .models import Heartbeat
from .services.scheduler import TICK

# The tick runs every minute; three missed ticks mean beat or the worker is down.
TICK_STALE_AFTER = timedelta(minutes=3)


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except Exception as error:
        return {"ok": False, "error": error.__class__.__name__}


def _broker() -> dict:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "transport": conn.transport_cls}
    except Exception as error:
        return {"ok": False, "error": error.__class__.__name__}


def _tick() -> dict:
    beat = Heartbeat.objects.filter(name=TICK).first()
    if beat is None:
        return {"ok": False, "last_at": None}
    age = timezone.now() - beat.beat_at
    return {
        "ok": age <= TICK_STALE_AFTER,
        "last_at": beat.beat_at.isoformat(),
        "age_seconds": int(age.total_seconds()),
        **beat.details,
    }


def _events() -> dict:
    """The Fortnox event consumer, as it last reported: connected, tenants, lag, last event. ok is
    None while no consumer has ever reported (e.g. a deployment that has not started one), False
    when its report is stale or it is disconnected with tenants waiting: the scheduled runs still
    sync then, minutes late instead of seconds."""
    from realtime.health import events_health

    return events_health()


@never_cache
@require_GET
def healthz(request):
    """503 when the database or the broker is unreachable (this process cannot serve); a stale
    tick is reported as "degraded" with 200, since web still works without beat."""
    database = _database()
    broker = _broker()
    tick = _tick() if database["ok"] else {"ok": False}
    events = _events() if database["ok"] else {"ok": None}
    if not (database["ok"] and broker["ok"]):
        status = "down"
    elif not tick["ok"] or events["ok"] is False:
        status = "degraded"
    else:
        status = "ok"
    return JsonResponse(
        {"status": status, "database": database, "broker": broker, "tick": tick, "events": events},
        status=503 if status == "down" else 200,
    )
