from dataclasses import replace

import pytest
from django.db import IntegrityError

from integrations.models import Integration, ProcessSetting, SyncCursor, SyncFailure, SyncRun
from integrations.processes import registry
from integrations.registry import Registry
from integrations.services.sync import integration_sync
from tests.concurrency import run_concurrently
from tests.factories import IntegrationFactory, SyncRunFactory
from tests.integrations import bodies

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration(member):
    integration = member.tenant.integrations.get()
    integration.status = Integration.Status.ACTIVE
    integration.save()
    return integration


def enabled_keys(integration):
    return list(
        ProcessSetting.objects.filter(integration=integration, enabled=True).values_list(
            "process", flat=True
        )
    )


def test_runs_enabled_processes_in_registry_order_and_records_counts(integration, offer_all):
    run = integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)

    defaults = [p.key for p in registry if p.default_enabled]
    assert bodies.calls == defaults == ["suppliers", "articles", "sales_orders", "fulfilment"]
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.finished_at is not None
    assert [label for label, _counts in run.process_counts] == [
        registry[key].label for key in defaults
    ]
    assert run.counts["articles"] == {"created": 2, "updated": 0, "skipped": 3, "failed": 0}
    assert run.totals == {"created": 8, "updated": 0, "skipped": 12, "failed": 0}
    assert (run.fortnox_requests, run.ongoing_requests) == (4, 4)


def test_process_without_body_is_not_run(integration):
    unbuilt = Registry([replace(process, body=None) for process in registry])

    run = integration_sync(
        integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT, registry=unbuilt
    )

    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.counts == {}


def test_failing_process_closes_run_as_failed_and_the_others_still_run(integration, offer_all):
    offer_all("articles", "crash")

    run = integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)

    assert bodies.calls == ["suppliers", "articles", "sales_orders", "fulfilment"]
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert "articles: division by zero" in run.error
    assert run.counts["articles"]["created"] == 1
    assert run.counts["articles"]["failed"] == 1
    failure = SyncFailure.objects.get(integration=integration)
    assert (failure.process, failure.object_type, failure.object_ref) == (
        "articles",
        "process",
        "articles",
    )
    assert failure.kind == SyncFailure.Kind.BUG
    assert failure.run == run
    assert failure.details["exception"] == "builtins.ZeroDivisionError"
    assert "ZeroDivisionError" in failure.details["traceback"]


def test_process_failure_is_resolved_when_the_process_later_succeeds(integration, offer_all):
    offer_all("articles", "crash")
    integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)
    offer_all("articles", "succeed")

    integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)

    failure = SyncFailure.objects.get(integration=integration)
    assert failure.resolved_at is not None


def test_object_failure_makes_a_partial_run_and_counts_attempts_until_it_syncs(
    integration, offer_all
):
    offer_all("sales_orders", "fail_one_object")

    first = integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)
    second = integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)

    first.refresh_from_db()
    assert first.status == SyncRun.Status.PARTIAL
    assert first.counts["sales_orders"] == {"created": 0, "updated": 1, "skipped": 0, "failed": 1}
    failure = SyncFailure.objects.get(integration=integration, resolved_at__isnull=True)
    assert (failure.object_type, failure.object_ref, failure.attempts) == ("order", "1042", 2)
    assert failure.run == second
    assert failure.kind == SyncFailure.Kind.VALIDATION

    offer_all("sales_orders", "sync_order_1042")
    third = integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)

    third.refresh_from_db()
    assert third.status == SyncRun.Status.SUCCEEDED
    failure.refresh_from_db()
    assert failure.resolved_at is not None
    assert not SyncFailure.objects.filter(resolved_at__isnull=True).exists()


def test_auth_error_stops_the_rest_of_the_run(integration, offer_all):
    offer_all("suppliers", "consent_gone")

    run = integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)

    assert bodies.calls == ["suppliers"]
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert SyncFailure.objects.get().kind == SyncFailure.Kind.AUTH


def test_soft_time_limit_stops_the_run_and_closes_it(integration, offer_all):
    offer_all("articles", "time_out")

    run = integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)

    assert bodies.calls == ["suppliers", "articles"]
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert "time limit" in run.error


def test_conflicting_processes_are_refused_by_the_engine(integration, offer_all):
    ProcessSetting.objects.filter(
        integration=integration, process__in=["stock_balance", "warehouse_module"]
    ).update(enabled=True)

    run = integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)

    assert "stock_balance" not in bodies.calls
    assert "warehouse_module" not in bodies.calls
    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    refused = SyncFailure.objects.filter(kind=SyncFailure.Kind.VALIDATION).order_by("process")
    assert [f.process for f in refused] == ["stock_balance", "warehouse_module"]
    assert "switch one of them off" in refused[0].message


