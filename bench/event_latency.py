"""Event latency: how long a change takes to reach the other system with `make run`'s set-up.

Starts the real processes from Procfile.dev (web, worker, beat, the Fortnox event consumer and the
sandboxes' event server) on a throwaway SQLite database and filesystem broker (PostgreSQL/Redis
when DATABASE_URL / CELERY_BROKER_URL say so), connects and activates the demo company, lets the
first scheduled run finish, then measures two directions, `--changes` each:

- Fortnox → WMS: an order's remarks edited in the Fortnox sandbox, until the warehouse sandbox's
  order carries them (event → consumer → targeted sales-order sync);
- WMS → Fortnox: an order sent by the warehouse (released, picked, sent), until Fortnox has its
  invoice (webhook → receiver → targeted fulfilment sync).

Fortnox's 25 requests per 5 s still apply (a targeted sales-order sync costs two requests, a
fulfilment four), so changes are made at a steady rate below that. Prints p50/p95/max per
direction. Wall-clock figures: noisy on a shared machine.

    .venv/bin/python bench/event_latency.py                 # 200 changes each way
    .venv/bin/python bench/event_latency.py --changes 5     # the CI smoke version
"""

import argparse
import math
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


class Processes:
    """The Procfile.dev processes, each in its own process group, stopped by their pids."""

    def __init__(self, *, env: dict, web_port: int, logs: Path):
        self.env = env
        self.web_port = web_port
        self.logs = logs
        self.running: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        for line in (ROOT / "Procfile.dev").read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            name, command = line.split(":", 1)
            command = command.strip().replace("0.0.0.0:8000", f"127.0.0.1:{self.web_port}")
            if "runserver" in command:
                command += " --noreload"  # one process to stop, as in a real deployment
            log = (self.logs / f"{name}.log").open("w")
            self.running[name] = subprocess.Popen(  # noqa: S603 - our own Procfile
                shlex.split(command),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.running.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def check(self) -> None:
        dead = {name: p.returncode for name, p in self.running.items() if p.poll() is not None}
        if dead:
            raise SystemExit(f"processes stopped: {dead}; logs in {self.logs}")


def wait_for(what: str, test, *, timeout: float, processes: Processes, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check()
        result = test()
        if result:
            return result
        time.sleep(every)
    raise SystemExit(f"timed out waiting for {what}; logs in {processes.logs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200, help="changes per direction")
    parser.add_argument("--rate-in", type=float, default=1.0, help="Fortnox edits per second")
    parser.add_argument("--rate-out", type=float, default=0.5, help="warehouse sends per second")
    parser.add_argument("--timeout", type=float, default=120, help="seconds a change may take")
    parser.add_argument("--keep", action="store_true", help="keep the database and the logs")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="event-latency-"))
    (work / "logs").mkdir()
    web_port = free_port()
    events_port = free_port()
    while events_port == web_port:  # both probes were closed: the kernel may hand out one twice
        events_port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "VAR_DIR": str(work / "var"),
        "SITE_URL": f"http://127.0.0.1:{web_port}",
        "SANDBOX_EVENTS_PORT": str(events_port),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        "PYTHONUNBUFFERED": "1",
    }
    env.setdefault("DATABASE_URL", f"sqlite:///{work / 'db.sqlite3'}")
    os.environ.update(env)
    for step in (["migrate", "--no-input", "-v", "0"], ["sandbox_seed"], ["demo_setup"]):
        subprocess.run(  # noqa: S603 - manage.py of this repository
            [sys.executable, "manage.py", *step],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    import django

    django.setup()
    processes = Processes(env=env, web_port=web_port, logs=work / "logs")
    processes.start()
    try:
        results = measure(args, processes=processes, web_port=web_port)
    finally:
        processes.stop()
    report(args, results)
    if args.keep:
        print(f"\nDatabase and logs kept in {work}")
    else:
        subprocess.run(["rm", "-rf", str(work)], check=False)  # noqa: S603, S607


def measure(args, *, processes: Processes, web_port: int) -> dict:
    from django.db import transaction
    from django.db.models import Q

    from fortnox.oauth import oauth_code_exchange
    from fortnox.sandbox import store
    from fortnox.sandbox.auth import authorization_code_issue
    from fortnox.sandbox.models import SandboxApp, SandboxCompany, SandboxRecord, SandboxUser
    from fortnox.sandbox.seed import USER_EMAIL
    from fortnox.services.connections import connection_connect, fortnox_company_identify
    from integrations.models import Heartbeat, Integration, SyncRun
    from integrations.services.integrations import integration_activate
    from ongoing.sandbox import services as warehouse
    from ongoing.sandbox.models import GoodsOwner, Order
    from ongoing.sandbox.seed import API_PASSWORD, API_USERNAME
    from ongoing.services import ongoing_connection_save, ongoing_connection_verify
    from ongoing.statuses import OrderStatus
    from ongoing.systems import sandbox_system_url
    from realtime.services.fortnox_events import HEARTBEAT
    from realtime.services.webhooks import webhook_endpoint_for, webhook_url
    from tenants.management.commands.demo_setup import DEMO_COMPANY
    from tenants.models import Tenant

    def web_up() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=5):
                return True
        except OSError:
            return False

    wait_for("web", web_up, timeout=60, processes=processes)
    tenant = Tenant.objects.get(name=DEMO_COMPANY)
    app = SandboxApp.objects.get(client_id="sandbox-client")
    from django.conf import settings

    code = authorization_code_issue(
        app=app,
        user=SandboxUser.objects.get(email=USER_EMAIL),
        scopes=list(app.scopes),
        redirect_uri=settings.FORTNOX_REDIRECT_URI,
    )
    tokens = oauth_code_exchange(code=code)
    connection_connect(
        tenant=tenant, tokens=tokens, company=fortnox_company_identify(tokens=tokens)
    )
    verified = ongoing_connection_verify(
        system=sandbox_system_url("demolager"), username=API_USERNAME, password=API_PASSWORD
    )
    ongoing = ongoing_connection_save(tenant=tenant, verified=verified)
    endpoint = webhook_endpoint_for(connection=ongoing)
    goods_owner = GoodsOwner.objects.get(pk=ongoing.goods_owner_id)
    goods_owner.webhook_url = webhook_url(endpoint=endpoint)
    goods_owner.webhook_token = endpoint.secret
    goods_owner.save()
    integration = integration_activate(integration=Integration.objects.get(tenant=tenant))
    company = SandboxCompany.objects.get()
    print("Activated; waiting for the first scheduled run (beat, then ~80 s of rate limit)…")
    wait_for(
        "the first scheduled run",
        lambda: SyncRun.objects.filter(
            integration=integration, trigger=SyncRun.Trigger.BEAT, finished_at__isnull=False
        ).exists(),
        timeout=600,
        processes=processes,
        every=2,
    )
    wait_for(
        "the event consumer",
        lambda: (
            (beat := Heartbeat.objects.filter(name=HEARTBEAT).first())
            and beat.details.get("connected")
            and beat.details.get("tenants") == 1
        ),
        timeout=60,
        processes=processes,
    )
    measured_from = time.time()

    def wms_open_orders() -> list[Order]:
        return list(
            Order.objects.filter(goods_owner=goods_owner, status=OrderStatus.OPEN).order_by("pk")
        )

    # --- Fortnox → WMS ----------------------------------------------------------------------
    targets = [order.order_number for order in wms_open_orders()]
    print(f"Fortnox → WMS: {args.changes} edits over {len(targets)} orders…")

    def edit(index: int):
        number = targets[index % len(targets)]
        marker = f"Latensmätning {index}"
        with transaction.atomic():
            store.order_write(company, {"Remarks": marker}, key=number)
        return number, marker

    def arrived_in(pending: dict) -> dict:
        numbers = {number for number, _marker in pending.values()}
        remarks = dict(
            Order.objects.filter(goods_owner=goods_owner, order_number__in=numbers).values_list(
                "order_number", "data__orderRemark"
            )
        )
        return {key: remarks.get(number) == marker for key, (number, marker) in pending.items()}

    inbound = drive(args.changes, args.rate_in, args.timeout, edit, arrived_in, processes)

    # --- WMS → Fortnox ----------------------------------------------------------------------
    missing = args.changes - len(wms_open_orders())
    if missing > 0:
        print(f"Creating {missing} more confirmed orders in Fortnox (they arrive by event)…")
        customer = SandboxRecord.objects.filter(company=company, kind="customer").first()
        article = SandboxRecord.objects.filter(
            company=company, kind="article", data__StockGoods=True
        ).first()
        for _ in range(missing):
            with transaction.atomic():
                order = store.order_write(
                    company,
                    {
                        "CustomerNumber": customer.key,
                        "OrderRows": [{"ArticleNumber": article.key, "OrderedQuantity": 1}],
                    },
                )
                store.order_mark_sent(company, order["DocumentNumber"])
            time.sleep(1 / args.rate_in)
        wait_for(
            "the new orders in the warehouse",
            lambda: len(wms_open_orders()) >= args.changes,
            timeout=600,
            processes=processes,
            every=2,
        )
    to_ship = wms_open_orders()[: args.changes]
    print(f"WMS → Fortnox: {args.changes} orders sent by the warehouse…")

    def send(index: int):
        order = to_ship[index]
        warehouse.order_ship(order=order)
        return order.order_number, None

    def invoiced(pending: dict) -> dict:
        numbers = [number for number, _none in pending.values()]
        done = set(
            SandboxRecord.objects.filter(company=company, kind="order", key__in=numbers)
            .exclude(Q(data__InvoiceReference="") | Q(data__InvoiceReference__isnull=True))
            .values_list("key", flat=True)
        )
        return {key: number in done for key, (number, _none) in pending.items()}

    outbound = drive(args.changes, args.rate_out, args.timeout, send, invoiced, processes)
    runs = SyncRun.objects.filter(integration=integration)
    return {
        "inbound": inbound,
        "outbound": outbound,
        "event_runs": runs.filter(trigger=SyncRun.Trigger.EVENT).count(),
        "scheduled_runs": runs.filter(
            trigger=SyncRun.Trigger.BEAT, started_at__gte=_aware(measured_from)
        ).count(),
        "failed_runs": runs.filter(status=SyncRun.Status.FAILED).count(),
    }


