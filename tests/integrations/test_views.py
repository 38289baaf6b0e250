from dataclasses import replace
from unittest import mock

import pytest
from django.urls import reverse

from integrations.models import Integration, IntegrationEvent, ProcessSetting, SyncRun
from integrations.processes import registry
from tenants.models import Membership
from tests.factories import (
    FortnoxConnectionFactory,
    OngoingConnectionFactory,
    SyncFailureFactory,
    SyncRunFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration(member):
    return member.tenant.integrations.get()


def settings_post(**overrides):
    data = {
        "interval_minutes": "15",
        "problem_email": "drift@example.com",
        "suppliers__enabled": "on",
        "articles__enabled": "on",
        "sales_orders__enabled": "on",
        "sales_orders__pull_filter": "invoicenotcreated",
        "sales_orders__required_state": "confirmed",
        "fulfilment__enabled": "on",
        "fulfilment__report_at": "sent",
        "fulfilment__create_invoice": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_anonymous_is_sent_to_sign_in(client):
    for name in ["home", "settings"]:
        response = client.get(reverse(f"integrations:{name}"))
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))


def test_user_without_company_is_asked_to_create_one(client):
    client.force_login(UserFactory())

    response = client.get(reverse("integrations:home"))

    assert response.status_code == 302
    assert response.url == reverse("tenants:create")


def test_home_shows_status_runs_and_open_failures(member_client, integration):
    Integration.objects.filter(pk=integration.pk).update(status=Integration.Status.ACTIVE)
    run = SyncRunFactory(
        integration=integration,
        status=SyncRun.Status.PARTIAL,
        counts={"articles": {"created": 4, "updated": 1, "skipped": 0, "failed": 1}},
    )
    SyncFailureFactory(integration=integration, run=run, object_ref="A-100", message="EAN saknas")

    response = member_client.get(reverse("integrations:home"))

    content = response.content.decode()
    assert response.status_code == 200
    assert "Running, but some objects are failing." in content
    assert "EAN saknas" in content
    assert "A-100" in content
    assert reverse("integrations:run", args=[run.pk]) in content


def test_settings_form_is_generated_from_the_offered_processes(member_client, offer_all):
    response = member_client.get(reverse("integrations:settings"))

    content = response.content.decode()
    assert 'name="sales_orders__order_type_from_customer"' in content
    assert 'name="fulfilment__lower_ordered_quantity"' in content
    assert "no longer shows what the customer originally ordered" in content
    assert 'name="stock_balance__enabled"' in content


def test_settings_offer_no_process_until_it_has_a_body(member_client, monkeypatch):
    unbuilt = {key: replace(process, body=None) for key, process in registry._processes.items()}
    monkeypatch.setattr(registry, "_processes", unbuilt)

    response = member_client.get(reverse("integrations:settings"))

    assert "__enabled" not in response.content.decode()
    assert "become available here" in response.content.decode()


def test_saving_settings_stores_them_and_records_who_changed_what(
    member, member_client, integration, offer_all
):
    response = member_client.post(
        reverse("integrations:settings"),
        settings_post(
            interval_minutes="30",
            sales_orders__order_type_from_customer="on",
            stock_balance__enabled="on",
        ),
    )

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.interval_minutes == 30
    assert integration.problem_email == "drift@example.com"
    sales = ProcessSetting.objects.get(integration=integration, process="sales_orders")
    assert sales.options["order_type_from_customer"] is True
    assert ProcessSetting.objects.get(integration=integration, process="stock_balance").enabled
    event = IntegrationEvent.objects.get(kind=IntegrationEvent.Kind.SETTINGS)
    assert event.actor == member.user
    assert "interval: 15 → 30 min" in event.data["changes"]
    assert "stock_balance: on" in event.data["changes"]
    assert "sales_orders.order_type_from_customer: False → True" in event.data["changes"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"stock_balance__enabled": "on", "warehouse_module__enabled": "on"},
            "cannot run while Fortnox warehouse module (Fortnox Lager) is on",
        ),
        (
            {"purchase_orders__enabled": "on"},
            "Purchase orders needs Fortnox warehouse module (Fortnox Lager): switch that on too.",
        ),
        ({"interval_minutes": "2"}, "greater than or equal to 5"),
        ({"problem_email": "not-an-address"}, "Enter a valid email address."),
        ({"sales_orders__required_state": "shipped"}, "Select a valid choice."),
    ],
)
def test_settings_validation_messages(member_client, integration, offer_all, overrides, message):
    response = member_client.post(reverse("integrations:settings"), settings_post(**overrides))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not IntegrationEvent.objects.filter(kind=IntegrationEvent.Kind.SETTINGS).exists()


