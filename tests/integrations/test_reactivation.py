"""Reactivation by e-mailed link: one e-mail per incident, in the company's language, to the
problem address (or the owners); the link expired, reused, tampered, for another company; the
sign-in with the address filled in; the consent that makes the integration run again at once."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from fortnox.errors import FortnoxNeedsReactivation, OAuthInvalidGrant
from fortnox.models import FortnoxConnection
from fortnox.oauth import TokenSet
from fortnox.services.connections import FortnoxCompany, connection_connect
from fortnox.services.tokens import connection_token_refresh
from integrations.models import Integration, IntegrationEvent, ReactivationLink, SyncRun
from integrations.services.reactivation import (
    LinkProblem,
    reactivation_email_send,
    reactivation_incident_open,
    reactivation_link_check,
)
from tenants.models import Membership
from tests.factories import (
    FortnoxConnectionFactory,
    MembershipFactory,
    OngoingConnectionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration(member):
    integration = member.tenant.integrations.get()
    integration.status = Integration.Status.ACTIVE
    integration.problem_email = "drift@example.com"
    integration.save()
    return integration


@pytest.fixture
def connection(member, integration):
    OngoingConnectionFactory(tenant=member.tenant)
    return FortnoxConnectionFactory(tenant=member.tenant)


@pytest.fixture
def send_now():
    """The e-mail task runs in place of being queued."""
    with mock.patch(
        "integrations.tasks.reactivation_email_send.delay",
        side_effect=lambda link_id: reactivation_email_send(link_id=link_id),
    ) as delay:
        yield delay


@pytest.fixture
def sync_queued():
    with mock.patch("integrations.tasks.integration_sync.delay") as delay:
        yield delay


def break_token(connection, capture):
    """Fortnox refuses the refresh token, as the token service sees it."""
    with (
        mock.patch(
            "fortnox.services.tokens.oauth_token_refresh",
            side_effect=OAuthInvalidGrant("Invalid refresh token", error="invalid_grant"),
        ),
        capture(execute=True),
        pytest.raises(FortnoxNeedsReactivation),
    ):
        connection_token_refresh(connection_id=connection.pk)
    connection.refresh_from_db()


def link_in(message) -> str:
    return re.search(r"https?://\S+/app/reactivate/[^/\s]+/", message.body).group(0)


def path_of(url: str) -> str:
    return url.split("localhost:8000", 1)[1] if "localhost:8000" in url else url


def consent(tenant, fortnox_tenant_id, actor=None):
    return connection_connect(
        tenant=tenant,
        tokens=TokenSet(
            access_token="new-access",
            refresh_token="new-refresh",
            expires_at=timezone.now() + timedelta(hours=1),
            scopes=["article"],
        ),
        company=FortnoxCompany(
            fortnox_tenant_id=fortnox_tenant_id, name=tenant.name, organisation_number=""
        ),
        actor=actor,
    )


@pytest.fixture
def emailed(connection, integration, send_now, django_capture_on_commit_callbacks):
    break_token(connection, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    return path_of(link_in(mail.outbox[0]))


def test_a_broken_token_sends_one_email_with_a_link(connection, integration, emailed):
    message = mail.outbox[0]
    integration.refresh_from_db()
    assert integration.status == Integration.Status.NEEDS_REACTIVATION
    assert message.to == ["drift@example.com"]
    # The company's language is Swedish (the default).
    assert "återaktivera" in message.subject.lower()
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert emailed.split("/app/")[1] in html
    link = ReactivationLink.objects.get()
    assert link.incident_started_at == connection.needs_reactivation_since
    assert link.token_hash and emailed.split("/")[-2] not in link.token_hash
    assert link.expires_at - link.sent_at == timedelta(days=7)
    event = IntegrationEvent.objects.get(integration=integration, kind=IntegrationEvent.Kind.EMAIL)
    assert "drift@example.com" in event.message


def test_the_same_incident_never_sends_a_second_email(connection, integration, emailed, send_now):
    link = ReactivationLink.objects.get()

    reactivation_incident_open(connection_id=connection.pk)  # the signal again
    reactivation_email_send(link_id=link.pk)  # the task again (a redelivery)

    assert len(mail.outbox) == 1
    assert ReactivationLink.objects.count() == 1


def test_a_new_incident_after_reactivation_sends_a_new_email(
    member,
    connection,
    integration,
    emailed,
    send_now,
    sync_queued,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        consent(member.tenant, connection.fortnox_tenant_id, actor=member.user)
    connection.refresh_from_db()

    break_token(connection, django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 2
    assert ReactivationLink.objects.count() == 2


def test_the_email_is_in_the_company_language(
    member, connection, integration, send_now, django_capture_on_commit_callbacks
):
    """The strings are translated by the lead's message files; here: rendered in Swedish."""
    from django.template.loader import render_to_string
    from django.utils import translation

    member.tenant.language = "sv"
    member.tenant.save()
    languages = []

    def rendering(*args, **kwargs):
        languages.append(translation.get_language())
        return render_to_string(*args, **kwargs)

    with mock.patch("integrations.services.reactivation.render_to_string", side_effect=rendering):
        break_token(connection, django_capture_on_commit_callbacks)

    assert languages == ["sv", "sv", "sv"]
    assert len(mail.outbox) == 1
    assert "återaktivera" in mail.outbox[0].subject.lower()


