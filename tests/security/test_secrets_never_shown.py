"""No secret is ever shown: a full scenario — both sandboxes, the warehouse connected through its
form, Fortnox consent through the browser, an API key made on its page, runs with failures, a
token refresh, a dead refresh token, the e-mailed reactivation and the new consent, and two
server errors in the middle of handling secrets — with every log record of every logger captured
at DEBUG. Then every page a customer, a Support user in the admin (each registered model's list
and change pages) and the API can show is fetched, along with the DEBUG=False error pages and
every e-mail sent (the server-error e-mails to ADMINS too). Every secret in play is searched for
in all of it: each access and refresh token issued, the OAuth client secret, the WMS password
(and its Basic header), the Fortnox user's password, the API key, SECRET_KEY, the encryption
salts and the Fernet keys derived from them, and the bearer link (the reactivation link)
outside the e-mail that delivers it."""

import base64
import json
import logging
import re
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from config.admin import SUPPORT_GROUP, support_group_sync
from config.celery import app
from fortnox import oauth
from fortnox.models import FortnoxConnection
from fortnox.sandbox.models import SandboxRefreshToken
from fortnox.sandbox.seed import USER_EMAIL, USER_PASSWORD
from integrations.management.commands.secrets_reencrypt import encrypted_fields_by_model
from integrations.models import Integration, SyncRun
from ongoing.sandbox.seed import API_PASSWORD, API_USERNAME
from realtime.models import WebhookEndpoint
from tenants.models import Membership
from tests.factories import UserFactory
from tests.fortnox.conftest import fortnox_settings, throttle  # noqa: F401 - fixtures
from tests.ongoing.processes.conftest import fake_clock, router, world  # noqa: F401 - fixtures
from tests.ongoing.processes.support import run
from tests.ongoing.processes.test_hostile_answers import (  # noqa: F401 - a fixture
    FORTNOX,
    ONGOING_API,
    hostile,
)

pytestmark = pytest.mark.django_db


class Capture(logging.Handler):
    """Every record, formatted with its traceback, and everything it carries."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        self.records = 0
        self.chunks: list[str] = []

    def emit(self, record):
        self.records += 1
        self.chunks.append(self.format(record) + "\n" + repr(record.__dict__))


@contextmanager
def every_logger_at_debug():
    capture = Capture()
    loggers = [logging.getLogger()] + [
        logger for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]  # fmt: skip
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if logger is logging.getLogger() or not logger.propagate:
            logger.addHandler(capture)
    try:
        yield capture
    finally:
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled
            logger.removeHandler(capture)


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


class Scenario:
    def __init__(self, client: Client):
        self.client = client
        self.tokens: set[str] = set()
        self.links: set[str] = set()
        self.api_key = ""
        self.webhook_secret = ""
        self.pages: dict[str, bytes] = {}

    def note_tokens(self) -> None:
        for connection in FortnoxConnection.objects.all():
            self.tokens |= {connection.access_token or "", connection.refresh_token or ""}
        self.tokens.discard("")

    def fortnox_consent(self) -> str:
        """Our Connect button, the emulated Fortnox's sign-in and consent; returns the callback."""
        authorize = self.client.post("/fortnox/connect/")["Location"]
        self.client.post(
            "/sandbox/fortnox/login/",
            {"email": USER_EMAIL, "password": USER_PASSWORD, "next": local(authorize)},
        )
        answer = self.client.post(local(authorize), {"decision": "allow"})
        return local(answer["Location"])


def secrets_in_play(scenario: Scenario) -> dict[str, str]:
    found = {
        "OAuth client secret": settings.FORTNOX_CLIENT_SECRET,
        "WMS password": API_PASSWORD,
        "WMS Basic header": base64.b64encode(f"{API_USERNAME}:{API_PASSWORD}".encode()).decode(),
        "Fortnox user's password": USER_PASSWORD,
        "API key": scenario.api_key,
        "SECRET_KEY": settings.SECRET_KEY,
    }
    for number, salt in enumerate(settings.SALT_KEY):
        found[f"encryption salt {number}"] = salt
    for model, names in encrypted_fields_by_model():
        for name in names:
            for number, key in enumerate(model._meta.get_field(name).keys):
                found[f"Fernet key {number} ({model.__name__}.{name})"] = key.decode()
    for number, token in enumerate(sorted(scenario.tokens)):
        found[f"Fortnox token {number}"] = token
    for value in found.values():
        assert len(value) >= 8, "too short to search for without false alarms"
    return found


def bearer_links(scenario: Scenario) -> dict[str, str]:
    """Single-use links, searched everywhere but the e-mail that delivers them. (OAuth codes are
    not: they are single-use, exchanged within the second, and every proxy's access log has the
    callback URL they come in.)"""
    return {f"reactivation link {n}": link for n, link in enumerate(sorted(scenario.links))}


