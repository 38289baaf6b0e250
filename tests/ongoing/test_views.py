"""The connect page: the current company's WMS credentials, checked before anything is stored."""

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from ongoing.models import OngoingConnection
from ongoing.services import ongoing_connection_mark_rejected
from tenants.models import Membership
from tests.factories import MembershipFactory, TenantFactory

PRODUCTION = "https://api.ongoingsystems.se/demo/api/v1/"
SYSTEM = "https://demo.ongoingsystems.se/demo/"
URL = reverse("ongoing:connection")
PASSWORD = "s3cret-right"


@pytest.fixture(autouse=True)
def no_redis(settings, tmp_path):
    settings.REDIS_URL = ""
    settings.ONGOING_LOCK_DIR = tmp_path


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def connection_for(tenant, **fields):
    return OngoingConnection.objects.create(
        tenant=tenant,
        system=fields.get("system", SYSTEM),
        warehouse="demo",
        api_base_url=PRODUCTION,
        goods_owner_id=fields.get("goods_owner_id", 159),
        username=fields.get("username", "WSIOld"),
        password=fields.get("password", "old-password"),
        verified_at=timezone.now(),
    )


def post(client, password=PASSWORD, system=SYSTEM):
    return client.post(URL, {"system": system, "username": "WSIDemo", "password": password})


def test_anonymous_people_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "login" in response.url


def test_viewers_cannot_open_it(client, db):
    viewer = MembershipFactory(role=Membership.Role.VIEWER)
    client.force_login(viewer.user)
    assert client.get(URL).status_code == 403


def test_the_form_in_the_products_look(member_client):
    response = member_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="system"' in html and 'name="username"' in html and 'type="password"' in html
    assert 'class="topbar"' in html  # base.html
    assert "Not connected yet" in html


def test_good_credentials_connect_the_current_company(member_client, member, api):
    api.get(PRODUCTION + "goodsOwners", json=[{"id": 159, "name": "Demo Handel AB"}])
    response = post(member_client)
    assert response.status_code == 302
    connection = OngoingConnection.objects.get()
    assert connection.tenant == member.tenant
    assert (connection.goods_owner_id, connection.username) == (159, "WSIDemo")
    page = member_client.get(URL).content.decode()
    assert "Demo Handel AB" in page
    assert PASSWORD not in page


def test_a_wrong_password_shows_the_message_and_stores_nothing(member_client, api):
    api.get(PRODUCTION + "goodsOwners", status=401, json={"Message": "Authorization denied."})
    response = post(member_client, password="wrong")
    assert response.status_code == 200
    assert "did not accept that username and password" in response.content.decode()
    assert not OngoingConnection.objects.exists()


def test_a_wrong_password_leaves_the_existing_connection_alone(member_client, member, api):
    existing = connection_for(member.tenant)
    api.get(PRODUCTION + "goodsOwners", status=401)
    post(member_client, password="wrong")
    existing.refresh_from_db()
    assert (existing.username, existing.password) == ("WSIOld", "old-password")


def test_a_foreign_system_is_refused_on_the_system_field_without_a_request(member_client, api):
    response = post(member_client, system="https://169.254.169.254/latest/")
    assert response.status_code == 200
    assert response.context["form"].errors["system"]
    assert len(api.calls) == 0
    assert not OngoingConnection.objects.exists()


def test_reconnecting_fills_in_system_and_username_but_never_the_password(member_client, member):
    connection_for(member.tenant, username="WSIKept", password="never-shown")
    html = member_client.get(URL).content.decode()
    assert 'value="WSIKept"' in html
    assert SYSTEM in html
    assert "never-shown" not in html


