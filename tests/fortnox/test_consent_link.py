"""The consent link an owner sends to whoever administers Fortnox: made and e-mailed from the
Fortnox page, opened without an account, consent through the sandbox, refused when altered,
expired or used."""

import time
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail, signing
from django.urls import reverse

from fortnox.models import FortnoxConnection
from fortnox.sandbox.seed import COMPANY_NAME
from fortnox.services.consent_links import consent_link_create
from fortnox.tasks import fortnox_consent_link_send
from fortnox.views import STATE_SESSION_KEY
from integrations.models import IntegrationEvent
from tenants.middleware import SESSION_KEY as CURRENT_TENANT_SESSION_KEY
from tenants.models import Membership
from tests.factories import FortnoxConnectionFactory, MembershipFactory, UserFactory
from tests.fortnox.conftest import REDIRECT_URI, SANDBOX, connect, second_company
from tests.fortnox.test_views import local, sign_in_to_fortnox

CREATE = reverse("fortnox:consent_link_create")


def link_path(token: str) -> str:
    return reverse("fortnox:consent_link", args=[token])


@pytest.fixture
def emails_sent_at_once():
    with mock.patch(
        "fortnox.tasks.fortnox_consent_link_send.delay", side_effect=fortnox_consent_link_send
    ) as delay:
        yield delay


def consent_through(client, sandbox, token: str, *, decision: str = "allow") -> str:
    """Open the link, press the button, sign in to Fortnox and decide; returns the callback URL."""
    started = client.post(link_path(token))
    assert started.status_code == 302
    authorize = started["Location"]
    assert authorize.startswith(f"{SANDBOX}/oauth-v1/auth?")
    sign_in_to_fortnox(client, sandbox, local(authorize))
    answer = client.post(local(authorize), {"decision": decision})
    assert answer["Location"].startswith(REDIRECT_URI)
    return answer["Location"]


# --- the Fortnox page --------------------------------------------------------------------------


def test_the_fortnox_page_offers_the_link_to_managers_until_connected(member_client, member, db):
    page = member_client.get(reverse("fortnox:connection")).content.decode()
    assert "Someone else administers Fortnox?" in page
    assert f'action="{CREATE}"' in page
    FortnoxConnectionFactory(tenant=member.tenant)
    page = member_client.get(reverse("fortnox:connection")).content.decode()
    assert "Someone else administers Fortnox?" not in page
    assert 'action="/fortnox/disconnect/"' in page  # an active connection can be disconnected


def test_viewers_see_no_link_and_cannot_make_one(client, member):
    viewer = MembershipFactory(tenant=member.tenant, role=Membership.Role.VIEWER)
    client.force_login(viewer.user)
    assert "Someone else administers" not in client.get("/fortnox/").content.decode()
    assert client.post(CREATE, {"email": "x@example.com"}).status_code == 403
    assert not mail.outbox


def test_making_a_link_needs_sign_in_and_post(member_client):
    from django.test import Client

    assert "/accounts/login/" in Client().post(CREATE)["Location"]
    assert member_client.get(CREATE).status_code == 405


def test_a_link_to_copy_without_an_email(member_client, member, emails_sent_at_once):
    response = member_client.post(CREATE, {"email": ""})
    assert response.status_code == 200
    link = response.context["consent_link"]
    assert link.startswith("http://localhost:8000/fortnox/consent/")
    assert f'value="{link}"' in response.content.decode()
    assert not mail.outbox
    emails_sent_at_once.assert_not_called()


