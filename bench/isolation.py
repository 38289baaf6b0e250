"""Isolation under faults (issue 9; RELIABILITY.md section 3): a few companies whose Fortnox or
warehouse goes bad must not delay or break anyone else's runs.

Real processes throughout: the sandbox server (gunicorn, both sandboxes), a small fault proxy in
front of it (a thread of this process, the address every company's Fortnox and warehouse calls
go to), and a real Celery worker (prefork, 2 processes, as on the CI machine) fed through the
broker by the scheduler's own claim (`integrations_claim_due`, called here every 0.2 s instead of
beat's minute). N healthy companies, each its own Fortnox company and warehouse goods owner, are
due one after the other (`--spacing` seconds apart); the bad companies are due first, all at
once, in the faulty round:

- fortnox-silent  Fortnox accepts the request and never answers;
- wms-drip        the warehouse answers 200 and then one byte every few seconds, for ever (only
                  the whole-exchange deadline ends it: the read timeout never strikes);
- garbage         Fortnox answers 200 with bytes that are not JSON;
- rate-limited    Fortnox answers every call 429 with Retry-After.

Rounds: a warm-up (first sync of everyone, not measured), a baseline without the bad companies,
the faulty round, the faulty round again (`--faulty-rounds 2`, the default: the bad companies'
systems are still bad, and the companies whose run stopped on a slow answer are now in the slow
lane), and the baseline again (the noise of the machine). For each healthy company the
delay of its run's start after it was due and the run's duration; for the bad ones how long their
run held a worker process. Every run is one the product makes (an edit in each healthy company's
Fortnox makes every run carry one article to the warehouse).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/isolation_iso \\
    REDIS_URL=redis://127.0.0.1:6379/4 CELERY_BROKER_URL=redis://127.0.0.1:6379/5 \\
    .venv/bin/python bench/isolation.py --tenants 50
    .venv/bin/python bench/isolation.py --tenants 3 --read-timeout 2 --deadline 3 \\
        --rate-limit-wait 4 --json out.json      # tiny: SQLite, a folder as broker (the CI test)
"""

import argparse
import http.client
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from harness import ROOT, database_url, table, throwaway_database
from workers import cpu_seconds, machine_jiffies

BAD_MODES = ("fortnox-silent", "wms-drip", "garbage", "rate-limited")
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"
API_PASSWORD = "isolation-pw"
FORTNOX_TENANT_BASE = 3_000_000
ARTICLES_PER_COMPANY = 3
GARBAGE = b'{"Articles": [\xff\xfe\x00 <html>not json</html>'
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "server",
    "date",
    "proxy-connection",
}


# --- The fault proxy ------------------------------------------------------------------------------


