import pytest
from django.urls import reverse

from integrations.models import Integration, ProcessSetting
from tenants.models import Membership, Tenant
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_create_company_makes_the_user_owner_with_a_default_integration(client):
    user = UserFactory(email="anna@example.com")
    client.force_login(user)

    response = client.post(
        reverse("tenants:create"), {"name": "Lådfabriken AB", "organisation_number": "5566778899"}
    )

    assert response.status_code == 302
    tenant = Tenant.objects.get(name="Lådfabriken AB")
    assert tenant.organisation_number == "5566778899"
    assert Membership.objects.get(tenant=tenant).role == Membership.Role.OWNER
    integration = Integration.objects.get(tenant=tenant)
    assert integration.status == Integration.Status.SETUP
    assert integration.interval_minutes == 15
    assert integration.problem_email == "anna@example.com"
    assert dict(ProcessSetting.objects.values_list("process", "enabled")) == {
        "suppliers": True,
        "articles": True,
        "sales_orders": True,
        "purchase_orders": False,
        "fulfilment": True,
        "warehouse_module": False,
        "stock_balance": False,
    }


def test_create_company_validates_the_organisation_number(client):
    client.force_login(UserFactory())

    response = client.post(reverse("tenants:create"), {"name": "X AB", "organisation_number": "12"})

    assert response.status_code == 200
    assert "Write the organisation number as 556677-8899." in response.content.decode()
    assert not Tenant.objects.exists()


def test_create_company_needs_sign_in(client):
    response = client.get(reverse("tenants:create"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