def _aware(epoch: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, tz=UTC)


def drive(count, rate, timeout, change, arrived, processes) -> dict:
    """Make `count` changes at `rate` per second while polling for their arrival."""
    started: dict[int, float] = {}
    pending: dict[int, tuple] = {}
    latencies: list[float] = []
    lost = 0
    next_change = time.monotonic()
    index = 0
    while index < count or pending:
        processes.check()
        now = time.monotonic()
        if index < count and now >= next_change:
            pending[index] = change(index)
            started[index] = time.monotonic()
            index += 1
            next_change += 1 / rate
        if pending:
            for key, done in arrived(pending).items():
                if done:
                    latencies.append(time.monotonic() - started[key])
                    pending.pop(key)
                elif time.monotonic() - started[key] > timeout:
                    lost += 1
                    pending.pop(key)
        time.sleep(0.05)
    return {"latencies": latencies, "lost": lost}


def report(args, results: dict) -> None:
    print()
    print("| direction | changes | arrived | p50 | p95 | max |")
    print("|---|---|---|---|---|---|")
    for label, key in (
        ("Fortnox order edited → WMS order updated", "inbound"),
        ("WMS order sent → Fortnox invoice created", "outbound"),
    ):
        latencies = results[key]["latencies"]
        if latencies:
            figures = [
                f"{percentile(latencies, 0.5):.1f} s",
                f"{percentile(latencies, 0.95):.1f} s",
                f"{max(latencies):.1f} s",
            ]
        else:
            figures = ["—"] * 3
        print(f"| {label} | {args.changes} | {len(latencies)} | " + " | ".join(figures) + " |")
    print()
    print(
        f"targeted (event) runs: {results['event_runs']}; scheduled runs while measuring: "
        f"{results['scheduled_runs']}; failed runs: {results['failed_runs']}"
    )


if __name__ == "__main__":
    main()
