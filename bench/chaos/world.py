"""Both sandboxes answering the real clients in-process, on a simulated clock, behind a transport
the harness controls; and the company whose integration the chaos runs drive.

This is bench/harness.py's `sandboxes()` taken apart: `environment()` only installs what makes
the sandboxes answer (the `responses` callback, the clock, the throttle, the settings) and can be
entered again over a database that already holds a prepared company, which `prepare()` makes once
in the template database so that both runs copy the very same starting point."""

import io
import re
from contextlib import contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from unittest import mock

import responses
from django.conf import settings

from fortnox.client import FortnoxClient
from fortnox.sandbox import clock as sandbox_clock
from fortnox.sandbox.models import SandboxApp, SandboxCompany, SandboxUser
from fortnox.sandbox.seed import TENANT_ID, USER_EMAIL
from fortnox.sandbox.seed import sandbox_seed as fortnox_seed
from fortnox.throttle import LocalThrottle
from integrations.models import Integration
from integrations.selectors import integration_for_tenant
from integrations.services.integrations import integration_activate
from ongoing.sandbox.models import GoodsOwner
from ongoing.sandbox.seed import API_PASSWORD, API_USERNAME, GOODS_OWNER_NAME
from ongoing.sandbox.seed import sandbox_seed as ongoing_seed
from ongoing.services import ongoing_connection_save, ongoing_connection_verify
from tenants.models import User
from tenants.services import tenant_create
from tests.fortnox.conftest import SandboxRouter, connect

SANDBOX = "http://testserver/sandbox"


@contextmanager
def environment(*, clock, wrap):
    """Requests to the sandboxes answered by `wrap(router)`; the sandbox, Fortnox's throttle,
    Retry-After waits and django.utils.timezone.now() all on `clock`."""
    throttle = LocalThrottle(limit=24, window=5.0, clock=clock.now, sleep=clock.sleep)
    settings.FORTNOX_CLIENT_ID = "sandbox-client"
    settings.FORTNOX_CLIENT_SECRET = "sandbox-secret"
    settings.FORTNOX_REDIRECT_URI = "http://testserver/fortnox/callback/"
    settings.FORTNOX_AUTH_BASE_URL = f"{SANDBOX}/fortnox"
    settings.FORTNOX_API_BASE_URL = f"{SANDBOX}/fortnox"
    settings.SANDBOX_BASE_URL = SANDBOX
    router = SandboxRouter()
    transport = wrap(router)

    def fake_now():
        return datetime.fromtimestamp(clock.now(), tz=UTC)

    with (
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock_http,
        mock.patch.object(sandbox_clock, "now", clock.now),
        mock.patch("fortnox.client.default_throttle", lambda: throttle),
        mock.patch.dict(FortnoxClient.__init__.__kwdefaults__, {"sleep": clock.sleep}),
        mock.patch("django.utils.timezone.now", fake_now),
    ):
        for prefix in (f"{SANDBOX}/fortnox", f"{SANDBOX}/ongoing"):
            pattern = re.compile(re.escape(prefix) + r"/.*")
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                mock_http.add_callback(method, pattern, callback=transport)
        yield transport


def prepare() -> None:
    """Seed both sandboxes and connect one company to them, its integration active (inside
    environment())."""
    fortnox_seed(stdout=io.StringIO())
    api_user = ongoing_seed(stdout=io.StringIO())
    owner = User.objects.create_user(email="chaos@example.com", password="x")
    tenant = tenant_create(owner=owner, name="Kaos AB", organisation_number="556000-0009")
    connect(
        tenant=tenant,
        app=SandboxApp.objects.get(client_id="sandbox-client"),
        user=SandboxUser.objects.get(email=USER_EMAIL),
    )
    verified = ongoing_connection_verify(
        system=api_user.warehouse.system_url, username=API_USERNAME, password=API_PASSWORD
    )
    ongoing_connection_save(tenant=tenant, verified=verified)
    integration_activate(integration=integration_for_tenant(tenant=tenant))


def world() -> SimpleNamespace:
    """The prepared company, its warehouse goods owner and its integration."""
    return SimpleNamespace(
        company=SandboxCompany.objects.get(tenant_id=TENANT_ID),
        goods_owner=GoodsOwner.objects.get(name=GOODS_OWNER_NAME),
        integration=Integration.objects.select_related("tenant").get(),
    )
