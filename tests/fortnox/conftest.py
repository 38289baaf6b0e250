"""Fixtures for the Fortnox tests.

`sandbox` runs the real client against the real sandbox views: every request our code sends to
http://testserver/sandbox/fortnox/… is caught by `responses` and handed to Django's test client,
so the emulator answers in-process, inside the test's transaction, with no server or port.
Time is simulated: the sandbox's clock and the client's throttle share one FakeClock whose
sleep() only moves it forward."""

import io
import re
import threading
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import responses
from django.test import Client

from fortnox.oauth import oauth_code_exchange
from fortnox.sandbox import auth as sandbox_auth
from fortnox.sandbox import clock as sandbox_clock
from fortnox.sandbox.models import SandboxApp, SandboxCompany, SandboxUser
from fortnox.sandbox.seed import USER_EMAIL, USER_PASSWORD, sandbox_seed
from fortnox.services.connections import connection_connect, fortnox_company_identify
from fortnox.throttle import LocalThrottle

SANDBOX = "http://testserver/sandbox/fortnox"
REDIRECT_URI = "http://testserver/fortnox/callback/"


class FakeClock:
    def __init__(self, start: float = 1_790_000_000.0):
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._now += max(seconds, 0)


class SandboxRouter:
    """A `responses` callback that answers through the sandbox's Django views."""

    def __init__(self):
        self.calls: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()

    def __call__(self, request):
        parts = urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        extra = {}
        if request.headers.get("Authorization"):
            extra["HTTP_AUTHORIZATION"] = request.headers["Authorization"]
        response = Client().generic(
            request.method,
            f"{parts.path}?{parts.query}" if parts.query else parts.path,
            data=body,
            content_type=request.headers.get("Content-Type", "application/octet-stream"),
            **extra,
        )
        with self._lock:
            self.calls.append((request.method, parts.path, response.status_code))
        headers = {
            name: value
            for name, value in response.items()
            if name in ("Retry-After", "Location", "Content-Type")
        }
        return response.status_code, headers, response.content

    def count(self, path_end: str, *, method: str | None = None) -> int:
        return sum(
            1
            for call_method, path, _status in self.calls
            if path.endswith(path_end) and method in (None, call_method)
        )


@pytest.fixture
def fake_clock(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(sandbox_clock, "now", clock.now)
    return clock


@pytest.fixture
def fortnox_settings(settings):
    settings.FORTNOX_CLIENT_ID = "sandbox-client"
    settings.FORTNOX_CLIENT_SECRET = "sandbox-secret"
    settings.FORTNOX_REDIRECT_URI = REDIRECT_URI
    settings.FORTNOX_AUTH_BASE_URL = SANDBOX
    settings.FORTNOX_API_BASE_URL = SANDBOX
    return settings


@pytest.fixture
def throttle(fake_clock, monkeypatch):
    """The client's default throttle for the test: 24 per 5 s in simulated time, never shared
    with other tests (nor with Redis)."""
    throttle = LocalThrottle(limit=24, window=5.0, clock=fake_clock.now, sleep=fake_clock.sleep)
    monkeypatch.setattr("fortnox.client.default_throttle", lambda: throttle)
    return throttle


@pytest.fixture
def router():
    router = SandboxRouter()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in ("GET", "POST", "PUT", "DELETE"):
            mock.add_callback(method, re.compile(re.escape(SANDBOX) + r"/.*"), callback=router)
        yield router


@pytest.fixture
def sandbox(db, fortnox_settings, fake_clock, throttle, router):
    """The seeded demo company "Demo Handel AB", reachable by the real client."""
    company = sandbox_seed(stdout=io.StringIO())
    return SimpleNamespace(
        company=company,
        user=SandboxUser.objects.get(email=USER_EMAIL),
        app=SandboxApp.objects.get(client_id="sandbox-client"),
        email=USER_EMAIL,
        password=USER_PASSWORD,
        router=router,
        clock=fake_clock,
        throttle=throttle,
    )


def consent_tokens(*, app: SandboxApp, user: SandboxUser, scopes=None):
    """A token pair as a finished consent gives it: a code from the sandbox, exchanged by us."""
    code = sandbox_auth.authorization_code_issue(
        app=app, user=user, scopes=scopes or list(app.scopes), redirect_uri=app.redirect_uri
    )
    return oauth_code_exchange(code=code)


def connect(*, tenant, app: SandboxApp, user: SandboxUser):
    tokens = consent_tokens(app=app, user=user)
    return connection_connect(
        tenant=tenant, tokens=tokens, company=fortnox_company_identify(tokens=tokens)
    )


@pytest.fixture
def connection(sandbox, member):
    """The member's company connected to the sandbox's demo company through a real consent."""
    return connect(tenant=member.tenant, app=sandbox.app, user=sandbox.user)


def second_company(*, tenant_id: int = 2_000_001) -> SandboxUser:
    """Another Fortnox company in the sandbox, with one user."""
    company = SandboxCompany.objects.create(
        tenant_id=tenant_id,
        database_number=tenant_id % 1_000_000,
        name="Andra Bolaget AB",
        organisation_number="559900-1122",
    )
    return SandboxUser.objects.create(
        company=company,
        user_id=tenant_id,
        email=f"user{tenant_id}@andra.se",
        name="Andra",
        password="!",
    )
