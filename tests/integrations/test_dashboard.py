"""The support dashboard on the admin index: its figures against a known set of companies, and its
cost."""

import re
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations.dashboard import dashboard
from integrations.models import Integration, RunHour, SyncRun
from tests.factories import (
    FortnoxConnectionFactory,
    IntegrationFactory,
    SyncFailureFactory,
    SyncRunFactory,
)

pytestmark = pytest.mark.django_db


def ago(**kwargs):
    # Relative to the moment of the call: a long suite may cross an hour between collection and
    # this test, which must not move the chart's last hour away from the runs it made.
    return timezone.now() - timedelta(**kwargs)


@pytest.fixture
def world():
    """Two healthy companies, one failing, one stale, one paused, one needing reactivation."""
    healthy = IntegrationFactory.create_batch(2, activated_at=ago(days=30))
    for integration in healthy:
        SyncRunFactory(integration=integration)
    failing = IntegrationFactory(activated_at=ago(days=30))
    run = SyncRunFactory(integration=failing, status=SyncRun.Status.PARTIAL)
    SyncFailureFactory(integration=failing, run=run, message="EAN saknas")
    SyncFailureFactory(integration=failing, run=run, message="EAN saknas")
    SyncFailureFactory(integration=failing, run=run, message="Kunden saknas")
    stale = IntegrationFactory(activated_at=ago(days=30), interval_minutes=15)
    old = SyncRunFactory(integration=stale)
    SyncRun.objects.filter(pk=old.pk).update(started_at=ago(minutes=31))
    IntegrationFactory(status=Integration.Status.PAUSED)
    IntegrationFactory(status=Integration.Status.NEEDS_REACTIVATION)
    FortnoxConnectionFactory(refresh_token_issued_at=ago(days=26))
    FortnoxConnectionFactory(refresh_token_issued_at=ago(days=2))
    return failing


def test_figures(world):
    figures = dashboard()

    assert figures["active"] == 4
    assert figures["paused"] == 1
    assert figures["needs_reactivation"] == 1
    assert figures["failing"] == 1
    assert figures["stale"] == 1
    assert figures["runs_24h"] == 4  # the stale one's run is 31 minutes old: counted too
    assert figures["failed_runs_24h"] == 1
    assert figures["failures_24h"] == 3
    assert figures["expiring_tokens"] == 1
    assert figures["top_messages"][0] == {"message": "EAN saknas", "n": 2}
    assert sum(bar.runs for bar in figures["chart"]) == 4
    assert sum(bar.failures for bar in figures["chart"]) == 3
    assert len(figures["chart"]) == 7 * 24 + 1


def test_the_admin_index_shows_the_dashboard_in_bounded_queries(
    staff_client, world, django_assert_max_num_queries
):
    SyncRunFactory.create_batch(30, integration=world)

    with django_assert_max_num_queries(25):
        page = staff_client.get(reverse("admin:index"))

    content = page.content.decode()
    assert page.status_code == 200
    assert "need reactivation" in content
    assert "EAN saknas" in content
    assert "<svg" in content


def run_at(integration, moment, status=SyncRun.Status.SUCCEEDED) -> SyncRun:
    run = SyncRunFactory(integration=integration, status=status)
    SyncRun.objects.filter(pk=run.pk).update(started_at=moment)
    return run


def hour_of(moment):
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def test_a_finished_hour_is_counted_once_and_kept():
    now = timezone.now()
    integration = IntegrationFactory()
    run = run_at(integration, now - timedelta(hours=3), SyncRun.Status.FAILED)
    run_at(integration, now - timedelta(hours=3))

    assert dashboard(now=now)["failed_runs_24h"] == 1

    kept = RunHour.objects.get(hour=hour_of(now - timedelta(hours=3)))
    assert (kept.runs, kept.failed_runs) == (2, 1)
    # Read from RunHour from now on, not counted again from the runs.
    run.delete()
    assert dashboard(now=now)["failed_runs_24h"] == 1


def test_an_hour_with_a_run_still_going_is_counted_live_until_the_run_ends():
    now = timezone.now()
    integration = IntegrationFactory()
    running = run_at(integration, now - timedelta(hours=2), SyncRun.Status.RUNNING)

    assert dashboard(now=now)["runs_24h"] == 1
    assert not RunHour.objects.filter(hour__gte=hour_of(running.started_at)).exists()

    SyncRun.objects.filter(pk=running.pk).update(status=SyncRun.Status.PARTIAL)
    figures = dashboard(now=now)

    assert (figures["runs_24h"], figures["failed_runs_24h"]) == (1, 1)
    assert RunHour.objects.get(hour=hour_of(now - timedelta(hours=2))).failed_runs == 1


