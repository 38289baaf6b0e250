"""The support dashboard's figures (the admin index): a fixed, small number of queries whatever the
number of tenants and runs, none of which reads more than the last hour of runs (10,000 companies
make 40,000 runs an hour; a day's million is read from the hourly counts in RunHour)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.db.models.functions import TruncHour
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext

from fortnox.models import FortnoxConnection

from .models import Integration, RunHour, SyncFailure, SyncRun

CHART_DAYS = 7
TOP_MESSAGES = 20
REFRESH_EXPIRY_WARNING = timedelta(days=7)
OK_RUNS = (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL)
FAILED_RUNS = (SyncRun.Status.FAILED, SyncRun.Status.PARTIAL)
HOUR = timedelta(hours=1)


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
    few distinct values, so this is one query per interval in use; each reads the runs of the last
    two intervals once (NOT IN a hashed list), instead of probing the run history of every
    integration."""
    active = Integration.objects.filter(status=Integration.Status.ACTIVE)
    stale = 0
    for interval in active.values_list("interval_minutes", flat=True).distinct():
        threshold = now - timedelta(minutes=2 * interval)
        recent_ok = SyncRun.objects.filter(status__in=OK_RUNS, started_at__gte=threshold).values(
            "integration_id"
        )
        stale += (
            active.filter(interval_minutes=interval, activated_at__lt=threshold)
            .exclude(pk__in=recent_ok)
            .count()
        )
    return stale


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _runs_by_hour(runs) -> dict[datetime, tuple[int, int]]:
    return {
        hour: (count, failed)
        for hour, count, failed in runs.annotate(hour=TruncHour("started_at", tzinfo=UTC))
        .values_list("hour")
        .annotate(n=Count("id"), failed=Count("id", filter=Q(status__in=FAILED_RUNS)))
        .values_list("hour", "n", "failed")
    }


def run_hours(*, start: datetime, now: datetime) -> dict[datetime, tuple[int, int]]:
    """(runs, failed runs) for each hour from `start` to now. An hour whose runs have all finished
    is counted once and kept in RunHour; only the hours since the oldest running run (normally
    just the current one) are counted from the runs on every call."""
    oldest_running = SyncRun.objects.filter(status=SyncRun.Status.RUNNING).aggregate(
        oldest=Min("started_at")
    )["oldest"]
    settled = _hour(min(now, oldest_running or now))
    hours = {
        hour: (runs, failed)
        for hour, runs, failed in RunHour.objects.filter(
            hour__gte=start, hour__lt=settled
        ).values_list("hour", "runs", "failed_runs")
    }
    missing = []
    hour = start
    while hour < settled:
        if hour not in hours:
            missing.append(hour)
        hour += HOUR
    if missing:
        counted = _runs_by_hour(
            SyncRun.objects.filter(started_at__gte=missing[0], started_at__lt=settled)
        )
        for hour in missing:
            hours[hour] = counted.get(hour, (0, 0))
        # Two dashboards loading at once both count; the first to store wins, with the same sums.
        RunHour.objects.bulk_create(
            [RunHour(hour=h, runs=hours[h][0], failed_runs=hours[h][1]) for h in missing],
            ignore_conflicts=True,
        )
    hours.update(_runs_by_hour(SyncRun.objects.filter(started_at__gte=settled)))
    return hours


def _chart(start: datetime, per_hour: dict) -> list[Bar]:
    runs = {hour: counts[0] for hour, counts in per_hour.items()}
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


def chart_svg(bars: list[Bar]) -> SafeString:
    """The chart's bars as SVG elements, drawn here rather than in the template: the template
    engine writes numbers in the page's language (0,534 in Swedish), which SVG does not read.
    Only the label is text; the rest are numbers formatted here (format_html's escaping of all
    2,000 of them took 7.8 ms a page on the loaded benchmark machine, these f-strings 2.5 ms)."""
    # One translation for every bar (2,000 gettext lookups would cost a page more than the SVG).
    title = gettext("%(hour)s: %(runs)d runs, %(failures)d failing objects")
    return mark_safe(  # noqa: S308 - numbers, and the title escaped
        "\n".join(
            "<g><title>"
            + escape(title % {"hour": bar.label, "runs": bar.runs, "failures": bar.failures})
            + f'</title><rect class="runs" x="{bar.x:g}" y="{bar.runs_y:g}" width="{bar.width:g}"'
            f' height="{bar.runs_height:g}"/><rect class="failures" x="{bar.x:g}"'
            f' y="{bar.failures_y:g}" width="{bar.width:g}" height="{bar.failures_height:g}"/></g>'
            for bar in bars
        )
    )


CACHE_KEY = "admin-dashboard"


def dashboard_cache_key(language: str | None = None) -> str:
    """One cached dashboard per language: the chart's titles are translated when it is drawn."""
    return f"{CACHE_KEY}:{language or get_language()}"


def dashboard_cache_clear() -> None:
    cache.delete_many([dashboard_cache_key(code) for code, _name in settings.LANGUAGES])


def dashboard_cached() -> dict:
    """The figures as counted at most ADMIN_DASHBOARD_CACHE_SECONDS ago."""
    seconds = settings.ADMIN_DASHBOARD_CACHE_SECONDS
    if not seconds:
        return dashboard()
    return cache.get_or_set(dashboard_cache_key(), dashboard, seconds)


def dashboard(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    day_ago = now - timedelta(days=1)
    chart_start = _hour(now - timedelta(days=CHART_DAYS))
    per_hour = run_hours(start=chart_start, now=now)
    # "24 h" of runs are the chart's last 24 bars: the current hour so far and the 23 before.
    last_day = [counts for hour, counts in per_hour.items() if hour > _hour(now) - 24 * HOUR]
    by_status = dict(
        Integration.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    open_failures = SyncFailure.objects.filter(resolved_at__isnull=True)
    expiry_line = now - timedelta(days=settings.FORTNOX_REFRESH_TOKEN_LIFETIME_DAYS)
    bars = _chart(chart_start, per_hour)
    return {
        "active": by_status.get(Integration.Status.ACTIVE, 0),
        "paused": by_status.get(Integration.Status.PAUSED, 0),
        "needs_reactivation": by_status.get(Integration.Status.NEEDS_REACTIVATION, 0),
        "setup": by_status.get(Integration.Status.SETUP, 0),
        "failing": Integration.objects.filter(
            Exists(open_failures.filter(integration=OuterRef("pk"))),
            status=Integration.Status.ACTIVE,
        ).count(),
        "runs_24h": sum(runs for runs, _failed in last_day),
        "failed_runs_24h": sum(failed for _runs, failed in last_day),
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
        "chart": bars,
        "chart_svg": chart_svg(bars),
        "chart_days": CHART_DAYS,
        "events": _realtime(now),
    }


def _realtime(now: datetime) -> dict:
    from realtime.health import events_health, webhooks_health

    return {**events_health(now=now), "webhooks": webhooks_health(now=now)}
