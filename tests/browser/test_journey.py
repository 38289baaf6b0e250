"""The customer's journey in a real browser: from the landing page through sign-up, the warehouse
step, Fortnox consent in the sandbox, the fine-tuning page and Activate, to a first run with
counts; the denied consent; the Swedish UI."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from integrations.models import Integration, SyncRun
from integrations.tasks import integration_sync
from tests.browser.support import browser_marks

pytestmark = browser_marks

EMAIL = "lisa@demohandel.se"
PASSWORD = "a-long-and-unguessable-passphrase"
COMPANY = "Demo Handel AB"


def sign_up(steps, *, email: str = EMAIL) -> None:
    """Landing page → Activate → sign-up → the e-mailed confirmation link → the company."""
    page = steps.page
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("in step")
    steps.shot("landing")

    page.get_by_role("link", name="Activate").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again):").fill(PASSWORD)
    steps.shot("sign-up")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Verify")
    steps.shot("verify-email")

    (message,) = [m for m in mail.outbox if email in m.to]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.body).group(0)
    page.goto(link)
    steps.shot("confirm-email")
    page.get_by_role("button", name="Confirm").click()

    # Signed in, with no company yet: the app asks for it.
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a company")
    page.get_by_label("Company name").fill(COMPANY)
    page.get_by_label("Organisation number").fill("556677-8899")
    steps.shot("add-company")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text(f"{COMPANY} has been created.")).to_be_visible()
    steps.shot("status-new")


def connect_warehouse(steps, sandboxes) -> None:
    page = steps.page
    page.get_by_role("navigation").get_by_role("link", name="Warehouse").click()
    page.get_by_label("System").fill(sandboxes.system_url)
    page.get_by_label("Username").fill(sandboxes.ongoing_username)
    page.get_by_label("Password").fill(sandboxes.ongoing_password)
    steps.shot("warehouse-form")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Connected to")).to_be_visible()
    steps.shot("warehouse-connected")


def start_fortnox_consent(steps, sandboxes) -> None:
    """Fortnox page → Connect Fortnox → the sandbox's sign-in → its consent page."""
    page = steps.page
    page.get_by_role("navigation").get_by_role("link", name="Fortnox").click()
    steps.shot("fortnox-page")
    page.get_by_role("button", name="Connect Fortnox").click()
    page.get_by_label("E-postadress").fill(sandboxes.fortnox_email)
    page.get_by_label("Lösenord").fill(sandboxes.fortnox_password)
    steps.shot("fortnox-sign-in")
    page.get_by_role("button", name="Logga in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("vill ansluta till")
    steps.shot("fortnox-consent")


def test_the_whole_journey_to_a_first_run_with_counts(steps, sandboxes):
    page = steps.page
    sign_up(steps)
    connect_warehouse(steps, sandboxes)

    start_fortnox_consent(steps, sandboxes)
    page.get_by_role("button", name="Tillåt").click()
    expect(page.get_by_text(f"Fortnox is connected: {COMPANY}.")).to_be_visible()
    expect(page.get_by_text(f"Connected to {COMPANY}.")).to_be_visible()
    steps.shot("fortnox-connected")

    # Fine-tuning: this first run only brings Fortnox's orders to the warehouse.
    page.get_by_role("navigation").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings")
    page.get_by_label("E-mail address for problems").fill("lager@demohandel.se")
    page.get_by_label("Fulfilled orders to Fortnox").uncheck()
    steps.shot("settings")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved. They apply from the next run.")).to_be_visible()
    steps.shot("settings-saved")

    page.get_by_role("navigation").get_by_role("link", name="Status").click()
    expect(page.get_by_text("Not activated yet.")).to_be_visible()
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("The integration is active.")).to_be_visible()
    steps.shot("activated")

    # The first run, as the beat would start it once the integration is due.
    integration = Integration.objects.get(tenant__name=COMPANY)
    assert integration.status == Integration.Status.ACTIVE
    run_id = integration_sync.apply(kwargs={"integration_id": integration.pk}).get()
    run = SyncRun.objects.get(pk=run_id)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.counts["sales_orders"]["created"] == len(sandboxes.orders)

    page.reload()
    expect(page.get_by_text("Running fine.")).to_be_visible()
    row = page.locator("#runs tbody tr").first
    expect(row).to_contain_text("Succeeded")
    created = row.locator("td.num").first
    expect(created).to_have_text(str(run.totals["created"]))
    assert run.totals["created"] >= len(sandboxes.orders) + len(sandboxes.articles)
    steps.shot("first-run")

    row.get_by_role("link", name=str(run.pk)).click()
    expect(page.get_by_text("Sales orders")).to_be_visible()
    steps.shot("first-run-detail")


def test_denied_consent_explains_every_permission_and_offers_to_try_again(steps, sandboxes):
    page = steps.page
    sign_up(steps, email="neka@demohandel.se")
    start_fortnox_consent(steps, sandboxes)

    page.get_by_role("button", name="Neka").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("The permissions were not accepted")
    expect(page.get_by_text("The integration needs every permission")).to_be_visible()
    steps.shot("denied")

    page.get_by_role("button", name="Try again").click()
    # Still signed in to the sandbox: straight to its consent page, this time allowed.
    expect(page.get_by_role("heading", level=1)).to_contain_text("vill ansluta till")
    steps.shot("consent-again")
    page.get_by_role("button", name="Tillåt").click()
    expect(page.get_by_text(f"Fortnox is connected: {COMPANY}.")).to_be_visible()
    steps.shot("connected")


@pytest.mark.django_db(transaction=True)
def test_the_header_switches_the_interface_to_swedish(steps):
    page = steps.page
    page.goto("/")
    expect(page.get_by_role("heading", name="What you need")).to_be_visible()
    steps.shot("english")

    page.get_by_role("banner").get_by_role("button", name="SV").click()
    expect(page.get_by_role("heading", name="Det här behöver du")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    steps.shot("swedish")
