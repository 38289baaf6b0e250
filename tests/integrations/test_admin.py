"""Support staff's actions on integrations in the admin."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from fortnox.models import FortnoxConnection
from integrations.models import (
    Integration,
    IntegrationEvent,
    ReactivationLink,
    RecordLink,
    SyncCursor,
    SyncRun,
)
from integrations.services import integrations as services
from integrations.services.reactivation import reactivation_email_send, reactivation_incident_open
from integrations.services.retention import sync_runs_prune
from tests.factories import (
    FortnoxConnectionFactory,
    IntegrationFactory,
    SyncFailureFactory,
    SyncRunFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def act(client, action, *integrations, **extra):
    return client.post(
        reverse("admin:integrations_integration_changelist"),
        {"action": action, "_selected_action": [i.pk for i in integrations], **extra},
        follow=True,
    )


def test_changelist_lists_and_searches_integrations(staff_client):
    IntegrationFactory(tenant__name="Ankdamm AB")
    IntegrationFactory(tenant__name="Björkvik AB")

    page = staff_client.get(reverse("admin:integrations_integration_changelist"), {"q": "Ankdamm"})

    assert "Ankdamm AB" in page.content.decode()
    assert "Björkvik AB" not in page.content.decode()


def test_resync_clears_cursors_and_fingerprints_but_keeps_links(staff_client):
    integration = IntegrationFactory()
    SyncCursor.objects.create(integration=integration, process="articles", value="2026-11-01")
    now = timezone.now()
    RecordLink.objects.create(
        integration=integration,
        object_type="article",
        fortnox_key="1",
        fingerprint="ab",
        synced_at=now,
    )
    RecordLink.objects.create(
        integration=integration,
        object_type="order",
        fortnox_key="7",
        ongoing_key="70",
        fingerprint="cancelled",
        synced_at=now,
    )
    untouched = IntegrationFactory()
    SyncCursor.objects.create(integration=untouched, process="articles", value="2026-11-01")

    confirm = act(staff_client, "resync", integration)
    assert "starts its pull from the beginning" in confirm.content.decode()
    assert SyncCursor.objects.filter(integration=integration).exists()

    response = act(staff_client, "resync", integration, apply="1", process="")

    assert "Resync requested: 1" in response.content.decode()
    assert not SyncCursor.objects.filter(integration=integration).exists()
    assert SyncCursor.objects.filter(integration=untouched).exists()
    links = dict(RecordLink.objects.values_list("fortnox_key", "fingerprint"))
    assert links == {"1": "", "7": "cancelled"}
    event = IntegrationEvent.objects.get(integration=integration, kind="support")
    assert event.data == {"cursors_cleared": 1, "links_to_rewrite": 1, "process": ""}


def test_one_process_cursor_can_be_reset_alone(staff_client):
    integration = IntegrationFactory()
    for process in ("articles", "sales_orders"):
        SyncCursor.objects.create(integration=integration, process=process, value="2026-11-01")
    RecordLink.objects.create(
        integration=integration,
        object_type="order",
        fortnox_key="7",
        fingerprint="ab",
        synced_at=timezone.now(),
    )

    act(staff_client, "resync", integration, apply="1", process="sales_orders")

    assert list(SyncCursor.objects.values_list("process", flat=True)) == ["articles"]
    assert RecordLink.objects.get().fingerprint == "ab"
    event = IntegrationEvent.objects.get(integration=integration, kind="support")
    assert "Cursor of sales_orders reset" in event.message


def test_pause_and_resume_from_the_admin(staff_client):
    integration = IntegrationFactory()

    act(staff_client, "pause", integration)
    integration.refresh_from_db()
    assert integration.status == Integration.Status.PAUSED

    act(staff_client, "resume", integration)
    integration.refresh_from_db()
    assert integration.status == Integration.Status.ACTIVE


@pytest.fixture
def support_client(client):
    from django.contrib.auth.models import Group

    from config.admin import support_group_sync

    support_group_sync()
    person = UserFactory(is_staff=True, email="support@example.com")
    person.groups.add(Group.objects.get(name="Support"))
    client.force_login(person)
    client.person = person
    return client


def test_support_marks_failures_resolved_with_a_comment(support_client):
    failure = SyncFailureFactory(object_ref="1042")
    url = reverse("admin:integrations_syncfailure_changelist")
    selection = {"action": "resolve", "_selected_action": [failure.pk]}

    confirm = support_client.post(url, selection)
    assert "These open failures will be marked resolved" in confirm.content.decode()
    failure.refresh_from_db()
    assert failure.resolved_at is None

    support_client.post(url, {**selection, "apply": "1", "note": "Fixed by hand in the WMS"})

    failure.refresh_from_db()
    assert failure.resolved_at is not None
    assert failure.resolution_note == "Fixed by hand in the WMS"
    assert failure.resolved_by == support_client.person
    event = IntegrationEvent.objects.get(integration=failure.integration, kind="support")
    assert event.actor == support_client.person
    assert "1042" in event.message


def test_the_timeline_merges_runs_and_events(support_client):
    integration = IntegrationFactory(tenant__name="Tidslinje AB")
    SyncRunFactory(integration=integration, status="partial")
    services.integration_pause(integration=integration, actor=support_client.person)

    page = support_client.get(reverse("admin:integrations_timeline", args=[integration.pk]))

    content = page.content.decode()
    assert page.status_code == 200
    assert "Timeline of Tidslinje AB" in content
    assert "Some objects failed" in content  # the partial run's status
    assert "support@example.com" in content


def test_search_finds_a_company_by_order_or_article_number(staff_client):
    wanted = IntegrationFactory(tenant__name="Ordrar AB")
    IntegrationFactory(tenant__name="Andra AB")
    RecordLink.objects.create(
        integration=wanted, object_type="order", fortnox_key="1042", synced_at=timezone.now()
    )
    failing = IntegrationFactory(tenant__name="Artiklar AB")
    SyncFailureFactory(integration=failing, object_ref="A-77")

    by_order = staff_client.get(reverse("admin:integrations_integration_changelist"), {"q": "1042"})
    by_article = staff_client.get(
        reverse("admin:integrations_integration_changelist"), {"q": "A-77"}
    )

    assert "Ordrar AB" in by_order.content.decode()
    assert "Andra AB" not in by_order.content.decode()
    assert "Artiklar AB" in by_article.content.decode()


def test_support_sees_everything_but_deletes_nothing_and_sees_no_secret(support_client):
    integration = IntegrationFactory()
    connection = FortnoxConnectionFactory(refresh_token="very-secret-refresh-token")

    assert (
        support_client.get(reverse("admin:integrations_integration_changelist")).status_code == 200
    )
    assert (
        support_client.get(
            reverse("admin:integrations_integration_delete", args=[integration.pk])
        ).status_code
        == 403
    )
    page = support_client.get(
        reverse("admin:fortnox_fortnoxconnection_change", args=[connection.pk])
    )
    assert page.status_code == 200
    assert "very-secret-refresh-token" not in page.content.decode()
    assert 'field-refresh_token"' not in page.content.decode()
    actions = (
        support_client.get(reverse("admin:integrations_integration_changelist"))
        .context["action_form"]
        .fields["action"]
        .choices
    )
    assert "delete_selected" not in [name for name, _label in actions]


def test_a_failure_shows_the_request_and_answer_behind_it(support_client):
    failure = SyncFailureFactory(
        details={
            "exchange": {
                "method": "PUT",
                "url": "https://api.ongoingsystems.se/demo/api/v1/orders",
                "status": 500,
                "request_body": {"orderNumber": "1042", "password": "***"},
                "response_body": {"Message": "An error has occurred."},
            }
        }
    )

    page = support_client.get(
        reverse("admin:integrations_syncfailure_change", args=[failure.pk])
    ).content.decode()

    assert "An error has occurred." in page
    assert "&quot;orderNumber&quot;: &quot;1042&quot;" in page


def test_support_sends_the_reactivation_email_again_with_a_new_link(
    staff_client, django_capture_on_commit_callbacks
):
    integration = IntegrationFactory(
        status=Integration.Status.NEEDS_REACTIVATION, problem_email="drift@example.com"
    )
    connection = FortnoxConnectionFactory(
        tenant=integration.tenant,
        status=FortnoxConnection.Status.NEEDS_REACTIVATION,
        needs_reactivation_since=timezone.now(),
    )
    send_now = mock.patch(
        "integrations.tasks.reactivation_email_send.delay",
        side_effect=lambda link_id: reactivation_email_send(link_id=link_id),
    )
    with send_now, django_capture_on_commit_callbacks(execute=True):
        reactivation_incident_open(connection_id=connection.pk)
    first = ReactivationLink.objects.get().token_hash

    with send_now, django_capture_on_commit_callbacks(execute=True):
        response = act(staff_client, "resend_reactivation", integration)

    assert "Reactivation e-mails queued: 1" in response.content.decode()
    assert len(mail.outbox) == 2
    assert ReactivationLink.objects.get().token_hash not in ("", first)
    assert IntegrationEvent.objects.filter(integration=integration, kind="support").exists()


def test_resending_without_an_open_reactivation_says_so(staff_client):
    integration = IntegrationFactory()

    response = act(staff_client, "resend_reactivation", integration)

    assert "There is no open reactivation to send again." in response.content.decode()


def test_support_retries_selected_failures(support_client, django_capture_on_commit_callbacks):
    failure = SyncFailureFactory(object_ref="1042")

    with (
        mock.patch("integrations.tasks.integration_sync.delay") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        support_client.post(
            reverse("admin:integrations_syncfailure_changelist"),
            {"action": "retry", "_selected_action": [failure.pk]},
        )

    failure.refresh_from_db()
    assert failure.retry_requested_at is not None
    queued.assert_called_once()
    event = IntegrationEvent.objects.get(integration=failure.integration, kind="run_requested")
    assert event.actor == support_client.person


def test_old_runs_are_pruned_and_their_failures_kept():
    integration = IntegrationFactory()
    old = SyncRunFactory(integration=integration)
    still_running = SyncRunFactory(integration=integration, status=SyncRun.Status.RUNNING)
    recent = SyncRunFactory(integration=integration)
    SyncRun.objects.filter(pk__in=[old.pk, still_running.pk]).update(
        started_at=timezone.now() - timedelta(days=91)
    )
    failure = SyncFailureFactory(integration=integration, run=old)

    deleted = sync_runs_prune()

    assert deleted == 1
    assert set(SyncRun.objects.values_list("pk", flat=True)) == {still_running.pk, recent.pk}
    failure.refresh_from_db()
    assert failure.run is None


@pytest.mark.parametrize(
    "changelist",
    [
        "admin:integrations_integration_changelist",
        "admin:integrations_syncrun_changelist",
        "admin:integrations_syncfailure_changelist",
        "admin:integrations_recordlink_changelist",
        "admin:integrations_integrationevent_changelist",
        "admin:fortnox_fortnoxconnection_changelist",
    ],
)
def test_change_lists_cost_the_same_few_queries_whatever_their_size(
    staff_client, changelist, django_assert_max_num_queries
):
    def seed(count):
        for _ in range(count):
            integration = IntegrationFactory()
            run = SyncRunFactory(integration=integration)
            SyncFailureFactory(integration=integration, run=run)
            FortnoxConnectionFactory(tenant=integration.tenant)
            RecordLink.objects.create(
                integration=integration,
                object_type="order",
                fortnox_key=str(integration.pk),
                synced_at=timezone.now(),
            )
            services.integration_pause(integration=integration)

    seed(2)
    with CaptureQueriesContext(connection) as small:
        assert staff_client.get(reverse(changelist)).status_code == 200
    seed(20)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert staff_client.get(reverse(changelist)).status_code == 200