class FaultProxy:
    """Forwards every request to the sandbox server, except those of a bad company: Fortnox calls
    are told apart by the Fortnox tenant in the bearer token (a JWT), warehouse calls by the
    warehouse in the path."""

    def __init__(self, upstream: str, *, drip_every: float, retry_after: str):
        self.upstream = upstream
        self.drip_every = drip_every
        self.retry_after = retry_after
        self.fortnox_modes: dict[int, str] = {}
        self.warehouse_modes: dict[str, str] = {}
        self.faulted: Counter = Counter()
        self.stopped = threading.Event()
        proxy = self
        host, port = upstream.removeprefix("http://").split(":")

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            upstream_connection = None

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                mode = proxy.mode_for(self.path, self.headers.get("Authorization", ""))
                if mode is None:
                    self._forward(body)
                    return
                proxy.faulted[mode] += 1
                self.close_connection = True
                {
                    "fortnox-silent": self._silent,
                    "wms-drip": self._drip,
                    "garbage": self._garbage,
                    "rate-limited": self._rate_limited,
                }[mode]()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def _forward(self, body: bytes) -> None:
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in HOP_BY_HOP and name.lower() != "host"
                }
                for attempt in range(2):
                    if self.upstream_connection is None:
                        self.upstream_connection = http.client.HTTPConnection(
                            host, int(port), timeout=120
                        )
                    try:
                        self.upstream_connection.request(
                            self.command, self.path, body=body, headers=headers
                        )
                        answer = self.upstream_connection.getresponse()
                        content = answer.read()
                        break
                    except (http.client.HTTPException, OSError):
                        self.upstream_connection.close()
                        self.upstream_connection = None
                        if attempt:
                            raise
                self.send_response(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def _silent(self) -> None:
                """Never answer; wait until the client hangs up (or the benchmark ends)."""
                while not proxy.stopped.is_set():
                    readable, _, _ = select.select([self.connection], [], [], 1.0)
                    if readable and not self.connection.recv(1, 0x2):  # MSG_PEEK: closed?
                        return

            def _drip(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                try:
                    while not proxy.stopped.is_set():
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        proxy.stopped.wait(proxy.drip_every)
                except OSError:
                    pass  # the client hung up

            def _garbage(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(GARBAGE)))
                self.end_headers()
                self.wfile.write(GARBAGE)

            def _rate_limited(self) -> None:
                body = b'{"message": "Too many requests, try again later."}'
                self.send_response(429)
                self.send_header("Content-Type", "application/json")
                self.send_header("Retry-After", proxy.retry_after)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def mode_for(self, path: str, authorization: str) -> str | None:
        if path.startswith("/sandbox/fortnox/") and authorization.startswith("Bearer "):
            import jwt

            try:
                claims = jwt.decode(authorization[7:], options={"verify_signature": False})
            except jwt.PyJWTError:
                return None
            return self.fortnox_modes.get(claims.get("tenantId"))
        warehouse = re.match(r"^/sandbox/ongoing/([^/]+)/api/", path)
        return self.warehouse_modes.get(warehouse.group(1)) if warehouse else None

    @contextmanager
    def running(self):
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stopped.set()
            self.server.shutdown()
            self.server.server_close()


# --- The processes --------------------------------------------------------------------------------


def wait_until_up(url: str, process: subprocess.Popen, log: Path, what: str) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - our own local server
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.3)


@contextmanager
def stopping(process: subprocess.Popen):
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sandbox_server(folder: str, environment: dict) -> tuple[str, subprocess.Popen]:
    """Both sandboxes served by gunicorn (2 processes, 4 threads each) on a free port."""
    from web import free_port

    port = free_port()
    log_path = Path(folder, "sandbox.log")
    with open(log_path, "w") as log:
        server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--worker-class",
                "gthread",
                "--timeout",
                "120",
            ],
            cwd=ROOT,
            env={**os.environ, **environment},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/healthz", server, log_path, "the sandbox server")
    except BaseException:
        server.kill()
        raise
    return url, server


