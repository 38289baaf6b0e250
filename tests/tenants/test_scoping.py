"""A person sees only the companies they are a member of, whatever ids they put in a URL."""

import pytest
from django.urls import reverse

from tenants.middleware import SESSION_KEY
from tenants.services import tenant_create
from tests.factories import (
    FortnoxConnectionFactory,
    OngoingConnectionFactory,
    SyncRunFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_company():
    tenant = tenant_create(owner=UserFactory(), name="Annat Bolag AB")
    integration = tenant.integrations.get()
    return tenant, SyncRunFactory(integration=integration)


def test_another_companys_run_is_not_found(member_client, other_company):
    _tenant, run = other_company

    response = member_client.get(reverse("integrations:run", args=[run.pk]))

    assert response.status_code == 404


def test_switching_to_another_company_is_not_found(member_client, other_company):
    tenant, _run = other_company

    response = member_client.post(reverse("tenants:switch", args=[tenant.pk]))

    assert response.status_code == 404
    assert member_client.session.get(SESSION_KEY) is None


def test_a_session_pointing_at_another_company_falls_back_to_ones_own(
    member, member_client, other_company
):
    tenant, run = other_company
    session = member_client.session
    session[SESSION_KEY] = tenant.pk
    session.save()

    home = member_client.get(reverse("integrations:home"))

    assert home.context["integration"].tenant == member.tenant
    assert member_client.get(reverse("integrations:run", args=[run.pk])).status_code == 404


def test_actions_act_on_ones_own_company_only(member, member_client, other_company):
    tenant, _run = other_company
    other_integration = tenant.integrations.get()
    for company in (tenant, member.tenant):
        FortnoxConnectionFactory(tenant=company)
        OngoingConnectionFactory(tenant=company)

    member_client.post(reverse("integrations:activate"))

    other_integration.refresh_from_db()
    assert other_integration.status == "setup"
    assert member.tenant.integrations.get().status == "active"


def test_member_of_two_companies_switches_between_them(member, member_client):
    second = tenant_create(owner=member.user, name="Zeta Lager AB")
    own_run = SyncRunFactory(integration=second.integrations.get())

    assert member_client.get(reverse("integrations:run", args=[own_run.pk])).status_code == 404
    response = member_client.post(reverse("tenants:switch", args=[second.pk]))

    assert response.status_code == 302
    assert member_client.get(reverse("integrations:run", args=[own_run.pk])).status_code == 200
    page = member_client.get(reverse("integrations:home")).content.decode()
    assert "Zeta Lager AB" in page
    assert "Exempel AB" in page  # in the company switcher