def test_viewer_sees_settings_but_cannot_change_them(member, member_client, integration, offer_all):
    Membership.objects.filter(pk=member.pk).update(role=Membership.Role.VIEWER)

    page = member_client.get(reverse("integrations:settings"))
    response = member_client.post(
        reverse("integrations:settings"), settings_post(interval_minutes="60")
    )

    assert page.status_code == 200
    assert "<fieldset disabled>" in page.content.decode()
    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.interval_minutes == 15
    for name in ["activate", "pause", "resume", "run_now"]:
        assert member_client.post(reverse(f"integrations:{name}")).status_code == 403


def test_activation_needs_both_connections(member, member_client, integration):
    response = member_client.post(reverse("integrations:activate"), follow=True)

    assert "Connect Fortnox and Ongoing WMS before activating" in response.content.decode()
    integration.refresh_from_db()
    assert integration.status == Integration.Status.SETUP

    FortnoxConnectionFactory(tenant=member.tenant)
    response = member_client.post(reverse("integrations:activate"), follow=True)

    assert "Connect Ongoing WMS before activating" in response.content.decode()
    integration.refresh_from_db()
    assert integration.status == Integration.Status.SETUP


def test_activate_pause_resume_and_run_now(
    member, member_client, integration, django_capture_on_commit_callbacks
):
    FortnoxConnectionFactory(tenant=member.tenant)
    OngoingConnectionFactory(tenant=member.tenant)
    with mock.patch("integrations.tasks.integration_sync.delay") as delay:
        member_client.post(reverse("integrations:activate"))
        integration.refresh_from_db()
        assert integration.status == Integration.Status.ACTIVE
        assert integration.activated_at is not None

        with django_capture_on_commit_callbacks(execute=True):
            response = member_client.post(reverse("integrations:run_now"))
        assert response.status_code == 302
        delay.assert_called_once_with(integration.pk, SyncRun.Trigger.MANUAL)

        member_client.post(reverse("integrations:pause"))
        integration.refresh_from_db()
        assert integration.status == Integration.Status.PAUSED

        response = member_client.post(reverse("integrations:run_now"), follow=True)
        assert "Only an active integration can run." in response.content.decode()
        assert delay.call_count == 1

        member_client.post(reverse("integrations:resume"))
        integration.refresh_from_db()
        assert integration.status == Integration.Status.ACTIVE

    kinds = list(
        IntegrationEvent.objects.filter(integration=integration)
        .order_by("id")
        .values_list("kind", flat=True)
    )
    assert kinds == ["created", "status", "run_requested", "status", "status"]


def test_lifecycle_actions_need_post(member_client):
    for name in ["activate", "pause", "resume", "run_now"]:
        assert member_client.get(reverse(f"integrations:{name}")).status_code == 405


def test_run_detail_shows_counts_per_process(member_client, integration):
    run = SyncRunFactory(
        integration=integration,
        counts={"sales_orders": {"created": 7, "updated": 0, "skipped": 2, "failed": 0}},
    )

    response = member_client.get(reverse("integrations:run", args=[run.pk]))

    assert response.status_code == 200
    assert "Sales orders" in response.content.decode()


def test_home_shows_both_connections_with_links(member, member_client):
    page = member_client.get(reverse("integrations:home")).content.decode()
    assert page.count("Not connected.") == 2
    assert reverse("fortnox:connection") in page
    assert reverse("ongoing:connection") in page

    FortnoxConnectionFactory(tenant=member.tenant, company_name="Demo Handel AB")
    OngoingConnectionFactory(tenant=member.tenant, warehouse="demolager", goods_owner_name="Demo")
    page = member_client.get(reverse("integrations:home")).content.decode()

    assert "Connected to Demo Handel AB." in page
    assert "Warehouse demolager, goods owner Demo." in page
    assert "Not connected." not in page


def test_a_disconnected_warehouse_is_not_called_refused(member, member_client):
    OngoingConnectionFactory(tenant=member.tenant, status="disconnected", password="")

    page = member_client.get(reverse("integrations:home")).content.decode()

    assert "Disconnected: the warehouse password was removed." in page
    assert "refused the stored credentials" not in page