def test_cursor_is_kept_between_runs(integration, offer_all):
    offer_all("articles", "use_cursor")

    integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)
    integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)

    assert SyncCursor.objects.get(integration=integration, process="articles").value == "2"


def test_a_moved_cursor_is_written_when_a_later_process_crashes(integration, offer_all):
    offer_all("suppliers", "use_cursor")
    offer_all("articles", "use_cursor")
    integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)
    offer_all("sales_orders", "crash")

    run = integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)

    assert run.status == SyncRun.Status.FAILED
    assert dict(
        SyncCursor.objects.filter(integration=integration).values_list("process", "value")
    ) == {"suppliers": "2", "articles": "2"}


def test_a_resync_during_a_run_is_not_undone_when_the_run_writes_its_cursors(
    integration, offer_all
):
    """The run writes its cursors when it ends; cursors deleted meanwhile stay deleted, so the
    next run starts from a full pull as support asked."""
    offer_all("articles", "use_cursor")
    integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)
    offer_all("articles", "use_cursor_during_a_resync")

    integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)

    assert not SyncCursor.objects.filter(integration=integration).exists()


@pytest.mark.parametrize(
    "status",
    [Integration.Status.SETUP, Integration.Status.PAUSED, Integration.Status.NEEDS_REACTIVATION],
)
def test_inactive_integration_does_not_run(integration, offer_all, status):
    Integration.objects.filter(pk=integration.pk).update(status=status)

    assert integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.MANUAL) is None
    assert not SyncRun.objects.exists()
    assert bodies.calls == []


def test_running_integration_is_not_started_twice(integration, offer_all):
    SyncRunFactory(integration=integration, status=SyncRun.Status.RUNNING)

    assert integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.MANUAL) is None
    assert SyncRun.objects.count() == 1
    assert bodies.calls == []


def test_database_refuses_a_second_running_run(integration):
    SyncRunFactory(integration=integration, status=SyncRun.Status.RUNNING)

    with pytest.raises(IntegrityError):
        SyncRunFactory(integration=integration, status=SyncRun.Status.RUNNING)


def test_unknown_integration_is_ignored(db):
    assert integration_sync(integration_id=987654, trigger=SyncRun.Trigger.BEAT) is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_syncs_of_one_integration_make_exactly_one_run(offer_all):
    integration = IntegrationFactory()
    offer_all("articles", "slow")
    results = run_concurrently(
        6, lambda: integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.MANUAL)
    )

    started = [run for run in results if run is not None]
    assert len(results) == 6
    assert len(started) == 1
    assert SyncRun.objects.filter(integration=integration).count() == 1
    assert bodies.calls.count("articles") == 1


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@pytest.mark.django_db(transaction=True)
def test_a_run_with_nothing_to_do_costs_six_statements_and_no_transaction(integration):
    """The budget of a no-change run (issue 10: ≤ 20 queries; bench/fanout.py and
    bench/workers.py measure it at scale), each statement its own transaction, no BEGIN or
    COMMIT: open the run (the integration, its company and both connections in one SELECT, then
    the INSERT), read the settings, cursors and open failure kinds in one SELECT, ask which
    suppliers changed, move the three cursors in one UPDATE, close the run."""
    import re

    import responses
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import FortnoxConnectionFactory, OngoingConnectionFactory

    FortnoxConnectionFactory(tenant=integration.tenant)
    OngoingConnectionFactory(tenant=integration.tenant)
    empty = {"MetaInformation": {"@TotalResources": 0, "@TotalPages": 1, "@CurrentPage": 1}}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        for plural in ("Suppliers", "Articles", "Orders"):
            http.get(
                re.compile(rf"https://api\.fortnox\.se/3/{plural.lower()}\b.*"),
                json={**empty, plural: []},
            )
        http.get(re.compile(r"https://api\.ongoingsystems\.se/.*"), json=[])
        integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)
        with CaptureQueriesContext(connection) as queries:
            run = integration_sync(integration_id=integration.pk, trigger=SyncRun.Trigger.BEAT)

    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert (run.fortnox_requests, run.ongoing_requests) == (3, 1)
    statements = [query["sql"] for query in queries.captured_queries]
    assert len(statements) <= 6, "\n".join(statements)
    assert not [sql for sql in statements if sql.startswith(TRANSACTION_CONTROL)]