def celery_worker(folder: str, environment: dict, *, concurrency: int) -> subprocess.Popen:
    ready = Path(folder, "ready")
    log_path = Path(folder, "worker.log")
    with open(log_path, "w") as log:
        worker = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "bench.isolation_worker",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                str(concurrency),
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "INFO",
                "--hostname",
                f"isolation-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env={**os.environ, **environment, "BENCH_READY_FILE": str(ready)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while not ready.exists():
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            raise RuntimeError(f"the worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    return worker


# --- The companies --------------------------------------------------------------------------------


def sandbox_app():
    from django.conf import settings

    from fortnox.sandbox.models import SandboxApp

    return SandboxApp.objects.create(
        client_id=SANDBOX_CLIENT_ID,
        client_secret=SANDBOX_CLIENT_SECRET,
        name="Isolation benchmark",
        redirect_uri=settings.FORTNOX_REDIRECT_URI,
        scopes=list(settings.FORTNOX_SCOPES),
    )


def company_make(index: int, app) -> dict:
    """A company with its own Fortnox company (a few articles) and its own warehouse goods owner,
    connected through a real consent and a real credential check, its integration active."""
    from fortnox.sandbox import store
    from fortnox.sandbox.models import SandboxCompany, SandboxUser
    from integrations.selectors import integration_for_tenant
    from integrations.services.integrations import integration_activate
    from ongoing.sandbox.models import ApiUser, GoodsOwner, Warehouse
    from ongoing.services import ongoing_connection_save, ongoing_connection_verify
    from tenants.models import User
    from tenants.services import tenant_create
    from tests.fortnox.conftest import connect

    fortnox_tenant = FORTNOX_TENANT_BASE + index
    company = SandboxCompany.objects.create(
        tenant_id=fortnox_tenant,
        database_number=index + 1,
        name=f"Isolering {index} AB",
        organisation_number=f"559{index:03d}-0000",
    )
    user = SandboxUser.objects.create(
        company=company,
        user_id=fortnox_tenant,
        email=f"user{index}@isolering.example",
        name=f"Användare {index}",
        password="!",
    )
    articles = []
    for number in range(ARTICLES_PER_COMPANY):
        article = store.article_write(
            company,
            {
                "ArticleNumber": f"ISO{index}-{number}",
                "Description": f"Artikel {number}",
                "StockGoods": True,
            },
        )
        articles.append(article["ArticleNumber"])
    warehouse = Warehouse.objects.create(name=f"iso{index}", display_name=f"Lager {index}")
    goods_owner = GoodsOwner.objects.create(warehouse=warehouse, name=f"Isolering {index} AB")
    api_user = ApiUser(warehouse=warehouse, username=f"WSI{index}", goods_owner=goods_owner)
    api_user.set_password(API_PASSWORD)
    api_user.save()

    owner = User.objects.create_user(email=f"owner{index}@isolering.example", password="x")
    tenant = tenant_create(owner=owner, name=f"Isolering {index} AB")
    connect(tenant=tenant, app=app, user=user)
    verified = ongoing_connection_verify(
        system=warehouse.system_url, username=api_user.username, password=API_PASSWORD
    )
    ongoing_connection_save(tenant=tenant, verified=verified)
    integration = integration_activate(integration=integration_for_tenant(tenant=tenant))
    return {
        "index": index,
        "integration": integration.pk,
        "company": company.pk,
        "fortnox_tenant": fortnox_tenant,
        "warehouse": warehouse.name,
        "articles": articles,
    }


def article_edit(company: dict, round_name: str) -> None:
    """One change in the company's Fortnox, which its next run carries to the warehouse."""
    from fortnox.sandbox import store
    from fortnox.sandbox.models import SandboxCompany

    store.article_write(
        SandboxCompany.objects.get(pk=company["company"]),
        {"Description": f"Artikel 0 ({round_name})"},
        key=company["articles"][0],
    )


# --- One round ------------------------------------------------------------------------------------


def due_set(schedule: dict[int, datetime]) -> None:
    from integrations.models import Integration

    Integration.objects.update(next_run_at=datetime(2100, 1, 1, tzinfo=UTC))
    for integration_id, due in schedule.items():
        Integration.objects.filter(pk=integration_id).update(next_run_at=due)


def round_run(
    name: str, schedule: dict[int, datetime], *, timeout: float, task_log: Path, worker
) -> dict:
    """Tick until every scheduled integration's run has finished; returns per-integration runs."""
    from integrations.models import SyncRun
    from integrations.services.scheduler import integrations_claim_due

    due_set(schedule)
    since = min(schedule.values()) - timedelta(seconds=1)
    busy_before, total_before = machine_jiffies()
    worker_cpu_before = worker_cpu(worker)
    deadline = time.monotonic() + timeout
    while True:
        integrations_claim_due()
        finished = SyncRun.objects.filter(
            integration_id__in=schedule, started_at__gte=since
        ).exclude(status=SyncRun.Status.RUNNING)
        if finished.count() >= len(schedule):
            break
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"round {name}: {finished.count()} of {len(schedule)} runs finished")
        time.sleep(0.2)
    busy_after, total_after = machine_jiffies()
    runs = {}
    for run in SyncRun.objects.filter(integration_id__in=schedule, started_at__gte=since).order_by(
        "started_at"
    ):
        due = schedule[run.integration_id]
        failures = list(run.failures.values_list("message", flat=True))
        runs[run.integration_id] = {
            "status": run.status,
            "start_delay": (run.started_at - due).total_seconds(),
            "duration": (run.finished_at - run.started_at).total_seconds(),
            "fortnox_requests": run.fortnox_requests,
            "ongoing_requests": run.ongoing_requests,
            "error": run.error,
            "failures": failures,
        }
    held = task_holds(task_log, since=since.timestamp())
    for integration_id, seconds in held.items():
        if integration_id in runs:
            runs[integration_id]["held"] = seconds
    return {
        "runs": runs,
        "machine_busy": (busy_after - busy_before) / max(1, total_after - total_before),
        "worker_cpu": worker_cpu(worker) - worker_cpu_before,
    }


