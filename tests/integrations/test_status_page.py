"""The status page: last and next run, retry per open failure, the progress of a running run (the
engine writes its counts while it runs), the set-up steps, and the failing-objects e-mail."""

from dataclasses import replace
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from integrations.models import Integration, IntegrationEvent, SyncFailure, SyncRun
from integrations.processes import registry
from integrations.selectors import failed_refs_to_retry
from integrations.services import sync as sync_service
from integrations.services.failures import sync_failure_record
from integrations.services.problem_emails import failures_email_send
from integrations.services.sync import integration_sync
from tenants.models import Membership
from tests.factories import (
    FortnoxConnectionFactory,
    MembershipFactory,
    OngoingConnectionFactory,
    SyncFailureFactory,
    SyncRunFactory,
)

pytestmark = pytest.mark.django_db

seen_mid_run: list[dict] = []


def many_objects(context):
    """Handles 60 objects; after each 10 reads what the status page would read."""
    for number in range(60):
        context.count("created")
        if number % 10 == 9:
            seen_mid_run.append(SyncRun.objects.get(pk=context.run.pk).counts)


@pytest.fixture
def integration(member):
    integration = member.tenant.integrations.get()
    Integration.objects.filter(pk=integration.pk).update(
        status=Integration.Status.ACTIVE, next_run_at=timezone.now() + timedelta(minutes=7)
    )
    integration.refresh_from_db()
    return integration


@pytest.fixture
def sync_queued():
    with mock.patch("integrations.tasks.integration_sync.delay") as delay:
        yield delay


# --- last and next run ---------------------------------------------------------------------------


def test_status_light_shows_last_and_next_run(member_client, integration):
    SyncRunFactory(integration=integration, status=SyncRun.Status.SUCCEEDED)

    content = member_client.get(reverse("integrations:home")).content.decode()

    assert "Running fine." in content
    assert "Last run" in content
    assert "Next run" in content


# --- retry ---------------------------------------------------------------------------------------


def test_a_manager_sees_a_retry_button_per_open_failure(member_client, integration):
    failure = SyncFailureFactory(integration=integration)

    content = member_client.get(reverse("integrations:home")).content.decode()

    assert reverse("integrations:failure_retry", args=[failure.pk]) in content


def test_a_viewer_sees_no_retry_button_and_may_not_post(client, member, integration):
    failure = SyncFailureFactory(integration=integration)
    viewer = MembershipFactory(tenant=member.tenant, role=Membership.Role.VIEWER)
    client.force_login(viewer.user)

    content = client.get(reverse("integrations:home")).content.decode()
    response = client.post(reverse("integrations:failure_retry", args=[failure.pk]))

    assert reverse("integrations:failure_retry", args=[failure.pk]) not in content
    assert response.status_code == 403
    failure.refresh_from_db()
    assert failure.retry_requested_at is None


def test_retry_marks_the_failure_and_queues_a_run(
    member_client, integration, sync_queued, django_capture_on_commit_callbacks
):
    failure = SyncFailureFactory(integration=integration, kind=SyncFailure.Kind.REMOTE)

    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(reverse("integrations:failure_retry", args=[failure.pk]))

    assert response.status_code == 302
    failure.refresh_from_db()
    assert failure.retry_requested_at is not None
    sync_queued.assert_called_once_with(integration.pk, SyncRun.Trigger.MANUAL)
    assert IntegrationEvent.objects.filter(
        integration=integration, kind=IntegrationEvent.Kind.RUN_REQUESTED
    ).exists()
    page = member_client.get(response.url).content.decode()
    assert "will be tried again in the run that has just been queued" in page
    assert "Retry queued" in page


def test_retrying_a_refused_object_forgets_the_refusal_so_it_is_offered_again(
    member_client, integration, sync_queued
):
    failure = SyncFailureFactory(
        integration=integration,
        process="sales_orders",
        object_type="order",
        object_ref="1042",
        kind=SyncFailure.Kind.VALIDATION,
        details={"refused": "fingerprint", "other": 1},
    )
    assert (
        failed_refs_to_retry(integration=integration, process="sales_orders", object_type="order")
        == []
    )

    member_client.post(reverse("integrations:failure_retry", args=[failure.pk]))

    failure.refresh_from_db()
    assert failure.details == {"other": 1}
    assert failed_refs_to_retry(
        integration=integration, process="sales_orders", object_type="order"
    ) == ["1042"]


def test_failing_again_ends_the_retry_request(integration):
    run = SyncRunFactory(integration=integration)
    failure = SyncFailureFactory(
        integration=integration, run=run, kind=SyncFailure.Kind.VALIDATION, object_ref="A1"
    )
    SyncFailure.objects.filter(pk=failure.pk).update(retry_requested_at=timezone.now())

    sync_failure_record(
        run=run,
        process=failure.process,
        object_type=failure.object_type,
        object_ref="A1",
        kind=SyncFailure.Kind.VALIDATION,
        message="still wrong",
    )

    failure.refresh_from_db()
    assert failure.retry_requested_at is None
    assert failure.attempts == 2