def test_without_a_problem_address_the_owners_get_it(
    member, connection, integration, send_now, django_capture_on_commit_callbacks
):
    Integration.objects.filter(pk=integration.pk).update(problem_email="")
    second_owner = MembershipFactory(tenant=member.tenant, role=Membership.Role.OWNER)
    MembershipFactory(tenant=member.tenant, role=Membership.Role.VIEWER)

    break_token(connection, django_capture_on_commit_callbacks)

    assert sorted(mail.outbox[0].to) == sorted([member.user.email, second_owner.user.email])


def test_an_integration_being_set_up_gets_no_email(
    connection, integration, send_now, django_capture_on_commit_callbacks
):
    Integration.objects.filter(pk=integration.pk).update(status=Integration.Status.SETUP)

    break_token(connection, django_capture_on_commit_callbacks)

    assert mail.outbox == []


def test_the_link_sends_a_stranger_to_sign_in_with_the_address_filled_in(client, emailed):
    response = client.get(emailed)

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert "email=drift%40example.com" in response.url
    login_page = client.get(response.url)
    assert 'value="drift@example.com"' in login_page.content.decode()
    assert ReactivationLink.objects.get().used_at is None


def test_the_link_takes_an_administrator_to_the_fortnox_consent(member, client, emailed):
    other = MembershipFactory(user=member.user, role=Membership.Role.OWNER)
    client.force_login(member.user)
    session = client.session
    session["current_tenant_id"] = other.tenant_id
    session.save()

    response = client.get(emailed)

    content = response.content.decode()
    assert response.status_code == 200
    assert f'action="{reverse("fortnox:connect")}"' in content
    assert 'id="reactivate-form"' in content
    assert client.session["current_tenant_id"] == member.tenant_id
    link = ReactivationLink.objects.get()
    assert link.used_at is not None and link.used_by == member.user
    # The form leads to Fortnox's consent page for this company.
    consent_page = client.post(reverse("fortnox:connect"))
    assert consent_page.status_code == 302
    assert "state=" in consent_page.url
    assert client.session["fortnox_oauth"]["tenant_id"] == member.tenant_id


def test_a_used_link_is_refused_and_changes_nothing(member, client, emailed):
    client.force_login(member.user)
    client.get(emailed)
    used_at = ReactivationLink.objects.get().used_at

    response = client.get(emailed)

    assert response.status_code == 410
    assert "already been used" in response.content.decode()
    assert ReactivationLink.objects.get().used_at == used_at


def test_an_expired_link_is_refused(member, client, emailed):
    ReactivationLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(member.user)

    response = client.get(emailed)

    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert ReactivationLink.objects.get().used_at is None


def test_an_expired_link_is_refused_before_sign_in(client, emailed):
    ReactivationLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get(emailed)

    assert response.status_code == 410


@pytest.mark.parametrize(
    "tamper",
    [
        lambda path: path.replace("/reactivate/", "/reactivate/x"),
        # The signature's last character, changed to another one.
        lambda path: path[:-2] + ("B" if path[-2] == "A" else "A") + "/",
        lambda path: reverse(
            "integrations:reactivate",
            args=[signing.dumps({"link": 1, "n": "guess"}, salt="another-salt")],
        ),
    ],
)
def test_a_tampered_link_is_refused(member, client, emailed, tamper):
    client.force_login(member.user)

    response = client.get(tamper(emailed))

    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    assert ReactivationLink.objects.get().used_at is None


