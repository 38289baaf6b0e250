"""The REST API: keys, authentication, isolation between companies, paging, filters, actions and
the OpenAPI schema."""

from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiKey
from api.services import api_key_create, api_key_revoke
from integrations.models import Integration, IntegrationEvent, RecordLink, SyncRun
from tenants.models import Membership
from tests.factories import (
    IntegrationFactory,
    MembershipFactory,
    SyncFailureFactory,
    SyncRunFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def company(member):
    integration = member.tenant.integrations.get()
    integration.status = Integration.Status.ACTIVE
    integration.save()
    return integration


@pytest.fixture
def api(company, member):
    _key, raw = api_key_create(tenant=member.tenant, name="BI", actor=member.user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def other_company():
    return IntegrationFactory(tenant__name="Annan AB")


def test_the_key_is_shown_once_and_stored_hashed(member, member_client, company):
    response = member_client.post(reverse("api_keys:list"), {"name": "BI-verktyg"})

    page = response.content.decode()
    key = ApiKey.objects.get(tenant=member.tenant)
    raw = page.split('<code class="secret">')[1].split("</code>")[0]
    assert raw.startswith(f"wf_{key.prefix}_")
    assert raw not in key.key_hash
    assert raw not in member_client.get(reverse("api_keys:list")).content.decode()
    assert IntegrationEvent.objects.filter(integration=company, message__contains="created")


def test_a_name_is_required(member_client, company):
    response = member_client.post(reverse("api_keys:list"), {"name": ""})

    assert "This field is required." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_viewers_cannot_manage_keys(client, company):
    viewer = MembershipFactory(tenant=company.tenant, role=Membership.Role.VIEWER)
    client.force_login(viewer.user)

    assert client.get(reverse("api_keys:list")).status_code == 403


def test_another_companys_key_cannot_be_revoked(member_client, company, other_company):
    foreign, _raw = api_key_create(tenant=other_company.tenant, name="Theirs")

    response = member_client.post(reverse("api_keys:revoke", args=[foreign.pk]))

    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.active


def test_requests_without_a_valid_key_are_refused(member):
    _key, raw = api_key_create(tenant=member.tenant, name="x")
    client = APIClient()
    url = reverse("api:integration")

    assert client.get(url).status_code == 401
    for header in ["Bearer nonsense", f"Bearer {raw}x", "Bearer a b", f"Basic {raw}"]:
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get(url).status_code == 401, header


def test_a_revoked_key_stops_working(api, member):
    assert api.get(reverse("api:integration")).status_code == 200

    api_key_revoke(key=ApiKey.objects.get(tenant=member.tenant))

    assert api.get(reverse("api:integration")).status_code == 401


def test_status(api, company):
    run = SyncRunFactory(integration=company, status=SyncRun.Status.PARTIAL)
    SyncFailureFactory(integration=company, run=run)

    data = api.get(reverse("api:integration")).json()

    assert data["status"] == "active"
    assert data["health"] == "failing"
    assert data["open_failures"] == 1
    assert data["connections"] == {"fortnox": False, "ongoing": False}
    assert data["last_run"]["status"] == "partial"


def test_settings(api):
    data = api.get(reverse("api:settings")).json()

    assert data["interval_minutes"] == 15
    keys = [process["key"] for process in data["processes"]]
    assert keys[:3] == ["suppliers", "articles", "sales_orders"]
    sales = next(p for p in data["processes"] if p["key"] == "sales_orders")
    assert sales["options"]["pull_filter"] == "invoicenotcreated"


def test_runs_are_paged_filtered_and_isolated(api, company, other_company):
    SyncRunFactory.create_batch(55, integration=company)
    failed = SyncRunFactory(integration=company, status=SyncRun.Status.FAILED)
    foreign = SyncRunFactory(integration=other_company)

    first = api.get(reverse("api:runs")).json()
    second = api.get(first["next"]).json()
    only_failed = api.get(reverse("api:runs"), {"status": "failed"}).json()

    assert first["count"] == 56
    assert len(first["results"]) == 50
    assert len(second["results"]) == 6
    assert [run["id"] for run in only_failed["results"]] == [failed.pk]
    all_ids = {run["id"] for run in first["results"] + second["results"]}
    assert foreign.pk not in all_ids
    assert api.get(reverse("api:run", args=[foreign.pk])).status_code == 404
    assert api.get(reverse("api:run", args=[failed.pk])).json()["status"] == "failed"


def test_run_filters_by_time_and_refuses_bad_values(api, company):
    old = SyncRunFactory(integration=company)
    SyncRun.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=3))
    recent = SyncRunFactory(integration=company)
    since = (timezone.now() - timedelta(days=1)).isoformat()

    data = api.get(reverse("api:runs"), {"started_after": since}).json()

    assert [run["id"] for run in data["results"]] == [recent.pk]
    assert api.get(reverse("api:runs"), {"started_after": "yesterday"}).status_code == 400
    assert api.get(reverse("api:runs"), {"status": "exploded"}).status_code == 400


