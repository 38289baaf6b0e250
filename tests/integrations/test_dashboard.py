"""The support dashboard on the admin index: its figures against a known set of companies, and its
cost."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.dashboard import dashboard
from integrations.models import Integration, SyncRun
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
