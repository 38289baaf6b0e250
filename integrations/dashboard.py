"""The support dashboard's figures (the admin index): a fixed, small number of queries whatever the
number of tenants and runs, each served by an index."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef
from django.db.models.functions import TruncHour
from django.utils import timezone

from fortnox.models import FortnoxConnection

from .models import Integration, SyncFailure, SyncRun

CHART_DAYS = 7
TOP_MESSAGES = 20
REFRESH_EXPIRY_WARNING = timedelta(days=7)
OK_RUNS = (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL)


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    runs_height: float
    failures_height: float
    runs_y: float
    failures_y: float
    label: str
    runs: int
    failures: int


def _stale(now: datetime) -> int:
    """Active integrations whose last good run is older than twice their interval. Intervals take
    few distinct values, so this is one query per interval in use, each an anti-join on the run
    history index."""
    active = Integration.objects.filter(status=Integration.Status.ACTIVE)
    stale = 0
    for interval in active.values_list("interval_minutes", flat=True).distinct():
        threshold = now - timedelta(minutes=2 * interval)
        recent_ok = SyncRun.objects.filter(
            integration=OuterRef("pk"), status__in=OK_RUNS, started_at__gte=threshold
        )
        stale += (
            active.filter(interval_minutes=interval, activated_at__lt=threshold)
            .exclude(Exists(recent_ok))
            .count()
        )
    return stale


def _chart(now: datetime) -> list[Bar]:
    start = (now - timedelta(days=CHART_DAYS)).replace(minute=0, second=0, microsecond=0)
    runs = dict(
        SyncRun.objects.filter(started_at__gte=start)
        .annotate(hour=TruncHour("started_at"))
        .values_list("hour")
        .annotate(n=Count("id"))
        .values_list("hour", "n")
    )
    failures = dict(
        SyncFailure.objects.filter(last_seen_at__gte=start)
        .annotate(hour=TruncHour("last_seen_at"))
        .values_list("hour")
        .annotate(n=Count("id"))
        .values_list("hour", "n")
    )
    hours = [start + timedelta(hours=index) for index in range(CHART_DAYS * 24 + 1)]
    peak = max([1, *runs.values(), *failures.values()])
    width = 100 / len(hours)
    zone = timezone.get_current_timezone()
    bars = []
    for index, hour in enumerate(hours):
        runs_height = round(runs.get(hour, 0) * 100 / peak, 2)
        failures_height = round(failures.get(hour, 0) * 100 / peak, 2)
        bars.append(
            Bar(
                x=round(index * width, 3),
                width=round(width * 0.9, 3),
                runs_height=runs_height,
                failures_height=failures_height,
                runs_y=round(100 - runs_height, 2),
                failures_y=round(100 - failures_height, 2),
                label=f"{hour.astimezone(zone):%Y-%m-%d %H:00}",
                runs=runs.get(hour, 0),
                failures=failures.get(hour, 0),
            )
        )
    return bars


def dashboard(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    day_ago = now - timedelta(days=1)
    by_status = dict(
        Integration.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    open_failures = SyncFailure.objects.filter(resolved_at__isnull=True)
    expiry_line = now - timedelta(days=settings.FORTNOX_REFRESH_TOKEN_LIFETIME_DAYS)
    return {
        "active": by_status.get(Integration.Status.ACTIVE, 0),
        "paused": by_status.get(Integration.Status.PAUSED, 0),
        "needs_reactivation": by_status.get(Integration.Status.NEEDS_REACTIVATION, 0),
        "setup": by_status.get(Integration.Status.SETUP, 0),
        "failing": Integration.objects.filter(
            Exists(open_failures.filter(integration=OuterRef("pk"))),
            status=Integration.Status.ACTIVE,
        ).count(),
        "runs_24h": SyncRun.objects.filter(started_at__gte=day_ago).count(),
        "failed_runs_24h": SyncRun.objects.filter(
            started_at__gte=day_ago, status__in=(SyncRun.Status.FAILED, SyncRun.Status.PARTIAL)
        ).count(),
        "failures_24h": SyncFailure.objects.filter(last_seen_at__gte=day_ago).count(),
        "stale": _stale(now),
        "expiring_tokens": FortnoxConnection.objects.filter(
            status=FortnoxConnection.Status.ACTIVE,
            refresh_token_issued_at__lt=expiry_line + REFRESH_EXPIRY_WARNING,
        ).count(),
        "top_messages": list(
            open_failures.values("message")
            .annotate(n=Count("id"))
            .order_by("-n", "message")[:TOP_MESSAGES]
        ),
        "chart": _chart(now),
        "chart_days": CHART_DAYS,
        "events": _realtime(now),
    }


def _realtime(now: datetime) -> dict:
    from realtime.health import events_health, webhooks_health

    return {**events_health(now=now), "webhooks": webhooks_health(now=now)}
