"""The team page: members and invitations, roles, removal, the e-mailed single-use invitation, and
refusals for viewers, other companies' rows and links that were altered, expired or used."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tenants.middleware import SESSION_KEY
from tenants.models import Invitation, Membership
from tenants.services import invitation_create, tenant_create
from tenants.tasks import tenant_invitation_send
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

TEAM = reverse("tenants:team")
INVITE = reverse("tenants:team_invite")


@pytest.fixture(autouse=True)
def emails_sent_at_once():
    with mock.patch(
        "tenants.tasks.tenant_invitation_send.delay", side_effect=tenant_invitation_send
    ) as delay:
        yield delay


def invite(client, email="kollega@example.com", role="viewer"):
    return client.post(INVITE, {"email": email, "role": role})


def link_from_mail(message) -> str:
    url = re.search(r"http://localhost:8000(/companies/invitations/[^\s]+/)", message.body)
    assert url, message.body
    return url.group(1)


def member_of(tenant, role, email=None):
    kwargs = {"tenant": tenant, "role": role}
    if email:
        kwargs["user"] = UserFactory(email=email)
    return MembershipFactory(**kwargs)


# --- the page ----------------------------------------------------------------------------------


def test_the_team_page_lists_members_and_invitations_in_the_products_look(member_client, member):
    colleague = member_of(member.tenant, Membership.Role.ADMIN, "admin@example.com")
    MembershipFactory(user=UserFactory(email="stranger@example.com"))  # another company
    invitation_create(
        tenant=member.tenant, email="ny@example.com", role="viewer", invited_by=member
    )
    response = member_client.get(TEAM)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="topbar"' in page
    assert f'href="{TEAM}"' in page  # the nav link
    assert member.user.email in page and colleague.user.email in page
    assert "ny@example.com" in page
    assert "stranger@example.com" not in page
    assert "Invite a colleague" in page
    assert reverse("tenants:team_role", args=[colleague.pk]) in page


def test_viewers_see_the_team_read_only(client, member):
    viewer = member_of(member.tenant, Membership.Role.VIEWER)
    client.force_login(viewer.user)
    page = client.get(TEAM).content.decode()
    assert member.user.email in page
    assert "Invite a colleague" not in page
    assert "Change role" not in page and "Remove</button>" not in page
    assert "an owner or administrator can invite colleagues" in page
    assert invite(client).status_code == 403
    assert (
        client.post(reverse("tenants:team_role", args=[member.pk]), {"role": "viewer"}).status_code
        == 403
    )
    assert client.post(reverse("tenants:team_remove", args=[member.pk])).status_code == 403
    assert not Invitation.objects.exists()
    assert Membership.objects.get(pk=member.pk).role == Membership.Role.OWNER


def test_the_team_page_needs_sign_in_and_a_company(client):
    assert "/accounts/login/" in client.get(TEAM)["Location"]
    client.force_login(UserFactory())
    assert client.get(TEAM)["Location"] == reverse("tenants:create")


# --- inviting ----------------------------------------------------------------------------------


def test_an_invitation_is_emailed_after_commit_in_html_and_text(
    member_client, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = invite(member_client, "Kollega@Example.com", "admin")
    assert response.status_code == 302
    assert len(callbacks) == 1
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "kollega@example.com",
        "admin",
        member.user,
    )
    assert abs(invitation.expires_at - invitation.created_at - timedelta(days=7)) < timedelta(
        seconds=1
    )
    (message,) = mail.outbox
    assert message.to == ["kollega@example.com"]
    assert member.tenant.name in message.subject
    path = link_from_mail(message)
    token = path.rstrip("/").rsplit("/", 1)[-1]
    assert token not in invitation.token_hash  # only the hash is stored
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and path in html
    # In the company's language (Swedish here; the sentences follow once translated).
    assert member.tenant.language == "sv"
    assert "administratör" in message.body
    follow = member_client.get(TEAM).content.decode()
    assert "An invitation has been e-mailed to kollega@example.com." in follow


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("", "Write the e-mail address of the person you invite."),
        ("inte-en-adress", "Write a whole e-mail address, such as anna@example.com."),
    ],
)
def test_invitation_form_messages(member_client, email, message):
    response = invite(member_client, email)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Invitation.objects.exists()


def test_an_unknown_role_is_refused(member_client):
    response = invite(member_client, role="god")
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()


def test_a_member_cannot_be_invited_again(member_client, member):
    response = invite(member_client, member.user.email.upper())
    assert f"{member.user.email} is already a member." in response.content.decode()
    assert not mail.outbox


def test_a_pending_invitation_is_not_sent_twice(member_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(member_client)
        response = invite(member_client)
    assert "has already been invited. Revoke that invitation" in response.content.decode()
    assert len(mail.outbox) == 1


def test_only_owners_invite_owners(client, member):
    admin = member_of(member.tenant, Membership.Role.ADMIN)
    client.force_login(admin.user)
    response = invite(client, role="owner")
    assert "Only an owner can invite another owner." in response.content.decode()
    assert invite(client, role="admin").status_code == 302


# --- accepting ---------------------------------------------------------------------------------


def test_a_new_person_signs_up_from_the_link_and_joins(member, django_capture_on_commit_callbacks):
    owner = Client()
    owner.force_login(member.user)
    with django_capture_on_commit_callbacks(execute=True):
        invite(owner, "ny@example.com", "admin")
    path = link_from_mail(mail.outbox[0])

    visitor = Client()
    page = visitor.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert f"Join {member.tenant.name}" in html
    signup_url = page.context["signup_url"]
    assert "email=ny%40example.com" in signup_url
    assert "email=ny%40example.com" in page.context["login_url"]
    signup = visitor.get(signup_url)
    assert 'value="ny@example.com"' in signup.content.decode()
    visitor.post(
        signup_url,
        {
            "email": "ny@example.com",
            "password1": "Ett-lagom-langt-42",
            "password2": "Ett-lagom-langt-42",
        },
    )
    confirm = re.search(r"/accounts/confirm-email/[^\s]+/", mail.outbox[-1].body).group(0)
    visitor.post(confirm)
    # Wherever sign-up left them, the invitation waits for them.
    assert visitor.get(reverse("integrations:home"))["Location"] == path
    joined = visitor.post(path)
    assert joined["Location"] == reverse("integrations:home")
    membership = Membership.objects.get(user__email="ny@example.com")
    assert (membership.tenant, membership.role) == (member.tenant, Membership.Role.ADMIN)
    assert visitor.session[SESSION_KEY] == member.tenant.pk
    assert Invitation.objects.get().accepted_at is not None
    # Single use.
    again = visitor.get(path)
    assert again.status_code == 410
    assert "already been accepted" in again.content.decode()


def test_someone_with_other_companies_joins_and_it_becomes_current(client, member):
    agency = tenant_create(owner=UserFactory(email="byra@example.com"), name="Byrån AB")
    _invitation, token = invitation_create(
        tenant=member.tenant, email="byra@example.com", role="viewer", invited_by=member
    )
    client.force_login(agency.memberships.get().user)
    path = reverse("tenants:invitation", args=[token])
    assert "Join the company" in client.get(path).content.decode()
    client.post(path)
    assert client.session[SESSION_KEY] == member.tenant.pk
    home = client.get(reverse("integrations:home")).content.decode()
    assert member.tenant.name in home and "Byrån AB" in home  # the switcher


def test_a_forwarded_link_does_not_let_someone_else_in(client, member):
    _invitation, token = invitation_create(
        tenant=member.tenant, email="ratt@example.com", role="admin", invited_by=member
    )
    client.force_login(UserFactory(email="fel@example.com"))
    path = reverse("tenants:invitation", args=[token])
    page = client.get(path).content.decode()
    assert "This invitation was sent to ratt@example.com, but you are signed in as" in page
    client.post(path)
    assert not Membership.objects.filter(user__email="fel@example.com").exists()
    assert Invitation.objects.get().accepted_at is None


def test_an_expired_invitation_is_refused(client, member):
    invitation, token = invitation_create(
        tenant=member.tenant, email="sen@example.com", role="viewer", invited_by=member
    )
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    client.force_login(UserFactory(email="sen@example.com"))
    path = reverse("tenants:invitation", args=[token])
    for response in (client.get(path), client.post(path)):
        assert response.status_code == 410
        assert "older than seven days" in response.content.decode()
        assert "Nothing has been changed." in response.content.decode()
    assert not Membership.objects.filter(user__email="sen@example.com").exists()


def test_a_tampered_or_revoked_link_is_refused(member_client, member, client):
    invitation, token = invitation_create(
        tenant=member.tenant, email="x@example.com", role="viewer", invited_by=member
    )
    tampered = client.get(
        reverse("tenants:invitation", args=[token[:-1] + ("B" if token.endswith("A") else "A")])
    )
    assert tampered.status_code == 404
    assert "This invitation link is not valid" in tampered.content.decode()
    response = member_client.post(reverse("tenants:team_revoke", args=[invitation.pk]))
    assert response.status_code == 302
    assert not Invitation.objects.exists()
    assert (
        "The invitation to x@example.com has been revoked."
        in member_client.get(TEAM).content.decode()
    )
    assert Client().get(reverse("tenants:invitation", args=[token])).status_code == 404


def test_an_expired_invitation_is_marked_on_the_team_page(member_client, member):
    invitation, _token = invitation_create(
        tenant=member.tenant, email="sen@example.com", role="viewer", invited_by=member
    )
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    assert "Expired" in member_client.get(TEAM).content.decode()


# --- roles and removal -------------------------------------------------------------------------


def test_change_a_role(member_client, member):
    colleague = member_of(member.tenant, Membership.Role.VIEWER, "v@example.com")
    response = member_client.post(
        reverse("tenants:team_role", args=[colleague.pk]), {"role": "admin"}
    )
    assert response.status_code == 302
    colleague.refresh_from_db()
    assert colleague.role == Membership.Role.ADMIN
    assert "v@example.com is now administrator." in member_client.get(TEAM).content.decode()


def test_an_invalid_role_is_explained(member_client, member):
    colleague = member_of(member.tenant, Membership.Role.VIEWER)
    member_client.post(reverse("tenants:team_role", args=[colleague.pk]), {"role": "boss"})
    assert "Choose owner, administrator or viewer." in member_client.get(TEAM).content.decode()


def test_the_last_owner_cannot_step_down_or_leave(member_client, member):
    member_client.post(reverse("tenants:team_role", args=[member.pk]), {"role": "admin"})
    member.refresh_from_db()
    assert member.role == Membership.Role.OWNER
    assert "A company needs at least one owner." in member_client.get(TEAM).content.decode()
    member_client.post(reverse("tenants:team_remove", args=[member.pk]))
    assert Membership.objects.filter(pk=member.pk).exists()


def test_with_a_second_owner_an_owner_may_step_down(member_client, member):
    member_of(member.tenant, Membership.Role.OWNER)
    member_client.post(reverse("tenants:team_role", args=[member.pk]), {"role": "viewer"})
    member.refresh_from_db()
    assert member.role == Membership.Role.VIEWER


def test_admins_cannot_touch_owners_or_make_owners(client, member):
    admin = member_of(member.tenant, Membership.Role.ADMIN)
    viewer = member_of(member.tenant, Membership.Role.VIEWER)
    client.force_login(admin.user)
    client.post(reverse("tenants:team_role", args=[member.pk]), {"role": "viewer"})
    client.post(reverse("tenants:team_remove", args=[member.pk]))
    client.post(reverse("tenants:team_role", args=[viewer.pk]), {"role": "owner"})
    assert "Only an owner can make someone an owner" in client.get(TEAM).content.decode()
    member.refresh_from_db()
    viewer.refresh_from_db()
    assert (member.role, viewer.role) == (Membership.Role.OWNER, Membership.Role.VIEWER)
    # An admin may still manage viewers.
    client.post(reverse("tenants:team_remove", args=[viewer.pk]))
    assert not Membership.objects.filter(pk=viewer.pk).exists()


def test_remove_a_member(member_client, member):
    colleague = member_of(member.tenant, Membership.Role.ADMIN, "bort@example.com")
    response = member_client.post(reverse("tenants:team_remove", args=[colleague.pk]))
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=colleague.pk).exists()
    assert "bort@example.com has been removed." in member_client.get(TEAM).content.decode()


def test_the_team_urls_need_post(member_client, member):
    assert member_client.get(reverse("tenants:team_remove", args=[member.pk])).status_code == 405
    assert member_client.get(INVITE).status_code == 405


# --- other companies' rows are not found -------------------------------------------------------


def test_another_companys_members_and_invitations_are_not_found(member_client, member):
    other = tenant_create(owner=UserFactory(), name="Annat AB")
    their_owner = other.memberships.get()
    their_invitation, _token = invitation_create(
        tenant=other, email="deras@example.com", role="viewer", invited_by=their_owner
    )
    assert (
        member_client.post(
            reverse("tenants:team_role", args=[their_owner.pk]), {"role": "viewer"}
        ).status_code
        == 404
    )
    assert (
        member_client.post(reverse("tenants:team_remove", args=[their_owner.pk])).status_code == 404
    )
    assert (
        member_client.post(reverse("tenants:team_revoke", args=[their_invitation.pk])).status_code
        == 404
    )
    their_owner.refresh_from_db()
    assert their_owner.role == Membership.Role.OWNER
    assert Invitation.objects.filter(pk=their_invitation.pk).exists()


# --- several companies -------------------------------------------------------------------------


def test_a_further_company_from_the_same_account_becomes_current_with_its_own_settings(
    member_client, member
):
    from fortnox.models import FortnoxConnection
    from tests.factories import FortnoxConnectionFactory, OngoingConnectionFactory

    FortnoxConnectionFactory(tenant=member.tenant)
    OngoingConnectionFactory(tenant=member.tenant)
    response = member_client.post(reverse("tenants:create"), {"name": "Andra Bolaget AB"})
    assert response["Location"] == reverse("integrations:home")
    second = Membership.objects.get(user=member.user, tenant__name="Andra Bolaget AB")
    assert second.role == Membership.Role.OWNER
    assert member_client.session[SESSION_KEY] == second.tenant_id
    # Its own, empty connections and its own settings.
    assert "Not connected yet" in member_client.get(reverse("fortnox:connection")).content.decode()
    assert "Not connected yet" in member_client.get(reverse("ongoing:connection")).content.decode()
    settings_page = member_client.get(reverse("integrations:settings"))
    assert settings_page.status_code == 200
    assert second.tenant.integrations.get().problem_email == member.user.email
    assert not FortnoxConnection.objects.filter(tenant=second.tenant).exists()
    # Its own team, and the switcher leads back to the first company.
    team = member_client.get(TEAM).content.decode()
    assert "Andra Bolaget AB" in team and member.tenant.name in team
    member_client.post(reverse("tenants:switch", args=[member.tenant_id]))
    assert member_client.session[SESSION_KEY] == member.tenant_id
    assert "Connected" in member_client.get(reverse("fortnox:connection")).content.decode()


def test_an_existing_account_signs_in_from_the_link_with_the_address_filled_in(member):
    user = UserFactory(email="finns@example.com")
    user.emailaddress_set.create(email=user.email, verified=True, primary=True)
    _invitation, token = invitation_create(
        tenant=member.tenant, email="finns@example.com", role="viewer", invited_by=member
    )
    path = reverse("tenants:invitation", args=[token])
    visitor = Client()
    login_url = visitor.get(path).context["login_url"]
    assert 'value="finns@example.com"' in visitor.get(login_url).content.decode()
    signed_in = visitor.post(
        login_url, {"login": "finns@example.com", "password": "correct-horse-battery"}
    )
    assert signed_in["Location"] == path
    visitor.post(path)
    assert Membership.objects.get(user=user).tenant == member.tenant


def test_leaving_a_company_forgets_it_as_the_current_one(client, member):
    colleague = member_of(member.tenant, Membership.Role.ADMIN)
    client.force_login(colleague.user)
    session = client.session
    session[SESSION_KEY] = member.tenant_id
    session.save()
    response = client.post(reverse("tenants:team_remove", args=[colleague.pk]))
    assert response["Location"] == reverse("integrations:home")
    assert SESSION_KEY not in client.session
    assert not Membership.objects.filter(pk=colleague.pk).exists()
