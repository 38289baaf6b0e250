"""What the benchmarks share: Django on a throwaway database (SQLite by default, PostgreSQL when
DATABASE_URL says so), and both sandboxes answering the real clients in-process on a simulated
clock, so Fortnox's 25-per-5-seconds limit costs simulated time, not real time."""

import io
import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

SANDBOX = "http://testserver/sandbox"


@contextmanager
def throwaway_database(*, shared: bool = False):
    """A fresh, migrated database for one benchmark, dropped afterwards. On PostgreSQL it is
    named after DATABASE_URL's database with `_bench` appended; on SQLite it is in memory unless
    other processes must reach it (`shared`), then a file under var/."""
    setup_test_environment()
    test_settings = connection.settings_dict["TEST"]
    if connection.vendor == "postgresql":
        test_settings["NAME"] = f"{connection.settings_dict['NAME']}_bench"
    elif shared:
        settings.VAR_DIR.mkdir(exist_ok=True)
        test_settings["NAME"] = str(settings.VAR_DIR / f"bench-{os.getpid()}.sqlite3")
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield name
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


def database_url() -> str:
    """DATABASE_URL of the current (throwaway) database, for the processes a benchmark starts."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


class Clock:
    """Simulated time for the sandbox, the throttle and the engine: sleeping only moves it."""

    def __init__(self, start: float):
        self.now_value = start
        self.slept = 0.0

    def now(self) -> float:
        return self.now_value

    def sleep(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        self.slept += seconds
        self.now_value += seconds


@contextmanager
def sandboxes(*, start: float | None = None, latency: dict[str, float] | None = None):
    """Both sandboxes seeded and one company connected to them; yields a namespace with the
    integration, the sandbox objects, the clock and the request log. `latency` ({"fortnox": s,
    "ongoing": s}) is the simulated time one request of that API takes on the network, half
    before the sandbox sees it and half after it answered (0: an in-process answer is instant)."""
    from datetime import UTC, datetime
    from unittest import mock

    import responses

    from fortnox.sandbox import clock as sandbox_clock
    from fortnox.sandbox.models import SandboxApp, SandboxCompany, SandboxUser
    from fortnox.sandbox.seed import USER_EMAIL
    from fortnox.sandbox.seed import sandbox_seed as fortnox_seed
    from fortnox.throttle import LocalThrottle
    from integrations.selectors import integration_for_tenant
    from integrations.services.integrations import integration_activate
    from ongoing.sandbox.models import GoodsOwner
    from ongoing.sandbox.seed import API_PASSWORD, API_USERNAME
    from ongoing.sandbox.seed import sandbox_seed as ongoing_seed
    from ongoing.services import ongoing_connection_save, ongoing_connection_verify
    from tenants.models import User
    from tenants.services import tenant_create
    from tests.fortnox.conftest import SandboxRouter, connect

    clock = Clock(start or time.time())
    throttle = LocalThrottle(limit=24, window=5.0, clock=clock.now, sleep=clock.sleep)
    settings.FORTNOX_CLIENT_ID = "sandbox-client"
    settings.FORTNOX_CLIENT_SECRET = "sandbox-secret"
    settings.FORTNOX_REDIRECT_URI = "http://testserver/fortnox/callback/"
    settings.FORTNOX_AUTH_BASE_URL = f"{SANDBOX}/fortnox"
    settings.FORTNOX_API_BASE_URL = f"{SANDBOX}/fortnox"
    settings.SANDBOX_BASE_URL = SANDBOX
    router = SandboxRouter()

    def fake_now():
        return datetime.fromtimestamp(clock.now(), tz=UTC)

    with (
        responses.RequestsMock(assert_all_requests_are_fired=False) as mock_http,
        mock.patch.object(sandbox_clock, "now", clock.now),
        mock.patch("fortnox.client.default_throttle", lambda: throttle),
        mock.patch("django.utils.timezone.now", fake_now),
    ):
        for api in ("fortnox", "ongoing"):
            pattern = re.compile(re.escape(f"{SANDBOX}/{api}") + r"/.*")
            callback = _delayed(router, clock, (latency or {}).get(api, 0.0))
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                mock_http.add_callback(method, pattern, callback=callback)
        company = fortnox_seed(stdout=io.StringIO())
        api_user = ongoing_seed(stdout=io.StringIO())
        owner = User.objects.create_user(email="bench@example.com", password="x")
        tenant = tenant_create(owner=owner, name="Bench AB", organisation_number="556000-0000")
        connect(
            tenant=tenant,
            app=SandboxApp.objects.get(client_id="sandbox-client"),
            user=SandboxUser.objects.get(email=USER_EMAIL),
        )
        verified = ongoing_connection_verify(
            system=api_user.warehouse.system_url, username=API_USERNAME, password=API_PASSWORD
        )
        ongoing_connection_save(tenant=tenant, verified=verified)
        integration = integration_activate(integration=integration_for_tenant(tenant=tenant))
        yield SimpleNamespace(
            integration=integration,
            company=SandboxCompany.objects.get(pk=company.pk),
            goods_owner=GoodsOwner.objects.get(pk=api_user.goods_owner_id),
            clock=clock,
            router=router,
        )


def _delayed(router, clock: Clock, seconds: float):
    if not seconds:
        return router

    def answer(request):
        clock.sleep(seconds / 2)
        response = router(request)
        clock.sleep(seconds / 2)
        return response

    return answer


def open_orders_add(world, *, count: int) -> None:
    """`count` more open, confirmed orders in the Fortnox sandbox, like the seed's: enough for
    the benchmarks that edit a hundred orders already in the warehouse."""
    from fortnox.sandbox import store
    from fortnox.sandbox.models import SandboxRecord

    template = next(
        record.data
        for record in SandboxRecord.objects.filter(
            company=world.company, kind=SandboxRecord.Kind.ORDER
        )
        if record.data.get("Sent") and not record.data.get("InvoiceReference")
    )
    for _ in range(count):
        created = store.order_write(
            world.company,
            {
                "CustomerNumber": template["CustomerNumber"],
                "DeliveryDate": template.get("DeliveryDate") or "2026-12-01",
                "OrderRows": [
                    {"ArticleNumber": row["ArticleNumber"], "OrderedQuantity": 1}
                    for row in template["OrderRows"]
                    if row.get("ArticleNumber")
                ],
            },
        )
        store.order_mark_sent(world.company, created["DocumentNumber"])


def run_sync(world):
    """One run through the Celery task, as a worker runs it."""
    from integrations.models import SyncRun
    from integrations.tasks import integration_sync

    run_id = integration_sync.apply(kwargs={"integration_id": world.integration.pk}).get()
    return SyncRun.objects.get(pk=run_id)


def table(headers: list[str], rows: list[list]) -> str:
    widths = [max(len(str(x)) for x in [h, *[r[i] for r in rows]]) for i, h in enumerate(headers)]

    def line(cells) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join(
        [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]
    )
