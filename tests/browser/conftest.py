"""Browser tests: Playwright's sync API drives Debian's chromium (never a downloaded browser)
against pytest-django's live server, with both sandboxes served by that same server.

The browser is found at $CHROMIUM_EXECUTABLE (default /usr/bin/chromium; `.ci/run` installs
Debian's chromium and chromium-driver when it is missing). Each step's screenshot is saved as
artifacts/browser/<test>/<NN>-<step>.png."""

import io
import os
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
TIMEOUT_MS = int(os.environ.get("BROWSER_TIMEOUT_MS", "15000"))


@pytest.fixture
def browser(monkeypatch):
    """One chromium per test. Playwright's sync API runs an event loop in this thread, so Django
    would refuse the test's own ORM calls as "async unsafe" without the flag; it is set only for
    the test's duration."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Steps:
    """The test's page, and a numbered screenshot of each step."""

    def __init__(self, page, folder: Path):
        self.page = page
        self.folder = folder
        self.number = 0

    def shot(self, name: str) -> None:
        self.number += 1
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        self.page.screenshot(path=self.folder / f"{self.number:02d}-{slug}.png", full_page=True)


@pytest.fixture
def steps(browser, live_server, request):
    folder = ARTIFACTS / request.node.name.removeprefix("test_")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield Steps(page, folder)
    finally:
        context.close()


def _open(order: dict) -> bool:
    """Confirmed, not cancelled, not invoiced: an order the warehouse should get."""
    confirmed = bool(order.get("Sent"))
    return confirmed and not order.get("Cancelled") and not order.get("InvoiceReference")


@pytest.fixture
def sandboxes(live_server, settings, tmp_path):
    """Both sandboxes on the live server, seeded; our Fortnox app registered there with the live
    server's callback. The Fortnox company is cut down to six open, confirmed orders and the
    articles they need, so that a first run takes seconds (as in the processes' small_world)."""
    from fortnox.sandbox.models import SandboxRecord
    from fortnox.sandbox.seed import USER_EMAIL, USER_PASSWORD
    from fortnox.sandbox.seed import sandbox_seed as fortnox_seed
    from ongoing.sandbox.seed import API_PASSWORD, API_USERNAME
    from ongoing.sandbox.seed import sandbox_seed as ongoing_seed

    url = live_server.url
    settings.SITE_URL = url
    settings.SANDBOX_BASE_URL = f"{url}/sandbox"
    settings.FORTNOX_CLIENT_ID = "sandbox-client"
    settings.FORTNOX_CLIENT_SECRET = "sandbox-secret"
    settings.FORTNOX_AUTH_BASE_URL = f"{url}/sandbox/fortnox"
    settings.FORTNOX_API_BASE_URL = f"{url}/sandbox/fortnox"
    settings.FORTNOX_REDIRECT_URI = f"{url}/fortnox/callback/"
    # The goods-owner lock is Redis's when REDIS_URL is set (as in CI), else a file lock here.
    settings.ONGOING_LOCK_DIR = tmp_path

    company = fortnox_seed(stdout=io.StringIO())
    api_user = ongoing_seed(stdout=io.StringIO())

    Kind = SandboxRecord.Kind
    records = SandboxRecord.objects.filter(company=company)
    orders = {record.key: record.data for record in records.filter(kind=Kind.ORDER)}
    keep = sorted((number for number, order in orders.items() if _open(order)), key=int)[:6]
    articles = {row["ArticleNumber"] for number in keep for row in orders[number]["OrderRows"]}
    records.filter(kind=Kind.ORDER).exclude(key__in=keep).delete()
    records.filter(kind=Kind.ARTICLE).exclude(key__in=articles).delete()

    return SimpleNamespace(
        url=url,
        fortnox_company=company,
        fortnox_email=USER_EMAIL,
        fortnox_password=USER_PASSWORD,
        orders=keep,
        articles=articles,
        system_url=api_user.warehouse.system_url,
        ongoing_username=API_USERNAME,
        ongoing_password=API_PASSWORD,
    )
