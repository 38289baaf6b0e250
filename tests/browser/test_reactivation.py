"""A broken Fortnox token, in a real browser: Fortnox refuses the refresh token, the integration
stops and one e-mail goes with a reactivation link; the link signs in with the address filled in
and goes straight to the Fortnox consent; after Tillåt the integration is active and runs again."""

import re
from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from fortnox.errors import FortnoxNeedsReactivation, OAuthInvalidGrant
from fortnox.models import FortnoxConnection
from fortnox.oauth import oauth_token_refresh
from fortnox.sandbox.models import SandboxApp, SandboxRefreshToken, SandboxUser
from fortnox.services.tokens import connection_token_refresh
from integrations.models import Integration, SyncRun
from integrations.selectors import integration_for_tenant
from integrations.services.integrations import integration_activate
from integrations.services.reactivation import reactivation_email_send
from integrations.tasks import integration_sync
from ongoing.services import ongoing_connection_save, ongoing_connection_verify
from tenants.services import tenant_create
from tests.browser.support import browser_marks
from tests.factories import UserFactory
from tests.fortnox.conftest import connect

pytestmark = browser_marks

EMAIL = "lisa@demohandel.se"
PASSWORD = "correct-horse-battery"  # UserFactory's


@pytest.fixture
def running(sandboxes):
    """A company as the journey leaves it: both systems connected, the integration active, and
    problems e-mailed to its owner."""
    user = UserFactory(email=EMAIL)
    EmailAddress.objects.create(user=user, email=EMAIL, verified=True, primary=True)
    tenant = tenant_create(owner=user, name="Demo Handel AB", language="en")
    connection = connect(
        tenant=tenant,
        app=SandboxApp.objects.get(client_id="sandbox-client"),
        user=SandboxUser.objects.get(email=sandboxes.fortnox_email),
    )
    verified = ongoing_connection_verify(
        system=sandboxes.system_url,
        username=sandboxes.ongoing_username,
        password=sandboxes.ongoing_password,
    )
    ongoing_connection_save(tenant=tenant, verified=verified)
    integration = integration_for_tenant(tenant=tenant)
    integration.problem_email = EMAIL
    integration.save(update_fields=["problem_email"])
    return integration_activate(integration=integration), connection


@pytest.fixture
def tasks_in_place():
    """The e-mail task runs where it is queued; the run the new consent queues is recorded, and
    the test runs it as the worker would."""
    with (
        mock.patch(
            "integrations.tasks.reactivation_email_send.delay",
            side_effect=lambda link_id: reactivation_email_send(link_id=link_id),
        ),
        mock.patch("integrations.tasks.integration_sync.delay") as sync_queued,
    ):
        yield sync_queued


def test_a_broken_token_is_mended_through_the_emailed_link(
    steps, sandboxes, running, tasks_in_place
):
    integration, connection = running
    page = steps.page

    # Someone removes the integration in Fortnox: its refresh token is refused from now on.
    SandboxRefreshToken.objects.update(revoked_at=timezone.now())
    with pytest.raises(OAuthInvalidGrant) as refused:
        oauth_token_refresh(refresh_token=connection.refresh_token)
    # The token service meets that same refusal. (It asks Fortnox inside a transaction; on SQLite
    # the live server could not answer while the test thread holds one, so it is handed over.)
    with (
        mock.patch("fortnox.services.tokens.oauth_token_refresh", side_effect=refused.value),
        pytest.raises(FortnoxNeedsReactivation),
    ):
        connection_token_refresh(connection_id=connection.pk)
    integration.refresh_from_db()
    assert integration.status == Integration.Status.NEEDS_REACTIVATION

    (message,) = mail.outbox
    assert message.to == [EMAIL]
    link = re.search(r"https?://\S+/app/reactivate/[^/\s]+/", message.body).group(0)
    assert link.startswith(sandboxes.url)

    # The e-mail as its reader sees it; its button is the link.
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    page.set_content(html)
    steps.shot("email")
    page.get_by_role("link", name="Reactivate the integration").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    # Signed out: sign in first, the address already filled in.
    expect(page.get_by_label("Email")).to_have_value(EMAIL)
    steps.shot("sign-in-prefilled")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    # Straight on to Fortnox: its sign-in, then the consent.
    page.get_by_label("E-postadress").fill(sandboxes.fortnox_email)
    page.get_by_label("Lösenord").fill(sandboxes.fortnox_password)
    steps.shot("fortnox-sign-in")
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("vill ansluta till")
    steps.shot("fortnox-consent")
    page.get_by_role("button", name="Tillåt").click()

    expect(page.get_by_text("Fortnox is connected: Demo Handel AB.")).to_be_visible()
    steps.shot("reconnected")
    integration.refresh_from_db()
    connection.refresh_from_db()
    assert integration.status == Integration.Status.ACTIVE
    assert connection.status == FortnoxConnection.Status.ACTIVE

    # The consent queued a run at once; the worker's run shows on the status page.
    tasks_in_place.assert_called_once()
    run_id = integration_sync.apply(args=tasks_in_place.call_args.args).get()
    run = SyncRun.objects.get(pk=run_id)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    page.reload()
    expect(page.get_by_text("Running fine.")).to_be_visible()
    expect(page.locator("#runs tbody tr").first).to_contain_text("Succeeded")
    steps.shot("running-again")

    # One e-mail for the incident, however it went.
    assert len(mail.outbox) == 1