def test_a_forged_link_for_the_right_row_is_refused(emailed):
    link = ReactivationLink.objects.get()
    from integrations.services.reactivation import SIGNING_SALT

    forged = signing.dumps({"link": link.pk, "n": "other-nonce"}, salt=SIGNING_SALT)

    assert reactivation_link_check(token=forged).problem == LinkProblem.INVALID


def test_a_link_for_another_company_is_refused(client, emailed):
    stranger = MembershipFactory(role=Membership.Role.OWNER)
    client.force_login(stranger.user)

    response = client.get(emailed)

    assert response.status_code == 403
    assert "do not administer" in response.content.decode()
    assert ReactivationLink.objects.get().used_at is None
    assert "current_tenant_id" not in client.session


def test_a_viewer_of_the_company_cannot_use_the_link(member, client, emailed):
    viewer = MembershipFactory(tenant=member.tenant, role=Membership.Role.VIEWER)
    client.force_login(viewer.user)

    response = client.get(emailed)

    assert response.status_code == 403
    assert ReactivationLink.objects.get().used_at is None


def test_a_link_of_a_resolved_incident_is_refused(
    member, client, connection, emailed, sync_queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        consent(member.tenant, connection.fortnox_tenant_id)
    client.force_login(member.user)

    response = client.get(emailed)

    assert response.status_code == 410
    assert "already been reactivated" in response.content.decode()


def test_the_problem_pages_are_translated(member, client, emailed):
    ReactivationLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(member.user)

    response = client.get(emailed, HTTP_ACCEPT_LANGUAGE="sv")

    assert response.status_code == 410
    assert '<html lang="sv">' in response.content.decode()


def test_consent_makes_the_integration_active_and_runs_it_at_once(
    member, connection, integration, emailed, sync_queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        consent(member.tenant, connection.fortnox_tenant_id, actor=member.user)

    integration.refresh_from_db()
    connection.refresh_from_db()
    assert connection.status == FortnoxConnection.Status.ACTIVE
    assert integration.status == Integration.Status.ACTIVE
    sync_queued.assert_called_once_with(integration.pk, SyncRun.Trigger.EVENT)
    # The schedule moved on: the tick does not start a second run now.
    assert integration.next_run_at > timezone.now() + timedelta(minutes=10)


def test_a_first_consent_queues_no_extra_run(
    member, sync_queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        consent(member.tenant, 4_000_001)

    sync_queued.assert_not_called()


@pytest.mark.parametrize("page", ["integrations:home", "integrations:settings"])
def test_status_and_settings_pages_offer_reactivation(member_client, member, connection, page):
    FortnoxConnection.objects.filter(pk=connection.pk).update(
        status=FortnoxConnection.Status.NEEDS_REACTIVATION, needs_reactivation_since=timezone.now()
    )
    Integration.objects.filter(tenant=member.tenant).update(
        status=Integration.Status.NEEDS_REACTIVATION
    )

    content = member_client.get(reverse(page)).content.decode()

    assert "The keys for the integration are no longer valid." in content
    assert "Click here to start the process which will reactivate the integration." in content
    assert f'action="{reverse("fortnox:connect")}"' in content


def test_a_viewer_sees_who_can_reactivate(client, member, connection):
    FortnoxConnection.objects.filter(pk=connection.pk).update(
        status=FortnoxConnection.Status.NEEDS_REACTIVATION
    )
    viewer = MembershipFactory(tenant=member.tenant, role=Membership.Role.VIEWER)
    client.force_login(viewer.user)

    content = client.get(reverse("integrations:home")).content.decode()

    assert "An owner or administrator of the company can reactivate it." in content
    assert "Click here to start the process" not in content


def test_login_page_without_email_is_empty(client):
    response = client.get(reverse("account_login"))

    assert response.status_code == 200
    assert "drift@example.com" not in response.content.decode()


def test_signed_in_user_without_the_company_and_anonymous_get_no_tenant_switch(client):
    user = UserFactory()
    client.force_login(user)

    response = client.get(reverse("integrations:reactivate", args=["nonsense"]))

    assert response.status_code == 400


def test_after_signing_in_the_link_continues_to_the_consent(client, member, emailed):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(
        user=member.user, email=member.user.email, verified=True, primary=True
    )
    login_url = client.get(emailed).url

    signed_in = client.post(
        login_url, {"login": member.user.email, "password": "correct-horse-battery"}
    )

    assert signed_in.status_code == 302
    assert signed_in.url == emailed
    consent_page = client.get(signed_in.url)
    assert consent_page.status_code == 200
    assert 'id="reactivate-form"' in consent_page.content.decode()