def test_the_link_is_emailed_in_html_and_text_after_commit(
    member_client, member, emails_sent_at_once, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = member_client.post(CREATE, {"email": "admin@byra.se"})
    assert len(callbacks) == 1
    link = response.context["consent_link"]
    assert "The consent link has been e-mailed to admin@byra.se." in response.content.decode()
    (message,) = mail.outbox
    assert message.to == ["admin@byra.se"]
    assert member.tenant.name in message.subject
    assert link in message.body
    assert member.user.email in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert f'href="{link}"' in html
    event = IntegrationEvent.objects.get(kind=IntegrationEvent.Kind.EMAIL)
    assert event.message == "Fortnox consent link sent to admin@byra.se."
    assert event.actor == member.user


def test_the_task_renders_the_email_in_the_companys_language(member):
    member.tenant.language = "sv"
    member.tenant.name = "Berg & Son AB"
    member.tenant.save()
    with mock.patch("tenants.emails.translation.override") as override:
        fortnox_consent_link_send(
            member.tenant.pk, "a@b.se", consent_link_create(tenant=member.tenant)
        )
    override.assert_called_once_with("sv")
    (message,) = mail.outbox
    assert "http://localhost:8000/fortnox/consent/" in message.body
    assert "Berg & Son AB" in message.body
    assert "Berg & Son AB" in message.subject


def test_a_bad_email_address_is_explained_and_nothing_is_made(member_client, emails_sent_at_once):
    response = member_client.post(CREATE, {"email": "not-an-address"})
    assert response.status_code == 200
    assert "Write a whole e-mail address, such as anna@example.com." in response.content.decode()
    assert "consent_link" not in response.context
    assert not mail.outbox


# --- the link's page and the consent -----------------------------------------------------------


def test_the_link_shows_the_company_and_what_is_asked_without_an_account(client, member, db):
    token = consent_link_create(tenant=member.tenant)
    response = client.get(link_path(token))
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Connect Fortnox for {member.tenant.name}" in page
    assert "Invoices: create the invoice when an order has been delivered" in page
    assert "Give consent in Fortnox" in page


def test_consent_through_the_link_connects_that_company(client, member, sandbox):
    token = consent_link_create(tenant=member.tenant)
    callback = consent_through(client, sandbox, token)
    response = client.get(local(callback))
    assert response.status_code == 200
    assert "Fortnox is connected" in response.content.decode()
    assert COMPANY_NAME in response.content.decode()
    connection = FortnoxConnection.objects.get()
    assert connection.tenant == member.tenant
    assert connection.status == FortnoxConnection.Status.ACTIVE
    assert connection.connected_by is None
    assert STATE_SESSION_KEY not in client.session
    # Used: the link no longer works, and nothing changes when it is tried again.
    again = client.get(link_path(token))
    assert again.status_code == 410
    assert "already been connected since this link was made" in again.content.decode()
    assert client.post(link_path(token)).status_code == 410
    assert FortnoxConnection.objects.get().access_token == connection.access_token


def test_a_signed_in_stranger_can_consent_but_gets_no_access(client, member, sandbox):
    stranger = MembershipFactory()  # a member of some other company
    client.force_login(stranger.user)
    callback = consent_through(client, sandbox, consent_link_create(tenant=member.tenant))
    assert client.get(local(callback)).status_code == 200
    assert FortnoxConnection.objects.get().tenant == member.tenant
    assert client.session.get(CURRENT_TENANT_SESSION_KEY) is None
    assert not Membership.objects.filter(user=stranger.user, tenant=member.tenant).exists()


def test_the_answer_in_another_browser_is_refused(client, member, sandbox):
    from django.test import Client

    callback = consent_through(client, sandbox, consent_link_create(tenant=member.tenant))
    assert Client().get(local(callback)).status_code == 400
    assert not FortnoxConnection.objects.exists()


def test_denied_consent_through_the_link_offers_to_try_again(client, member, sandbox):
    token = consent_link_create(tenant=member.tenant)
    callback = consent_through(client, sandbox, token, decision="deny")
    response = client.get(local(callback))
    assert response.status_code == 200
    assert "every permission" in response.content.decode()
    assert f'href="{link_path(token)}"' in response.content.decode()
    assert not FortnoxConnection.objects.exists()


def test_the_fortnox_company_of_another_customer_is_refused(client, member, sandbox):
    from tests.factories import TenantFactory

    connect(tenant=TenantFactory(), app=sandbox.app, user=sandbox.user)
    callback = consent_through(client, sandbox, consent_link_create(tenant=member.tenant))
    response = client.get(local(callback))
    assert response.status_code == 409
    assert "already connected to another company" in response.content.decode()
    assert not FortnoxConnection.objects.filter(tenant=member.tenant).exists()


def test_a_link_for_one_company_never_connects_another(client, member, sandbox):
    other = MembershipFactory()
    second_company()
    callback = consent_through(client, sandbox, consent_link_create(tenant=other.tenant))
    client.get(local(callback))
    assert FortnoxConnection.objects.get().tenant == other.tenant
    assert not FortnoxConnection.objects.filter(tenant=member.tenant).exists()


# --- refused links: nothing changes ------------------------------------------------------------


def test_an_expired_link_is_refused_with_a_clear_page(client, member, sandbox):
    eight_days_ago = time.time() - 8 * 24 * 3600
    with mock.patch("time.time", return_value=eight_days_ago):
        token = consent_link_create(tenant=member.tenant)
    for response in (client.get(link_path(token)), client.post(link_path(token))):
        assert response.status_code == 410
        page = response.content.decode()
        assert "older than seven days" in page
        assert "Nothing has been changed." in page
    assert STATE_SESSION_KEY not in client.session


def test_a_link_six_days_old_still_works(client, member, db):
    with mock.patch("time.time", return_value=time.time() - 6 * 24 * 3600):
        token = consent_link_create(tenant=member.tenant)
    assert client.get(link_path(token)).status_code == 200


@pytest.mark.parametrize("change", ["signature", "company"])
def test_a_tampered_link_is_refused(client, member, db, change):
    token = consent_link_create(tenant=member.tenant)
    if change == "signature":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    else:
        other = MembershipFactory()
        payload, _rest = token.split(":", 1)
        forged = signing.dumps({"tenant": other.tenant.pk, "at": time.time()}, salt="other")
        token = forged.split(":", 1)[0] + ":" + _rest
        assert payload != forged.split(":", 1)[0]
    response = client.get(link_path(token))
    assert response.status_code == 400
    assert "This consent link is not valid." in response.content.decode()
    assert client.post(link_path(token)).status_code == 400
    assert STATE_SESSION_KEY not in client.session


def test_a_link_made_before_fortnox_was_connected_another_way_is_used_up(client, member, sandbox):
    token = consent_link_create(tenant=member.tenant)
    connect(tenant=member.tenant, app=sandbox.app, user=sandbox.user)
    assert client.get(link_path(token)).status_code == 410


def test_a_started_consent_whose_link_got_used_meanwhile_changes_nothing(client, member, sandbox):
    token = consent_link_create(tenant=member.tenant)
    callback = consent_through(client, sandbox, token)
    connection = connect(tenant=member.tenant, app=sandbox.app, user=sandbox.user)
    response = client.get(local(callback))
    assert response.status_code == 410
    assert FortnoxConnection.objects.get().access_token == connection.access_token
    assert "code=" in urlsplit(callback).query and parse_qs(urlsplit(callback).query)["state"]


def test_a_new_link_after_a_disconnect_works(member_client, member, sandbox, client):
    connection = connect(tenant=member.tenant, app=sandbox.app, user=sandbox.user)
    member_client.post("/fortnox/disconnect/")
    connection.refresh_from_db()
    assert connection.status == FortnoxConnection.Status.REVOKED
    page = member_client.get("/fortnox/").content.decode()
    assert "Someone else administers Fortnox?" in page
    link = member_client.post(CREATE, {"email": ""}).context["consent_link"]
    token = urlsplit(link).path.rstrip("/").rsplit("/", 1)[-1]
    callback = consent_through(client, sandbox, token)
    assert client.get(local(callback)).status_code == 200
    connection.refresh_from_db()
    assert connection.status == FortnoxConnection.Status.ACTIVE


def test_an_unknown_user_cannot_make_a_link(client, db):
    client.force_login(UserFactory())
    assert client.post(CREATE)["Location"] == reverse("tenants:create")