def test_the_24_hours_are_the_chart_s_last_24_bars():
    now = timezone.now().replace(minute=30)
    integration = IntegrationFactory()
    for hours in (0, 23, 24, 30):
        run_at(integration, now - timedelta(hours=hours))

    figures = dashboard(now=now)

    assert figures["runs_24h"] == 2  # this hour's and the one 23 hours back
    assert sum(bar.runs for bar in figures["chart"]) == 4


def test_a_week_of_runs_costs_the_dashboard_no_more_queries_than_a_few(staff_client, world):
    staff_client.get(reverse("admin:index"))
    with CaptureQueriesContext(connection) as few:
        staff_client.get(reverse("admin:index"))
    now = timezone.now()
    for hours in range(1, 7 * 24):
        run_at(world, now - timedelta(hours=hours), SyncRun.Status.PARTIAL)
    # History written into the past (only a test can): the kept hours are wrong now.
    RunHour.objects.all().delete()
    staff_client.get(reverse("admin:index"))

    with CaptureQueriesContext(connection) as many:
        page = staff_client.get(reverse("admin:index"))

    assert len(many.captured_queries) == len(few.captured_queries)
    assert page.context["dashboard"]["failed_runs_24h"] == 1 + 23


def test_the_chart_s_numbers_are_svg_numbers_in_swedish_too(staff_client, world):
    """SVG attributes take a decimal point whatever the language: the Swedish admin (the default
    language) must not write 0,534 into a width."""
    page = staff_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="sv")

    content = page.content.decode()
    assert 'lang="sv"' in content
    numbers = re.findall(
        r'<rect class="\w+" x="([^"]*)" y="([^"]*)" width="([^"]*)" height="([^"]*)"', content
    )
    assert len(numbers) == 2 * (7 * 24 + 1)
    assert {value for rect in numbers for value in rect if "," in value} == set()
    assert any("." in value for rect in numbers for value in rect)


def test_the_admin_index_builds_its_app_list_once(staff_client, monkeypatch):
    """The index shows the app list and the page's context holds it for the sidebar: one build."""
    from django.contrib.admin import AdminSite

    built = []
    build = AdminSite._build_app_dict

    def counting(site, request, label=None):
        built.append(label)
        return build(site, request, label)

    monkeypatch.setattr(AdminSite, "_build_app_dict", counting)

    page = staff_client.get(reverse("admin:index"))

    assert page.status_code == 200
    assert "Integrations" in page.content.decode()
    assert built == [None]


def test_the_dashboard_s_figures_are_kept_for_the_configured_seconds(settings, world):
    from django.core.cache import cache

    from integrations.dashboard import dashboard_cached

    cache.clear()
    settings.ADMIN_DASHBOARD_CACHE_SECONDS = 30
    assert dashboard_cached()["runs_24h"] == 4
    SyncRunFactory(integration=world)

    with CaptureQueriesContext(connection) as queries:
        kept = dashboard_cached()

    assert kept["runs_24h"] == 4
    assert len(queries.captured_queries) == 0
    assert "<rect" in kept["chart_svg"]
    cache.clear()
    assert dashboard_cached()["runs_24h"] == 5


def test_with_no_cache_seconds_every_view_counts(settings, world):
    from integrations.dashboard import dashboard_cached

    settings.ADMIN_DASHBOARD_CACHE_SECONDS = 0
    assert dashboard_cached()["runs_24h"] == 4
    SyncRunFactory(integration=world)

    assert dashboard_cached()["runs_24h"] == 5


def test_the_chart_speaks_the_page_s_language_and_each_language_is_kept_apart(settings, world):
    from django.core.cache import cache
    from django.utils import translation

    from integrations.dashboard import dashboard_cache_clear, dashboard_cached

    cache.clear()
    settings.ADMIN_DASHBOARD_CACHE_SECONDS = 30
    with translation.override("sv"):
        swedish = dashboard_cached()["chart_svg"]
    with translation.override("en"):
        english = dashboard_cached()["chart_svg"]

    assert " körningar, " in swedish and " runs, " not in swedish
    assert " runs, " in english and " körningar, " not in english
    dashboard_cache_clear()
    SyncRunFactory(integration=world)
    with translation.override("sv"):
        assert dashboard_cached()["runs_24h"] == 5