def test_failures_by_state(api, company, other_company):
    open_one = SyncFailureFactory(integration=company)
    resolved = SyncFailureFactory(integration=company, resolved_at=timezone.now())
    SyncFailureFactory(integration=other_company)

    opened = api.get(reverse("api:failures"), {"state": "open"}).json()["results"]
    closed = api.get(reverse("api:failures"), {"state": "resolved"}).json()["results"]

    assert [f["id"] for f in opened] == [open_one.pk]
    assert [f["id"] for f in closed] == [resolved.pk]
    assert api.get(reverse("api:failures"), {"state": "maybe"}).status_code == 400


def test_links_both_ways_and_only_ones_own(api, company, other_company):
    now = timezone.now()
    RecordLink.objects.create(
        integration=company,
        object_type="order",
        fortnox_key="1042",
        ongoing_key="77",
        synced_at=now,
    )
    RecordLink.objects.create(
        integration=other_company,
        object_type="order",
        fortnox_key="1042",
        ongoing_key="99",
        synced_at=now,
    )

    by_fortnox = api.get(reverse("api:links"), {"object_type": "order", "fortnox_key": "1042"})
    by_ongoing = api.get(reverse("api:links"), {"ongoing_key": "77"})

    assert [link["ongoing_key"] for link in by_fortnox.json()["results"]] == ["77"]
    assert [link["fortnox_key"] for link in by_ongoing.json()["results"]] == ["1042"]
    assert [link["ongoing_key"] for link in api.get(reverse("api:links")).json()["results"]] == [
        "77"
    ]


def test_actions(api, company, member, django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(
        "integrations.tasks.integration_sync.delay", lambda *args: queued.append(args)
    )

    with django_capture_on_commit_callbacks(execute=True):
        run_now = api.post(reverse("api:run_now"))
    pause = api.post(reverse("api:pause"))
    pause_again = api.post(reverse("api:pause"))
    resume = api.post(reverse("api:resume"))

    assert run_now.status_code == 202
    assert queued == [(company.pk, SyncRun.Trigger.MANUAL)]
    assert pause.status_code == 202
    assert pause_again.status_code == 409
    assert "cannot be changed" in pause_again.json()["detail"]
    assert resume.status_code == 202
    company.refresh_from_db()
    assert company.status == Integration.Status.ACTIVE
    event = IntegrationEvent.objects.filter(integration=company, kind="status").first()
    assert event.actor == member.user


def test_the_runs_page_costs_a_bounded_number_of_queries(
    api, company, django_assert_max_num_queries
):
    SyncRunFactory.create_batch(40, integration=company)

    with django_assert_max_num_queries(6):
        assert api.get(reverse("api:runs")).status_code == 200


def test_schema_and_docs_are_served_without_a_key():
    client = APIClient()

    schema = client.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = client.get(reverse("api:docs"))

    assert schema.status_code == 200
    assert "/api/v1/runs/" in schema.content.decode()
    assert docs.status_code == 200
    assert "swagger-ui" in docs.content.decode()


def test_the_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert "/api/v1/links/" in (tmp_path / "schema.yaml").read_text()


def test_hostile_filters_get_an_answer_not_a_server_error(api, company):
    SyncFailureFactory(integration=company, process="articles")

    nul = api.get(reverse("api:failures"), {"process": "articles\x00"})
    far_offset = api.get(reverse("api:runs"), {"started_after": "3206-06-05T20:05:02-21:06"})
    bad_page = api.get(reverse("api:runs"), {"page": "-5"})
    no_such_run = api.get("/api/v1/runs/-174960317981/")
    huge_run = api.get(f"/api/v1/runs/{2**70}/")

    assert (nul.status_code, nul.json()["results"]) == (200, [])
    assert far_offset.status_code == 200
    assert bad_page.status_code == 404
    assert no_such_run.status_code == huge_run.status_code == 404
    assert no_such_run["Content-Type"] == "application/json"


def test_retry_a_failure(api, company, other_company, django_capture_on_commit_callbacks):
    mine = SyncFailureFactory(integration=company)
    resolved = SyncFailureFactory(integration=company, resolved_at=timezone.now())
    theirs = SyncFailureFactory(integration=other_company)

    with (
        mock.patch("integrations.tasks.integration_sync.delay") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api.post(reverse("api:failure_retry", args=[mine.pk]))

    assert (response.status_code, response.json()["detail"]) == (202, "A run is queued.")
    queued.assert_called_once()
    mine.refresh_from_db()
    assert mine.retry_requested_at is not None
    assert api.post(reverse("api:failure_retry", args=[resolved.pk])).status_code == 409
    assert api.post(reverse("api:failure_retry", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.retry_requested_at is None


def test_the_settings_page_links_to_the_api_keys(member_client, company):
    page = member_client.get(reverse("integrations:settings")).content.decode()

    assert reverse("api_keys:list") in page