def test_only_the_current_companys_connection_is_shown_or_changed(member_client, member, api):
    other = connection_for(TenantFactory(), username="WSIOther", goods_owner_id=42)
    html = member_client.get(URL).content.decode()
    assert "WSIOther" not in html
    api.get(PRODUCTION + "goodsOwners", json=[{"id": 159, "name": "Demo Handel AB"}])
    post(member_client)
    other.refresh_from_db()
    assert (other.username, other.goods_owner_id) == ("WSIOther", 42)
    assert OngoingConnection.objects.get(tenant=member.tenant).username == "WSIDemo"


def test_refused_credentials_are_shown_and_a_new_password_verifies_again(
    member_client, member, api
):
    connection = connection_for(member.tenant)
    ongoing_connection_mark_rejected(connection=connection)
    assert OngoingConnection.objects.get().status == OngoingConnection.Status.REJECTED
    html = member_client.get(URL).content.decode()
    assert "no longer accepts these credentials" in html
    api.get(PRODUCTION + "goodsOwners", json=[{"id": 159, "name": "Demo Handel AB"}])
    post(member_client)
    connection.refresh_from_db()
    assert connection.status == OngoingConnection.Status.VERIFIED
    assert connection.password == PASSWORD


DISCONNECT = reverse("ongoing:disconnect")


def test_disconnect_forgets_the_password_keeps_system_and_username_and_is_recorded(
    member_client, member
):
    from integrations.models import IntegrationEvent
    from integrations.selectors import connections_missing

    connection = connection_for(member.tenant, username="WSIKept", password="to-forget")
    page = member_client.get(URL).content.decode()
    assert "Disconnect the warehouse" in page

    response = member_client.post(DISCONNECT)

    assert response.status_code == 302
    assert response.url == URL
    connection.refresh_from_db()
    assert connection.status == OngoingConnection.Status.DISCONNECTED
    assert connection.password is None
    assert (connection.system, connection.username) == (SYSTEM, "WSIKept")
    assert "Ongoing WMS" in connections_missing(tenant=member.tenant)
    event = IntegrationEvent.objects.filter(integration__tenant=member.tenant).first()
    assert event.message == "Warehouse disconnected: the WMS password was forgotten."
    assert event.actor == member.user
    html = member_client.get(URL).content.decode()
    assert "has been disconnected and its password forgotten" in html
    assert "The password was forgotten and nothing is synchronised" in html
    assert 'value="WSIKept"' in html
    assert "Disconnect the warehouse</button>" not in html


def test_disconnect_pauses_an_active_integration_on_its_timeline(member_client, member):
    from integrations.models import Integration

    connection_for(member.tenant)
    member.tenant.integrations.update(status=Integration.Status.ACTIVE)

    member_client.post(DISCONNECT)

    integration = member.tenant.integrations.get()
    assert integration.status == Integration.Status.PAUSED
    assert integration.events.filter(message="Integration paused.", actor=member.user).exists()


def test_typing_the_password_again_reconnects_after_a_disconnect(member_client, member, api):
    connection = connection_for(member.tenant)
    member_client.post(DISCONNECT)
    api.get(PRODUCTION + "goodsOwners", json=[{"id": 159, "name": "Demo Handel AB"}])

    post(member_client)

    connection.refresh_from_db()
    assert connection.status == OngoingConnection.Status.VERIFIED
    assert connection.password == PASSWORD


def test_disconnect_touches_only_the_current_companys_connection(member_client, member):
    other = connection_for(TenantFactory(), password="other-password")

    response = member_client.post(DISCONNECT)

    assert response.status_code == 302
    other.refresh_from_db()
    assert (other.status, other.password) == (OngoingConnection.Status.VERIFIED, "other-password")


def test_disconnect_needs_post_and_a_manager(client, db):
    viewer = MembershipFactory(role=Membership.Role.VIEWER)
    connection = connection_for(viewer.tenant)
    client.force_login(viewer.user)

    assert client.post(DISCONNECT).status_code == 403
    connection.refresh_from_db()
    assert connection.password == "old-password"


def test_disconnect_refuses_get(member_client, member):
    connection_for(member.tenant)

    assert member_client.get(DISCONNECT).status_code == 405