def test_retry_on_a_paused_integration_waits_for_the_next_run(
    member_client, integration, sync_queued, django_capture_on_commit_callbacks
):
    Integration.objects.filter(pk=integration.pk).update(status=Integration.Status.PAUSED)
    failure = SyncFailureFactory(integration=integration)

    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(
            reverse("integrations:failure_retry", args=[failure.pk]), follow=True
        )

    assert "once the integration runs" in response.content.decode()
    sync_queued.assert_not_called()


def test_retry_of_another_companys_failure_is_not_found(member_client, sync_queued):
    foreign = SyncFailureFactory()

    response = member_client.post(reverse("integrations:failure_retry", args=[foreign.pk]))

    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.retry_requested_at is None


def test_retry_needs_post_and_sign_in(client, member_client, integration):
    failure = SyncFailureFactory(integration=integration)
    url = reverse("integrations:failure_retry", args=[failure.pk])

    assert member_client.get(url).status_code == 405
    member_client.logout()
    response = client.post(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


# --- progress ------------------------------------------------------------------------------------


def test_the_engine_writes_counts_while_it_runs(integration, offer_all, monkeypatch):
    registry._processes["articles"] = replace(
        registry["articles"], body="tests.integrations.test_status_page.many_objects"
    )
    monkeypatch.setattr(sync_service.RunProgress, "PROGRESS_EVERY", 10)
    seen_mid_run.clear()

    run = integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.MANUAL)

    assert [counts["articles"]["created"] for counts in seen_mid_run] == [
        10,
        20,
        30,
        40,
        50,
        60,
    ]
    assert run.counts["articles"]["created"] == 60


def test_a_slow_process_is_written_every_few_seconds(integration, monkeypatch):
    run = SyncRunFactory(integration=integration, status=SyncRun.Status.RUNNING, counts={})
    counts = {"articles": {"created": 0, "updated": 0, "skipped": 0, "failed": 0}}
    progress = sync_service.RunProgress(run, counts)
    clock = iter([100.0, 103.0, 103.0])
    monkeypatch.setattr(sync_service.time, "monotonic", lambda: next(clock))
    progress.flushed_at = 99.0

    counts["articles"]["created"] += 1
    progress.counted()  # 1 s since the last write: not yet
    run.refresh_from_db()
    assert run.counts == {}
    counts["articles"]["created"] += 1
    progress.counted()  # 4 s: written
    run.refresh_from_db()
    assert run.counts["articles"]["created"] == 2


def test_the_status_page_shows_a_moving_progress_bar_for_the_first_sync(
    member_client, integration, offer_all
):
    SyncRunFactory(
        integration=integration,
        status=SyncRun.Status.RUNNING,
        counts={
            "suppliers": {"created": 4, "updated": 0, "skipped": 0, "failed": 0},
            "articles": {"created": 120, "updated": 0, "skipped": 3, "failed": 0},
        },
    )

    response = member_client.get(reverse("integrations:home"))

    content = response.content.decode()
    assert "First sync in progress" in content
    assert "<progress" in content
    assert 'hx-trigger="every 2s"' in content
    assert "127 objects handled so far." in content
    progress = response.context["progress"]
    states = {step.label: step.state for step in progress.steps}
    assert states[str(registry["suppliers"].label)] == "done"
    assert states[str(registry["articles"].label)] == "running"
    assert 0 < progress.percent < 100
    assert progress.processed == 127


def test_a_later_run_is_not_called_the_first_sync(member_client, integration, offer_all):
    SyncRunFactory(integration=integration, status=SyncRun.Status.SUCCEEDED)
    SyncRunFactory(integration=integration, status=SyncRun.Status.RUNNING, counts={})

    content = member_client.get(reverse("integrations:home")).content.decode()

    assert "Run in progress" in content
    assert "First sync in progress" not in content


def test_no_progress_bar_without_a_running_run(member_client, integration):
    SyncRunFactory(integration=integration, status=SyncRun.Status.SUCCEEDED)

    response = member_client.get(reverse("integrations:home"))

    assert response.context["progress"] is None
    assert "<progress" not in response.content.decode()


# --- set-up steps --------------------------------------------------------------------------------