def worker_cpu(worker) -> float:
    from workers import children

    try:
        return cpu_seconds(worker.pid) + sum(cpu_seconds(pid) for pid in children(worker.pid))
    except FileNotFoundError:
        return 0.0


def task_holds(task_log: Path, *, since: float) -> dict[int, float]:
    """Seconds each integration's sync task held its worker process (from the worker's log)."""
    held: dict[int, float] = {}
    if not task_log.exists():
        return held
    for line in task_log.read_text().splitlines():
        _pid, task, integration_id, started, ended = line.split()
        if task.endswith("integration_sync") and float(started) >= since:
            held[int(integration_id)] = max(
                held.get(int(integration_id), 0.0), float(ended) - float(started)
            )
    return held


# --- The benchmark --------------------------------------------------------------------------------


def benchmark(args) -> dict:
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    with (
        throwaway_database(shared=True),
        tempfile.TemporaryDirectory() as folder,
    ):
        # The server and the proxy are started first: connecting the companies goes over HTTP.
        base_environment = {
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "FORTNOX_CLIENT_ID": SANDBOX_CLIENT_ID,
            "FORTNOX_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
        }
        upstream, server = sandbox_server(folder, base_environment)
        with stopping(server):
            proxy = FaultProxy(
                upstream, drip_every=args.drip_every, retry_after=str(args.retry_after)
            )
            with proxy.running():
                sandbox = f"{proxy.url}/sandbox"
                settings.SITE_URL = proxy.url
                settings.SANDBOX_BASE_URL = sandbox
                settings.FORTNOX_API_BASE_URL = f"{sandbox}/fortnox"
                settings.FORTNOX_AUTH_BASE_URL = f"{sandbox}/fortnox"
                settings.FORTNOX_CLIENT_ID = SANDBOX_CLIENT_ID
                settings.FORTNOX_CLIENT_SECRET = SANDBOX_CLIENT_SECRET
                app = sandbox_app()
                started = time.monotonic()
                healthy = [company_make(i, app) for i in range(args.tenants)]
                bad = {
                    mode: company_make(args.tenants + i, app) for i, mode in enumerate(BAD_MODES)
                }
                setup_seconds = time.monotonic() - started

                environment = {
                    **base_environment,
                    "SITE_URL": proxy.url,
                    "FORTNOX_API_BASE_URL": f"{sandbox}/fortnox",
                    "FORTNOX_AUTH_BASE_URL": f"{sandbox}/fortnox",
                    "BENCH_TASK_LOG": str(Path(folder, "tasks.log")),
                    # This worker's own slow-call slots (not the machine's var/locks).
                    "HTTP_SLOW_CALL_DIR": str(Path(folder, "slots")),
                    **broker_environment(folder),
                    **timeout_environment(args),
                }
                worker = celery_worker(folder, environment, concurrency=args.concurrency)
                with stopping(worker):
                    figures = rounds(args, healthy, bad, proxy, worker, folder)
                figures["setup_seconds"] = setup_seconds
                figures["settings"] = effective_settings(environment)
                figures["faulted_requests"] = dict(proxy.faulted)
                figures["database"] = connection.vendor
                figures["broker"] = environment.get("CELERY_BROKER_URL", "filesystem")
                figures["measured_at"] = timezone.now().isoformat(timespec="seconds")
                return figures


def broker_environment(folder: str) -> dict:
    from config.celery import app

    url = os.environ.get("CELERY_BROKER_URL")
    if url:
        app.conf.update(broker_url=url)
        environment = {"CELERY_BROKER_URL": url}
    else:
        from brokers import filesystem_broker

        broker_folder = str(Path(folder, "broker"))
        app.conf.update(filesystem_broker(broker_folder))
        environment = {"BENCH_BROKER_DIR": broker_folder}
    app.control.purge()
    return environment