def admin_pages(client: Client, integration: Integration) -> dict[str, bytes]:
    """Every registered model's list, and the change and history pages of its first objects, as
    Support sees them; and the dashboard and a timeline."""
    pages = {"admin index": client.get("/admin/").content}
    pages["admin timeline"] = client.get(
        reverse("admin:integrations_timeline", args=[integration.pk])
    ).content
    for model in admin.site._registry:
        label = f"{model._meta.app_label}_{model._meta.model_name}"
        pages[f"admin {label} list"] = client.get(reverse(f"admin:{label}_changelist")).content
        for obj in model._default_manager.all()[:3]:
            for view in ("change", "history"):
                try:
                    url = reverse(f"admin:{label}_{view}", args=[obj.pk])
                except NoReverseMatch:
                    continue
                pages[f"admin {label} {view} {obj.pk}"] = client.get(url).content
    return pages


def api_pages(key: str) -> dict[str, bytes]:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    pages = {}
    for path in ("integration/", "settings/", "runs/", "failures/", "links/", "schema/"):
        pages[f"api {path}"] = client.get(f"/api/v1/{path}").content
    for run_id in SyncRun.objects.values_list("pk", flat=True):
        pages[f"api runs/{run_id}/"] = client.get(f"/api/v1/runs/{run_id}/").content
    return pages


def viewer_pages(tenant) -> dict[str, bytes]:
    viewer = UserFactory()
    Membership.objects.create(tenant=tenant, user=viewer, role=Membership.Role.VIEWER)
    client = Client()
    client.force_login(viewer)
    return {f"viewer page {path}": client.get(path).content for path in ("/app/", "/app/settings/")}


def customer_pages(client: Client) -> dict[str, bytes]:
    paths = ["/app/", "/app/settings/", "/fortnox/", "/ongoing/", "/companies/team/"]
    paths += ["/app/api-keys/"] + [
        f"/app/runs/{run_id}/" for run_id in SyncRun.objects.values_list("pk", flat=True)
    ]
    return {f"page {path}": client.get(path).content for path in paths}


