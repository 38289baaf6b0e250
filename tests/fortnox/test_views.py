"""Consent through the browser: our pages, the sandbox's login and consent pages, the callback."""

from urllib.parse import parse_qs, urlsplit

import pytest

from fortnox.models import FortnoxConnection, PendingFortnoxActivation
from fortnox.sandbox.seed import COMPANY_NAME, TENANT_ID
from fortnox.views import STATE_SESSION_KEY
from tests.factories import UserFactory
from tests.fortnox.conftest import REDIRECT_URI, SANDBOX


def local(url: str) -> str:
    """The test client speaks paths; the sandbox and our redirect URI live on testserver."""
    parts = urlsplit(url)
    assert parts.netloc in ("", "testserver"), url
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def sign_in_to_fortnox(client, sandbox, next_url: str):
    response = client.post(
        "/sandbox/fortnox/login/",
        {"email": sandbox.email, "password": sandbox.password, "next": next_url},
    )
    assert response.status_code == 302, response.content
    return response


def start_consent(client):
    """Connect: returns the sandbox's authorize URL we were sent to."""
    response = client.post("/fortnox/connect/")
    assert response.status_code == 302
    return response["Location"]


def consent(client, sandbox, *, decision: str = "allow") -> str:
    """Go through Fortnox's pages; returns the callback URL Fortnox sends the browser to."""
    authorize = start_consent(client)
    page = client.get(local(authorize))
    assert "Logga in" in page.content.decode()
    sign_in_to_fortnox(client, sandbox, local(authorize))
    page = client.get(local(authorize))
    assert page.status_code == 200
    assert "Tillåt" in page.content.decode()
    answer = client.post(local(authorize), {"decision": decision})
    assert answer.status_code == 302
    assert answer["Location"].startswith(REDIRECT_URI)
    return answer["Location"]


def test_authorize_url_asks_for_offline_access_and_our_scopes(member_client, sandbox, settings):
    authorize = start_consent(member_client)
    assert authorize.startswith(f"{SANDBOX}/oauth-v1/auth?")
    query = parse_qs(urlsplit(authorize).query)
    assert query["access_type"] == ["offline"]
    assert query["response_type"] == ["code"]
    assert query["client_id"] == ["sandbox-client"]
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["scope"][0].split() == list(settings.FORTNOX_SCOPES)
    assert query["state"][0] == member_client.session[STATE_SESSION_KEY]["state"]


def test_consent_happy_path(member_client, member, sandbox):
    callback = consent(member_client, sandbox)
    assert "state=" in callback and "code=" in callback
    response = member_client.get(local(callback))
    assert response.status_code == 302
    connection = FortnoxConnection.objects.get(tenant=member.tenant)
    assert connection.status == FortnoxConnection.Status.ACTIVE
    assert connection.fortnox_tenant_id == TENANT_ID
    assert connection.company_name == COMPANY_NAME
    assert connection.connected_by == member.user
    assert connection.refresh_token
    # The code was exchanged with HTTP Basic client auth (the sandbox refuses anything else).
    assert sandbox.router.count("/oauth-v1/token") == 1
    page = member_client.get("/fortnox/")
    assert COMPANY_NAME in page.content.decode()


def test_denied_consent_explains_and_offers_to_try_again(member_client, member, sandbox):
    callback = consent(member_client, sandbox, decision="deny")
    assert "error=access_denied" in callback
    response = member_client.get(local(callback))
    assert response.status_code == 200
    assert "every permission" in response.content.decode()
    assert 'action="/fortnox/connect/"' in response.content.decode()
    assert not FortnoxConnection.objects.exists()
    # The state was used up by the denial.
    assert STATE_SESSION_KEY not in member_client.session