def timeout_environment(args) -> dict:
    environment = {}
    for option, names in {
        "read_timeout": ("FORTNOX_READ_TIMEOUT", "ONGOING_READ_TIMEOUT"),
        "deadline": ("FORTNOX_REQUEST_DEADLINE_SECONDS", "ONGOING_REQUEST_DEADLINE_SECONDS"),
        "rate_limit_wait": ("FORTNOX_RATE_LIMIT_WAIT_SECONDS",),
        "soft_time_limit": ("SYNC_SOFT_TIME_LIMIT",),
        "slow_call_seconds": ("HTTP_SLOW_CALL_SECONDS",),
        "slow_call_slots": ("HTTP_SLOW_CALL_SLOTS",),
        "slow_lane_retry": ("SLOW_LANE_RETRY_SECONDS",),
    }.items():
        value = getattr(args, option)
        if value is not None:
            environment.update(dict.fromkeys(names, str(value)))
    return environment


def effective_settings(environment: dict) -> dict:
    """The timeouts the worker ran with (its environment over the defaults)."""
    from django.conf import settings

    def value(name, default):
        return float(environment.get(name, default))

    return {
        "fortnox_read_timeout": value("FORTNOX_READ_TIMEOUT", settings.FORTNOX_TIMEOUT[1]),
        "ongoing_read_timeout": value("ONGOING_READ_TIMEOUT", settings.ONGOING_TIMEOUT[1]),
        "deadline": value(
            "FORTNOX_REQUEST_DEADLINE_SECONDS", settings.FORTNOX_REQUEST_DEADLINE_SECONDS
        ),
        "rate_limit_wait": value(
            "FORTNOX_RATE_LIMIT_WAIT_SECONDS", settings.FORTNOX_RATE_LIMIT_WAIT_SECONDS
        ),
        "soft_time_limit": value("SYNC_SOFT_TIME_LIMIT", settings.CELERY_TASK_SOFT_TIME_LIMIT),
        "slow_call_seconds": value("HTTP_SLOW_CALL_SECONDS", settings.HTTP_SLOW_CALL_SECONDS),
        "slow_call_slots": value("HTTP_SLOW_CALL_SLOTS", settings.HTTP_SLOW_CALL_SLOTS),
    }


def rounds(args, healthy: list[dict], bad: dict[str, dict], proxy, worker, folder) -> dict:
    from django.utils import timezone

    task_log = Path(folder, "tasks.log")
    everyone = healthy + list(bad.values())
    # The longest a round can take: every run one after the other, each as slow as a bad one.
    timeout = 300 + len(everyone) * (args.spacing + 5) + 4 * 700

    def schedule(companies: list[dict], *, bad_first: list[dict] = ()) -> dict[int, datetime]:
        start = timezone.now() + timedelta(seconds=1)
        planned = {company["integration"]: start for company in bad_first}
        for position, company in enumerate(companies):
            planned[company["integration"]] = start + timedelta(seconds=position * args.spacing)
        return planned

    results = {}
    # The warm-up: everyone's first sync (a full pull), at once.
    warm_start = timezone.now()
    results["warm-up"] = round_run(
        "warm-up",
        {company["integration"]: warm_start for company in everyone},
        timeout=timeout,
        task_log=task_log,
        worker=worker,
    )
    faulty_names = ["faulty", "faulty again"][: args.faulty_rounds]
    for name in ("baseline", *faulty_names, "baseline again"):
        for company in healthy:
            article_edit(company, name)
        if name in faulty_names:
            for mode, company in bad.items():
                if mode == "wms-drip":
                    proxy.warehouse_modes[company["warehouse"]] = mode
                else:
                    proxy.fortnox_modes[company["fortnox_tenant"]] = mode
            planned = schedule(healthy, bad_first=list(bad.values()))
        else:
            proxy.fortnox_modes.clear()
            proxy.warehouse_modes.clear()
            planned = schedule(healthy)
        results[name] = round_run(name, planned, timeout=timeout, task_log=task_log, worker=worker)
    return {
        "tenants": len(healthy),
        "concurrency": args.concurrency,
        "spacing": args.spacing,
        "healthy": [company["integration"] for company in healthy],
        "bad": {mode: company["integration"] for mode, company in bad.items()},
        "rounds": results,
    }


# --- The report -----------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def spread(values: list[float]) -> str:
    return (
        f"{percentile(values, 0.5):.2f} / {percentile(values, 0.95):.2f} / {max(values):.2f} s"
        if values
        else "-"
    )