def test_no_secret_is_ever_shown(
    world,  # noqa: F811 - the fixture imported above
    hostile,  # noqa: F811 - the fixture imported above
    settings,
    monkeypatch,
    capsys,
    django_capture_on_commit_callbacks,
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # The Celery app may have read its configuration already (another test in this process sent
    # a task): the setting alone would not reach it.
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    settings.ADMINS = [("Support", "support@example.com")]
    settings.DEBUG = False
    scenario = Scenario(Client(raise_request_exception=False))
    issued = []
    real_token_set = oauth._token_set
    monkeypatch.setattr(
        oauth, "_token_set", lambda body: issued.append(real_token_set(body)) or issued[-1]
    )
    scenario.note_tokens()
    client = scenario.client
    member = world.tenant.memberships.get()
    client.force_login(member.user)
    sandbox_system = world.goods_owner.warehouse.system_url
    errors = {}

    with every_logger_at_debug() as logs:
        # The warehouse through its form; first a server error in the middle of it.
        form = {"system": sandbox_system, "username": API_USERNAME, "password": API_PASSWORD}
        with monkeypatch.context() as patch:
            patch.setattr(
                "ongoing.forms.ongoing_connection_save",
                lambda **kwargs: (_ for _ in ()).throw(RuntimeError("the database went away")),
            )
            errors["500 during the warehouse form"] = client.post("/ongoing/", form)
        assert client.post("/ongoing/", form).status_code == 302

        # Fortnox through the browser; first a server error right after the code exchange.
        with monkeypatch.context() as patch:
            patch.setattr(
                "fortnox.views.connection_connect",
                lambda **kwargs: (_ for _ in ()).throw(RuntimeError("the database went away")),
            )
            errors["500 during the consent"] = client.get(scenario.fortnox_consent())
        assert client.get(scenario.fortnox_consent()).status_code == 302
        scenario.note_tokens()

        # An API key, made on its page.
        made = client.post("/app/api-keys/", {"name": "BI"})
        scenario.api_key = made.context["created_key"]

        # The webhook address and secret, shown to the manager on the settings page, and a
        # webhook from Ongoing carrying the secret.
        assert client.get("/app/settings/").status_code == 200
        endpoint = WebhookEndpoint.objects.get()
        scenario.webhook_secret = endpoint.secret
        delivered = Client().post(
            f"/hooks/ongoing/{endpoint.token}/",
            data=json.dumps(
                {"webhookEventId": "e-1", "orderId": 1, "goodsOwnerId": world.goods_owner.pk}
            ),
            content_type="application/json",
            headers={"X-Auth-Token": endpoint.secret},
        )
        assert delivered.status_code == 200

        # Runs: one with failures on both sides, one that repairs them.
        article = sorted(r.key for r in world.company.records.filter(kind="article"))[0]
        hostile.answer("GET", rf"{FORTNOX}3/articles/{re.escape(article)}$", "html_500_error_page")
        hostile.answer("PUT", rf"{ONGOING_API}orders$", "error_400_with_control_characters")
        assert run(world).status == SyncRun.Status.PARTIAL
        hostile.clear()
        assert run(world).status == SyncRun.Status.SUCCEEDED

        # An expired access token: refreshed during the run.
        FortnoxConnection.objects.update(access_expires_at=timezone.now() - timedelta(minutes=1))
        world.catch_up()
        run(world)
        scenario.note_tokens()

        # The refresh token dies: the run stops, the reactivation e-mail goes out, the link
        # leads to a new consent and the integration runs again.
        SandboxRefreshToken.objects.update(revoked_at=timezone.now())
        FortnoxConnection.objects.update(access_expires_at=timezone.now() - timedelta(minutes=1))
        with django_capture_on_commit_callbacks(execute=True):
            run(world)
        assert Integration.objects.get(pk=world.integration.pk).status == "needs_reactivation"
        (email,) = [m for m in mail.outbox if "/app/reactivate/" in m.body]
        link = re.search(r"/app/reactivate/[^/\s]+/", email.body).group(0)
        scenario.links.add(link.rstrip("/").rsplit("/", 1)[-1])
        assert client.get(link).status_code == 200
        assert client.get(scenario.fortnox_consent()).status_code == 302
        assert Integration.objects.get(pk=world.integration.pk).status == "active"
        scenario.note_tokens()

        errors["404"] = client.get("/finns-inte/")
        errors["404 anonymous"] = Client().get("/app/runs/999999/")

    scenario.tokens |= {
        token for pair in issued for token in (pair.access_token, pair.refresh_token)
    }
    scenario.tokens.discard("")
    assert errors["500 during the warehouse form"].status_code == 500
    assert errors["500 during the consent"].status_code == 500
    assert errors["404"].status_code == 404

    support = UserFactory(is_staff=True)
    support_group_sync()
    support.groups.add(Group.objects.get(name=SUPPORT_GROUP))
    support_client = Client()
    support_client.force_login(support)
    pages = {name: response.content for name, response in errors.items()}
    pages |= admin_pages(support_client, world.integration)
    pages |= api_pages(scenario.api_key)
    pages |= customer_pages(client)
    pages |= viewer_pages(world.tenant)
    emails = {
        f"e-mail {n}: {message.subject}": (
            message.body + "".join(str(content) for content, _type in message.alternatives)
            + "".join(str(attachment) for attachment in message.attachments)
        ).encode()
        for n, message in enumerate(mail.outbox)
    }  # fmt: skip
    logged = "\n".join(logs.chunks)

    credentials = secrets_in_play(scenario)
    links = bearer_links(scenario)
    everywhere = {"the logs": logged.encode(), **pages, **emails}
    # The e-mails deliver the links: those are searched everywhere else.
    elsewhere = {"the logs": logged.encode(), **pages}
    # The manager's settings page shows the webhook secret to paste into Ongoing: searched
    # everywhere else (a viewer's settings page included).
    shown = {"webhook secret": scenario.webhook_secret}
    not_on_the_managers_settings = {
        where: content for where, content in everywhere.items() if where != "page /app/settings/"
    }
    assert scenario.webhook_secret.encode() in pages["page /app/settings/"]
    found = [
        f"{name} in {where}"
        for secrets, channels in (
            (credentials, everywhere),
            (links, elsewhere),
            (shown, not_on_the_managers_settings),
        )
        for name, value in secrets.items()
        for where, content in channels.items()
        if value.encode() in content
    ]

    page_bytes = sum(len(content) for content in pages.values())
    mail_bytes = sum(len(content) for content in emails.values())
    admin_count = sum(1 for name in pages if name.startswith("admin"))
    with capsys.disabled():
        print(
            f"\nsecrets searched: {len(credentials)} credentials, {len(links)} bearer links, "
            f"{len(shown)} shown once to managers "
            f"({len(scenario.tokens)} Fortnox tokens)\n"
            f"log records: {logs.records} ({len(logged.encode())} bytes)\n"
            f"pages: {len(pages)} ({page_bytes} bytes): {admin_count} admin, "
            f"{sum(1 for n in pages if n.startswith('api'))} API, "
            f"{sum(1 for n in pages if n.startswith('page'))} customer, "
            f"{sum(1 for n in pages if n.startswith('viewer'))} viewer, {len(errors)} error pages\n"
            f"e-mails: {len(emails)} ({mail_bytes} bytes)\n"
            f"secrets found: {len(found)}"
        )
    assert not found, "\n".join(found)
    assert logs.records > 200
    assert len(scenario.tokens) >= 6
    assert admin_count > 60
    assert any("reactivate" in name.lower() or "Fortnox" in name for name in emails)
