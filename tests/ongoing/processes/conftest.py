"""Both sandboxes, answering the real clients in-process: every request to
http://testserver/sandbox/… is caught by `responses` and handed to the sandbox's Django views,
inside the test's transaction. The Fortnox sandbox and the client's throttle run on a simulated
clock that starts an hour ago, so the seeded company is an hour old when the first run starts (as
a real one would be); `catch_up()` brings it to the real time, for edits the next run must see."""

import io
import re
import time
from types import SimpleNamespace

import pytest
import responses

from fortnox.sandbox.models import SandboxApp, SandboxCompany, SandboxUser
from fortnox.sandbox.seed import USER_EMAIL
from fortnox.sandbox.seed import sandbox_seed as fortnox_seed
from integrations.selectors import integration_for_tenant
from integrations.services.integrations import integration_activate
from ongoing.sandbox.models import GoodsOwner
from ongoing.sandbox.seed import API_PASSWORD, API_USERNAME
from ongoing.sandbox.seed import sandbox_seed as ongoing_seed
from ongoing.services import ongoing_connection_save, ongoing_connection_verify
from tests.fortnox.conftest import SANDBOX as FORTNOX_SANDBOX
from tests.fortnox.conftest import (  # noqa: F401 - fortnox_settings and throttle are fixtures
    FakeClock,
    SandboxRouter,
    connect,
    fortnox_settings,
    throttle,
)

SANDBOX_BASE_URL = "http://testserver/sandbox"
ONGOING_SANDBOX = f"{SANDBOX_BASE_URL}/ongoing"


@pytest.fixture
def fake_clock(monkeypatch):
    from fortnox.sandbox import clock as sandbox_clock

    clock = FakeClock(start=time.time() - 3600)
    monkeypatch.setattr(sandbox_clock, "now", clock.now)
    return clock


@pytest.fixture
def router():
    router = SandboxRouter()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for prefix in (FORTNOX_SANDBOX, ONGOING_SANDBOX):
            pattern = re.compile(re.escape(prefix) + r"/.*")
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                mock.add_callback(method, pattern, callback=router)
        yield router


@pytest.fixture
def world(db, member, fortnox_settings, fake_clock, throttle, router, settings, tmp_path):  # noqa: F811
    """The member's company with both sandboxes seeded and connected, and its integration active."""
    settings.SANDBOX_BASE_URL = SANDBOX_BASE_URL
    settings.ONGOING_LOCK_DIR = tmp_path
    company = fortnox_seed(stdout=io.StringIO())
    api_user = ongoing_seed(stdout=io.StringIO())
    connect(
        tenant=member.tenant,
        app=SandboxApp.objects.get(client_id="sandbox-client"),
        user=SandboxUser.objects.get(email=USER_EMAIL),
    )
    verified = ongoing_connection_verify(
        system=api_user.warehouse.system_url, username=API_USERNAME, password=API_PASSWORD
    )
    ongoing_connection_save(tenant=member.tenant, verified=verified)
    integration = integration_activate(integration=integration_for_tenant(tenant=member.tenant))
    return SimpleNamespace(
        tenant=member.tenant,
        integration=integration,
        company=SandboxCompany.objects.get(pk=company.pk),
        goods_owner=GoodsOwner.objects.get(pk=api_user.goods_owner_id),
        router=router,
        clock=fake_clock,
        catch_up=lambda: fake_clock.sleep(max(0.0, time.time() - fake_clock.now())),
    )