def report(figures: dict) -> str:
    healthy = set(figures["healthy"])
    lines = [
        f"{figures['tenants']} healthy companies due {figures['spacing']:g} s apart, "
        f"{len(figures['bad'])} bad ones due at the start of the faulty round; real Celery "
        f"worker (prefork, {figures['concurrency']} processes), sandbox server over HTTP; "
        f"database {figures['database']}, broker {figures['broker']}.",
        "Worker settings: "
        + ", ".join(f"{key} {value:g}" for key, value in figures["settings"].items()),
        "",
    ]
    rows = []
    for name, result in figures["rounds"].items():
        if name == "warm-up":
            continue
        runs = [run for pk, run in result["runs"].items() if pk in healthy]
        statuses = Counter(run["status"] for run in runs)
        rows.append(
            [
                name,
                ", ".join(f"{status} {count}" for status, count in sorted(statuses.items())),
                spread([run["start_delay"] for run in runs]),
                spread([run["duration"] for run in runs]),
                f"{result['machine_busy']:.0%}",
                f"{result['worker_cpu']:.1f} s",
            ]
        )
    lines.append(
        table(
            [
                "round (healthy companies)",
                "runs",
                "start delay p50 / p95 / max",
                "duration p50 / p95 / max",
                "machine busy",
                "worker CPU",
            ],
            rows,
        )
    )
    lines.append("")
    bad_rows = []
    held = []
    for name, result in figures["rounds"].items():
        if not name.startswith("faulty"):
            continue
        for mode, pk in figures["bad"].items():
            run = result["runs"].get(pk, {})
            message = (run.get("failures") or [run.get("error", "")])[0]
            held.append(run.get("held", 0.0))
            bad_rows.append(
                [
                    f"{mode} ({name})",
                    run.get("status", "-"),
                    f"{run.get('held', run.get('duration', 0)):.1f} s",
                    f"{run.get('start_delay', 0):.1f} s",
                    f"{run.get('fortnox_requests', 0)} + {run.get('ongoing_requests', 0)}",
                    message[:150],
                ]
            )
    lines.append(
        table(
            [
                "bad company (round)",
                "run",
                "held a worker",
                "start delay",
                "requests (Fortnox + WMS)",
                "recorded failure",
            ],
            bad_rows,
        )
    )
    lines.append("")
    lines.append(
        f"Longest a bad company's run held a worker process: {max(held):.1f} s "
        f"(soft time limit {figures['settings']['soft_time_limit']:g} s)."
    )
    lines.append(f"Requests the proxy answered with a fault: {figures['faulted_requests']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=50, help="healthy companies")
    parser.add_argument("--spacing", type=float, default=1.0, help="seconds between due times")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--drip-every", type=float, default=5.0)
    parser.add_argument("--retry-after", default="5", help="what the rate-limited company asks")
    parser.add_argument("--read-timeout", type=float, help="both APIs' read timeout (s)")
    parser.add_argument("--deadline", type=float, help="both APIs' whole-exchange deadline (s)")
    parser.add_argument("--rate-limit-wait", type=float)
    parser.add_argument("--soft-time-limit", type=int)
    parser.add_argument(
        "--slow-call-seconds", type=float, help="HTTP_SLOW_CALL_SECONDS (0: no slow-call slots)"
    )
    parser.add_argument("--slow-call-slots", type=int, help="HTTP_SLOW_CALL_SLOTS")
    parser.add_argument("--slow-lane-retry", type=int, help="SLOW_LANE_RETRY_SECONDS")
    parser.add_argument(
        "--faulty-rounds", type=int, choices=(1, 2), default=2, help="the faulty round, or twice"
    )
    parser.add_argument("--json", help="write the figures to this file too")
    args = parser.parse_args()
    # A `timeout` or Ctrl-C still stops the worker and the server and drops the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    figures = benchmark(args)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=str))
    print(report(figures))
    healthy = set(figures["healthy"])
    broken = [
        (name, pk, run["status"])
        for name, result in figures["rounds"].items()
        for pk, run in result["runs"].items()
        if pk in healthy and run["status"] != "succeeded"
    ]
    if broken:
        print(f"healthy runs that did not succeed: {broken}")
        sys.exit(1)


if __name__ == "__main__":
    main()