def test_tampered_state_is_refused_and_no_code_is_exchanged(member_client, sandbox):
    callback = consent(member_client, sandbox)
    query = parse_qs(urlsplit(callback).query)
    tampered = f"/fortnox/callback/?code={query['code'][0]}&state={query['state'][0]}x"
    response = member_client.get(tampered)
    assert response.status_code == 400
    assert sandbox.router.count("/oauth-v1/token") == 0
    assert not FortnoxConnection.objects.exists()
    # Single use: the right state does not work after a wrong one was tried.
    assert member_client.get(local(callback)).status_code == 400


def test_replayed_state_is_refused(member_client, member, sandbox):
    callback = consent(member_client, sandbox)
    assert member_client.get(local(callback)).status_code == 302
    connection = FortnoxConnection.objects.get(tenant=member.tenant)
    response = member_client.get(local(callback))
    assert response.status_code == 400
    assert sandbox.router.count("/oauth-v1/token") == 1
    assert FortnoxConnection.objects.get(pk=connection.pk).access_token == connection.access_token


def test_state_of_another_browser_is_refused(member_client, member, sandbox, client):
    callback = consent(member_client, sandbox)
    other = UserFactory()
    client.force_login(other)
    assert client.get(local(callback)).status_code == 400
    assert not FortnoxConnection.objects.exists()


def test_only_managers_may_start_a_consent(client, member, sandbox):
    from tenants.models import Membership

    viewer = UserFactory()
    Membership.objects.create(user=viewer, tenant=member.tenant, role=Membership.Role.VIEWER)
    client.force_login(viewer)
    assert client.post("/fortnox/connect/").status_code == 403
    assert STATE_SESSION_KEY not in client.session


def test_marketplace_activation_starts_onboarding(member_client, member, sandbox):
    sign_in_to_fortnox(member_client, sandbox, "/sandbox/fortnox/marketplace/")
    page = member_client.get("/sandbox/fortnox/marketplace/")
    assert "Aktivera" in page.content.decode()
    activate = member_client.post("/sandbox/fortnox/marketplace/", {"app": sandbox.app.pk})
    callback = activate["Location"]
    assert callback.startswith(REDIRECT_URI)
    assert "state=" not in callback
    response = member_client.get(local(callback))
    assert response["Location"] == "/fortnox/activation/"
    pending = PendingFortnoxActivation.objects.get()
    assert pending.fortnox_tenant_id == TENANT_ID
    assert pending.company_name == COMPANY_NAME

    page = member_client.get("/fortnox/activation/")
    assert page.status_code == 200
    assert member.tenant.name in page.content.decode()
    done = member_client.post("/fortnox/activation/", {"tenant_id": member.tenant.pk})
    assert done.status_code == 302
    connection = FortnoxConnection.objects.get(tenant=member.tenant)
    assert connection.fortnox_tenant_id == TENANT_ID
    pending.refresh_from_db()
    assert pending.claimed_at is not None and pending.refresh_token is None
    # Single use: the activation is gone from the session and claimed.
    again = member_client.post("/fortnox/activation/", {"tenant_id": member.tenant.pk})
    assert again["Location"] != "/fortnox/activation/"
    assert FortnoxConnection.objects.count() == 1


def test_marketplace_activation_by_a_new_person_creates_their_company(client, sandbox):
    sign_in_to_fortnox(client, sandbox, "/sandbox/fortnox/marketplace/")
    callback = client.post("/sandbox/fortnox/marketplace/", {"app": sandbox.app.pk})["Location"]
    assert client.get(local(callback))["Location"] == "/fortnox/activation/"
    # Not signed in here yet: sign-in (or sign-up) comes first, the activation waits.
    assert "/accounts/login/" in client.get("/fortnox/activation/")["Location"]
    person = UserFactory()
    client.force_login(person)
    client.post("/fortnox/activation/", {"action": "create"})
    connection = FortnoxConnection.objects.get()
    assert connection.tenant.name == COMPANY_NAME
    assert connection.tenant.memberships.get().user == person