def test_setup_shows_the_steps_in_the_seeds_order_with_the_duplicates_warning(member_client):
    response = member_client.get(reverse("integrations:home"))

    content = response.content.decode()
    steps = response.context["steps"]
    assert [step.url_name for step in steps] == [
        "ongoing:connection",
        "fortnox:connection",
        "integrations:settings",
    ]
    assert [step.done for step in steps] == [False, False, False]
    onboarding = content[content.index('id="onboarding"') :]
    assert onboarding.index(reverse("ongoing:connection")) < onboarding.index(
        reverse("fortnox:connection")
    )
    assert onboarding.index(reverse("fortnox:connection")) < onboarding.index(
        reverse("integrations:settings")
    )
    assert "may create them twice or overwrite them" in content


def test_steps_are_done_as_the_company_completes_them(member, member_client):
    OngoingConnectionFactory(tenant=member.tenant)
    FortnoxConnectionFactory(tenant=member.tenant)
    integration = member.tenant.integrations.get()
    IntegrationEvent.objects.create(
        integration=integration, kind=IntegrationEvent.Kind.SETTINGS, message="Settings changed"
    )

    steps = member_client.get(reverse("integrations:home")).context["steps"]

    assert [step.done for step in steps] == [True, True, True]


def test_an_active_integration_shows_no_steps(member_client, integration):
    response = member_client.get(reverse("integrations:home"))

    assert response.context["steps"] is None
    assert "Set up the integration" not in response.content.decode()


# --- the failing-objects e-mail -------------------------------------------------------------------


def stuck_failure(integration, run, ref="A1", age=timedelta(hours=2)):
    failure = SyncFailureFactory(
        integration=integration, run=run, object_ref=ref, message=f"{ref} has no unit"
    )
    SyncFailure.objects.filter(pk=failure.pk).update(
        first_seen_at=timezone.now() - age, last_seen_at=timezone.now()
    )
    return failure


@pytest.fixture
def send_now():
    with mock.patch(
        "integrations.tasks.failures_email_send.delay",
        side_effect=lambda run_id: failures_email_send(run_id=run_id),
    ) as delay:
        yield delay


def finished_run(integration):
    return SyncRunFactory(
        integration=integration,
        status=SyncRun.Status.PARTIAL,
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )


def test_objects_failing_for_over_an_hour_are_emailed_once_a_day(
    integration, send_now, django_capture_on_commit_callbacks
):
    from integrations.services.problem_emails import failures_email_queue

    Integration.objects.filter(pk=integration.pk).update(problem_email="drift@example.com")
    run = finished_run(integration)
    SyncRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(minutes=1))
    run.refresh_from_db()
    stuck_failure(integration, run)

    with django_capture_on_commit_callbacks(execute=True):
        assert failures_email_queue(run=run) is True
    with django_capture_on_commit_callbacks(execute=True):
        assert failures_email_queue(run=run) is False  # the same day

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["drift@example.com"]
    assert "A1 has no unit" in message.body
    assert message.alternatives[0][1] == "text/html"
    event = IntegrationEvent.objects.get(kind=IntegrationEvent.Kind.EMAIL)
    assert event.data["type"] == "failures"

    IntegrationEvent.objects.filter(pk=event.pk).update(
        created_at=timezone.now() - timedelta(days=1, minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert failures_email_queue(run=run) is True
    assert len(mail.outbox) == 2


def test_young_failures_are_not_emailed(integration, send_now):
    from integrations.services.problem_emails import failures_email_queue

    run = finished_run(integration)
    SyncRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(minutes=1))
    run.refresh_from_db()
    stuck_failure(integration, run, age=timedelta(minutes=20))

    assert failures_email_queue(run=run) is False
    assert mail.outbox == []


def test_failures_not_seen_in_the_run_are_not_emailed(integration, send_now):
    from integrations.services.problem_emails import failures_email_queue

    run = finished_run(integration)
    failure = stuck_failure(integration, run)
    SyncFailure.objects.filter(pk=failure.pk).update(
        last_seen_at=timezone.now() - timedelta(hours=1)
    )

    assert failures_email_queue(run=run) is False


def test_the_engine_queues_the_failures_email_after_a_run(
    integration, offer_all, send_now, django_capture_on_commit_callbacks
):
    old_run = SyncRunFactory(integration=integration)
    failure = SyncFailureFactory(
        integration=integration, run=old_run, process="articles", object_ref="X"
    )
    SyncFailure.objects.filter(pk=failure.pk).update(
        first_seen_at=timezone.now() - timedelta(hours=3)
    )
    registry._processes["articles"] = replace(
        registry["articles"], body="tests.integrations.test_status_page.fail_x_again"
    )

    with django_capture_on_commit_callbacks(execute=True):
        integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.MANUAL)

    assert len(mail.outbox) == 1
    assert "Ongoing answered 500" in mail.outbox[0].body


def fail_x_again(context):
    context.fail(
        object_type="article",
        object_ref="X",
        kind=SyncFailure.Kind.REMOTE,
        message="Ongoing answered 500",
    )