def test_a_used_code_cannot_be_exchanged_twice(member_client, sandbox):
    sign_in_to_fortnox(member_client, sandbox, "/sandbox/fortnox/marketplace/")
    callback = member_client.post("/sandbox/fortnox/marketplace/", {"app": sandbox.app.pk})[
        "Location"
    ]
    member_client.get(local(callback))
    response = member_client.get(local(callback))
    assert response.status_code == 502
    assert PendingFortnoxActivation.objects.count() == 1


@pytest.mark.parametrize("error", ["access_denied", "server_error"])
def test_marketplace_errors_without_state(client, db, error):
    response = client.get(f"/fortnox/callback/?error={error}")
    assert response.status_code == (200 if error == "access_denied" else 400)


def test_an_expired_state_is_refused(member_client, sandbox):
    callback = consent(member_client, sandbox)
    session = member_client.session
    session[STATE_SESSION_KEY]["expires"] = 0
    session.save()
    assert member_client.get(local(callback)).status_code == 400
    assert not FortnoxConnection.objects.exists()


def test_connection_page_and_disconnect(member_client, member, connection, sandbox):
    page = member_client.get("/fortnox/")
    assert COMPANY_NAME in page.content.decode()
    assert connection.refresh_token not in page.content.decode()
    response = member_client.post("/fortnox/disconnect/")
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.status == FortnoxConnection.Status.REVOKED
    assert sandbox.router.count("/oauth-v1/revoke") == 1
    assert "Reactivate" in member_client.get("/fortnox/").content.decode()


def test_connection_page_for_a_connection_needing_reactivation(member_client, connection):
    FortnoxConnection.objects.filter(pk=connection.pk).update(
        status=FortnoxConnection.Status.NEEDS_REACTIVATION
    )
    page = member_client.get("/fortnox/").content.decode()
    assert "no longer valid" in page
    assert "Reactivate" in page


def test_consent_for_another_fortnox_company_is_refused_and_revoked(member_client, member, sandbox):
    member.tenant.fortnox_tenant_id = 999
    member.tenant.save()
    callback = consent(member_client, sandbox)
    response = member_client.get(local(callback))
    assert response.status_code == 409
    assert not FortnoxConnection.objects.exists()
    # The consent we will not use does not stay valid at Fortnox.
    assert sandbox.router.count("/oauth-v1/revoke") == 1


def test_a_state_does_not_survive_signing_out_and_in_as_someone_else(member_client, sandbox):
    """The same browser, a different person: signing out drops the state, and a state is bound to
    the person who started the consent."""
    callback = consent(member_client, sandbox)
    member_client.post("/accounts/logout/")
    member_client.force_login(UserFactory())

    assert member_client.get(local(callback)).status_code == 400
    assert sandbox.router.count("/oauth-v1/token") == 0
    assert not FortnoxConnection.objects.exists()


def test_a_state_started_by_one_person_is_refused_for_another_in_the_same_session(
    member_client, member, sandbox
):
    """Even if the session survived a change of person (it does not), the state names who
    started the consent."""
    callback = consent(member_client, sandbox)
    session = member_client.session
    session[STATE_SESSION_KEY]["user_id"] = UserFactory().pk
    session.save()

    assert member_client.get(local(callback)).status_code == 400
    assert not FortnoxConnection.objects.exists()


def test_the_consent_connects_the_company_it_was_started_for(member_client, member, sandbox):
    """Switching company between starting the consent and Fortnox's answer does not move the
    connection to the company switched to."""
    from tenants.services import tenant_create

    other = tenant_create(owner=member.user, name="Andra AB")
    assert member_client.post(f"/companies/{member.tenant.pk}/switch/").status_code == 302
    callback = consent(member_client, sandbox)
    assert member_client.post(f"/companies/{other.pk}/switch/").status_code == 302

    assert member_client.get(local(callback)).status_code == 302
    assert FortnoxConnection.objects.get().tenant == member.tenant
