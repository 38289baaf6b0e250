"""Tokens at scale (issue 9): N companies whose Fortnox access tokens have all expired, their syncs
worked off by a real Celery worker (prefork, P processes) over PostgreSQL, talking over real HTTP
to the Fortnox sandbox served by gunicorn, which rotates refresh tokens like Fortnox (a used one
answers 400 "Invalid refresh token"). Each company's sync is enqueued COPIES times at once, next to
as many keep-alive refreshes (its refresh token is also a week old), so that several worker
processes want the same company's refresh at the same moment. A second wave (the next tick) syncs
everyone once more.

Checked and printed: refreshes per company at the sandbox (exactly 1 each), "Invalid refresh
token" answers (0), companies needing reactivation (0), e-mails, runs, wall time. The second
scenario loses the refresh answer of a few companies (the sandbox commits the rotation, then
closes the connection): only those end in needs_reactivation, with one e-mail each; everyone
else is refreshed exactly once and synced.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tokens_bench .venv/bin/python \\
        bench/tokens_at_scale.py                                  # 500 companies, 8 processes
    ... bench/tokens_at_scale.py --tenants 40 --processes 4 --lose 3

Needs PostgreSQL (the token service's row locks are what is proven). The broker is a folder
(kombu's filesystem transport), so runs side by side share nothing but PostgreSQL. Exits 1 when
an invariant does not hold."""

import argparse
import email
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST_FORTNOX_TENANT = 3_000_000
CLIENT_ID = "tokens-bench-client"
CLIENT_SECRET = "tokens-bench-secret"
WAREHOUSE = "tokenslager"
API_USERNAME = "WSITokens"
API_PASSWORD = "tokens-bench-password"
TICKS = os.sysconf("SC_CLK_TCK")


# --- The companies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Company:
    integration_id: int
    connection_id: int
    fortnox_tenant_id: int
    email: str


def seed(count: int, *, site_url: str) -> list[Company]:
    """`count` companies as they are between runs, each connected to its own Fortnox company in the
    sandbox through a refresh token the sandbox issued, its access token expired a minute ago and
    its refresh token a week old (keep-alive is due too); all share one empty sandbox warehouse.
    `site_url` is the sandbox server's address."""
    from django.conf import settings
    from django.utils import timezone

    from fortnox.models import FortnoxConnection
    from fortnox.sandbox.auth import REFRESH_TOKEN_LIFETIME
    from fortnox.sandbox.models import (
        SandboxApp,
        SandboxCompany,
        SandboxRefreshToken,
        SandboxUser,
        token_hash,
    )
    from integrations.models import Integration, ProcessSetting, SyncCursor
    from integrations.processes import registry
    from ongoing.models import OngoingConnection
    from ongoing.sandbox.models import ApiUser, GoodsOwner, Warehouse
    from tenants.models import Tenant

    now = timezone.now()
    week_ago = now - timedelta(days=8)
    scopes = list(settings.FORTNOX_SCOPES)
    app = SandboxApp.objects.create(
        name="Tokens at scale",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=f"{site_url}/fortnox/callback/",
        scopes=scopes,
    )
    warehouse = Warehouse.objects.create(name=WAREHOUSE, display_name="Tokens", customer_id="4711")
    goods_owner = GoodsOwner.objects.create(warehouse=warehouse, name="Tokens AB")
    api_user = ApiUser(warehouse=warehouse, username=API_USERNAME, goods_owner=goods_owner)
    api_user.set_password(API_PASSWORD)
    api_user.save()

    numbers = range(count)
    companies = SandboxCompany.objects.bulk_create(
        [
            SandboxCompany(
                tenant_id=FIRST_FORTNOX_TENANT + n,
                database_number=FIRST_FORTNOX_TENANT + n,
                name=f"Fortnoxbolag {n} AB",
                organisation_number=f"559{n:07d}",
            )
            for n in numbers
        ]
    )
    users = SandboxUser.objects.bulk_create(
        [
            SandboxUser(
                company=company,
                user_id=FIRST_FORTNOX_TENANT + n,
                email=f"user{n}@fortnoxbolag.se",
                name=f"Användare {n}",
                password="!",
            )
            for n, company in zip(numbers, companies, strict=True)
        ]
    )
    refresh_tokens = [f"tokens-bench-refresh-{n}-{os.urandom(16).hex()}" for n in numbers]
    SandboxRefreshToken.objects.bulk_create(
        [
            SandboxRefreshToken(
                token_hash=token_hash(refresh_tokens[n]),
                app=app,
                user=user,
                scopes=scopes,
                issued_at=week_ago,
                expires_at=week_ago + REFRESH_TOKEN_LIFETIME,
            )
            for n, user in zip(numbers, users, strict=True)
        ]
    )

    tenants = Tenant.objects.bulk_create(
        [Tenant(name=f"Företag {n} AB", organisation_number=f"556{n:07d}") for n in numbers]
    )
    integrations = Integration.objects.bulk_create(
        [
            Integration(
                tenant=tenant,
                status=Integration.Status.ACTIVE,
                next_run_at=now + timedelta(days=1),
                activated_at=now - timedelta(days=30),
                problem_email=f"ops{n}@foretag{n}.se",
            )
            for n, tenant in zip(numbers, tenants, strict=True)
        ]
    )
    ProcessSetting.objects.bulk_create(
        [
            ProcessSetting(
                integration=integration,
                process=process.key,
                enabled=process.default_enabled,
                options=process.default_options(),
            )
            for integration in integrations
            for process in registry
        ]
    )
    last_run = (now - timedelta(minutes=15)).isoformat()
    SyncCursor.objects.bulk_create(
        [
            SyncCursor(integration=integration, process=key, value=last_run)
            for integration in integrations
            for key in ("suppliers", "articles", "sales_orders")
        ]
    )
    connections = FortnoxConnection.objects.bulk_create(
        [
            FortnoxConnection(
                tenant=tenant,
                fortnox_tenant_id=FIRST_FORTNOX_TENANT + n,
                company_name=f"Fortnoxbolag {n} AB",
                access_token=f"expired-access-token-{n}",
                access_expires_at=now - timedelta(minutes=1),
                refresh_token=refresh_tokens[n],
                refresh_token_issued_at=week_ago,
                scopes=scopes,
                connected_at=now - timedelta(days=30),
            )
            for n, tenant in zip(numbers, tenants, strict=True)
        ]
    )
    system = f"{site_url}/sandbox/ongoing/{WAREHOUSE}/"
    OngoingConnection.objects.bulk_create(
        [
            OngoingConnection(
                tenant=tenant,
                system=system,
                warehouse=WAREHOUSE,
                api_base_url=f"{system}api/v1/",
                goods_owner_id=goods_owner.pk,
                goods_owner_name=goods_owner.name,
                username=API_USERNAME,
                password=API_PASSWORD,
                verified_at=now,
            )
            for tenant in tenants
        ]
    )
    return [
        Company(
            integration_id=integration.pk,
            connection_id=connection.pk,
            fortnox_tenant_id=connection.fortnox_tenant_id,
            email=integration.problem_email,
        )
        for integration, connection in zip(integrations, connections, strict=True)
    ]


# --- The processes -------------------------------------------------------------------------------


def filesystem_broker(folder: str) -> dict:
    """The benchmark's broker folder (bench/brokers.py), polled every 20 ms: the default second
    would be measured instead of the work."""
    from bench.brokers import filesystem_broker as folder_broker

    return folder_broker(folder, polling_interval=0.02)


def atomic_filesystem_puts() -> None:
    """Make kombu's filesystem transport write each message under a name the consumer ignores
    and rename it into place when complete. As shipped, the file is created empty and written
    afterwards, and a consumer listing the folder in between reads an empty message and dies
    (it took the 500-company run's worker down). Idempotent; done in every process that sends."""
    from kombu.transport import filesystem

    if getattr(filesystem.Channel._put, "atomic", False):
        return

    def _put(self, queue, payload, **kwargs):
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as out:
                out.write(filesystem.str_to_bytes(filesystem.dumps(payload)))
            os.rename(partial, final)
        except OSError as error:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from error

    _put.atomic = True
    filesystem.Channel._put = _put


def database_url() -> str:
    """DATABASE_URL of the current database, for the processes the benchmark starts."""
    from django.db import connection

    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process and its children that have been waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return sum(int(value) for value in fields[11:15]) / TICKS


def family_cpu(pid: int) -> float:
    """CPU of a process and its living children (a prefork pool, gunicorn's workers)."""
    total = cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            total += sum(cpu_seconds(int(c)) for c in (task / "children").read_text().split())
        except FileNotFoundError:
            continue
    return total


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def child_environment(
    *, database_url: str, site_url: str, folder: Path, lose=(), lost_how: str = "close"
) -> dict:
    """The server's and the worker's environment: this database, the sandbox server as Fortnox,
    a folder as the broker (unless CELERY_BROKER_URL is set), no shared Redis (each process
    throttles its own calls: Redis is not what is measured, and tests running side by side must
    not share keys)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "PYTEST_ADDOPTS")
    }
    environment.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "SITE_URL": site_url,
            "FORTNOX_CLIENT_ID": CLIENT_ID,
            "FORTNOX_CLIENT_SECRET": CLIENT_SECRET,
            "FORTNOX_AUTH_BASE_URL": f"{site_url}/sandbox/fortnox",
            "FORTNOX_API_BASE_URL": f"{site_url}/sandbox/fortnox",
            "FORTNOX_EVENTS_ENABLED": "false",
            "TOKENS_LOG": str(folder / "refreshes.log"),
            "TOKENS_MARKS": str(folder),
            "TOKENS_LOSE": ",".join(str(n) for n in lose),
            "TOKENS_LOST_HOW": lost_how,
            "TOKENS_MAIL_DIR": str(folder / "mail"),
            "TOKENS_DONE_FILE": str(folder / "done.log"),
            "TOKENS_READY_FILE": str(folder / "ready"),
            "TOKENS_BROKER_DIR": str(folder / "broker"),
            "PYTHONPATH": str(ROOT),
        }
    )
    return environment


@contextmanager
def sandbox_server(*, port: int, environment: dict, folder: Path, workers: int):
    """gunicorn serving both sandboxes (bench/tokens_sandbox.py) until the block ends."""
    log = open(folder / "server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "gunicorn",
            "bench.tokens_sandbox:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            # Threads, so that an answer held back for the silent scenario does not take the
            # server's capacity from everyone else (Fortnox's would not shrink).
            "--threads",
            "4",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the sandbox server did not start:\n{_tail(folder / 'server.log')}"
                    ) from None
                time.sleep(0.3)
        yield server
    finally:
        _stop(server)
        log.close()


@contextmanager
def celery_worker(*, processes: int, environment: dict, folder: Path):
    """A real Celery worker, prefork pool, on the product's tasks (bench/tokens_worker.py)."""
    log = open(folder / "worker.log", "w")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.tokens_worker",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(processes),
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
            "--hostname",
            f"tokens-{os.getpid()}-{folder.name}@%h",
        ],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while not (folder / "ready").exists():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{_tail(folder / 'worker.log')}")
            time.sleep(0.2)
        yield worker
    finally:
        _stop(worker)
        log.close()


def _tail(path: Path, size: int = 3000) -> str:
    return path.read_text(errors="replace")[-size:] if path.exists() else "(no log)"


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


# --- The run -------------------------------------------------------------------------------------


@dataclass
class Result:
    tenants: int
    processes: int
    copies: int
    lost: list[int]
    tasks: int = 0
    wall_seconds: float = 0.0
    worker_cpu: float = 0.0
    server_cpu: float = 0.0
    # Refreshes Fortnox (the sandbox) made per company: rotated refresh tokens.
    refreshes: dict[int, int] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)
    invalid_by_tenant: dict[int, int] = field(default_factory=dict)
    needs_reactivation: list[int] = field(default_factory=list)
    emails: dict[int, int] = field(default_factory=dict)
    # Per company: (runs succeeded, runs failed, runs in another state).
    runs: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    task_states: dict[str, int] = field(default_factory=dict)
    # Per company: the most of its tasks that ran at the same moment in different processes.
    together: dict[int, int] = field(default_factory=dict)
    # Per company: its longest sync or keep-alive, and all of them together, seconds.
    longest_task: dict[int, float] = field(default_factory=dict)
    busy: dict[int, float] = field(default_factory=dict)

    def healthy(self) -> list[int]:
        return sorted(set(self.refreshes) - set(self.lost))

    def problems(self) -> list[str]:
        """What broke an invariant (empty when everything held)."""
        found = []
        healthy = self.healthy()
        wrong = {t: self.refreshes[t] for t in healthy if self.refreshes[t] != 1}
        if wrong:
            found.append(f"{len(wrong)} companies not refreshed exactly once: {_some(wrong)}")
        invalid = {t: n for t, n in self.invalid_by_tenant.items() if t not in self.lost}
        if invalid:
            found.append(f"'Invalid refresh token' for healthy companies: {_some(invalid)}")
        if set(self.needs_reactivation) != set(self.lost):
            found.append(
                f"needing reactivation: {sorted(self.needs_reactivation)}, expected "
                f"{sorted(self.lost)}"
            )
        mails = {t: self.emails.get(t, 0) for t in self.refreshes}
        wrong_mails = {t: n for t, n in mails.items() if n != (1 if t in self.lost else 0)}
        if wrong_mails:
            found.append(
                f"e-mails not as expected (1 per lost company, else 0): {_some(wrong_mails)}"
            )
        unsynced = {
            t: self.runs.get(t) for t in healthy if self.runs.get(t, (0, 0, 0))[1:] != (0, 0)
        }
        unsynced.update({t: self.runs.get(t) for t in healthy if not self.runs.get(t, (0,))[0]})
        if unsynced:
            found.append(f"healthy companies with a run that did not succeed: {_some(unsynced)}")
        for lost in self.lost:
            if self.refreshes.get(lost) != 1:
                found.append(f"lost company {lost}: {self.refreshes.get(lost)} refreshes, not 1")
        if self.answers.get("lost", 0) != len(self.lost):
            found.append(f"{self.answers.get('lost', 0)} answers lost, {len(self.lost)} planned")
        failed_tasks = {k: v for k, v in self.task_states.items() if not k.endswith("SUCCESS")}
        if failed_tasks:
            found.append(f"tasks that did not succeed: {failed_tasks}")
        return found


def _some(mapping: dict, shown: int = 5) -> str:
    items = sorted(mapping.items())
    more = f" … and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(f"{k}: {v}" for k, v in items[:shown]) + more


def _wait_for(done_file: Path, expected: int, *, worker, seconds: float, folder: Path) -> None:
    deadline = time.monotonic() + seconds
    while len(_lines(done_file)) < expected:
        if worker.poll() is not None or time.monotonic() > deadline:
            finished = len(_lines(done_file))
            log = _tail(folder / "worker.log")
            raise RuntimeError(f"{finished} of {expected} tasks done:\n{log}")
        time.sleep(0.2)


def _emails_sent(folder: Path) -> list[email.message.Message]:
    """Every message the workers' file backend wrote (one file per connection, messages
    separated by a line of 79 dashes)."""
    messages = []
    for path in sorted((folder / "mail").glob("*.log")):
        for chunk in path.read_text().split("\n" + "-" * 79 + "\n"):
            if chunk.strip():
                messages.append(email.message_from_string(chunk))
    return messages


def run(
    *,
    tenants: int,
    processes: int,
    copies: int = 3,
    lose: int = 0,
    lost_how: str = "close",
    server_workers: int = 3,
    database_url: str,
    folder: Path,
    timeout: float | None = None,
) -> Result:
    """Seed the companies in the current database (which `database_url` names for the other
    processes), start the sandbox server and the worker, send every company's syncs and
    keep-alives at once, then the next tick's syncs, and collect the figures."""
    from django.db.models import Count

    from fortnox.models import FortnoxConnection
    from fortnox.sandbox.models import SandboxRefreshToken
    from fortnox.tasks import fortnox_connection_keep_alive
    from integrations.models import ReactivationLink, SyncRun
    from integrations.tasks import integration_sync

    port = free_port()
    site_url = f"http://127.0.0.1:{port}"
    companies = seed(tenants, site_url=site_url)
    # The lost ones are spread over the run, not all at its start.
    lost = (
        [companies[i].fortnox_tenant_id for i in range(0, tenants, max(tenants // lose, 1))][:lose]
        if lose
        else []
    )
    result = Result(tenants=tenants, processes=processes, copies=copies, lost=lost)
    (folder / "mail").mkdir()
    environment = child_environment(
        database_url=database_url, site_url=site_url, folder=folder, lose=lost, lost_how=lost_how
    )
    done_file = folder / "done.log"
    timeout = timeout or max(600.0, tenants * copies * 2.0)

    with (
        sending_to(folder / "broker"),
        sandbox_server(
            port=port, environment=environment, folder=folder, workers=server_workers
        ) as server,
        celery_worker(processes=processes, environment=environment, folder=folder) as worker,
    ):
        cpu_before = family_cpu(worker.pid), family_cpu(server.pid)
        started = time.monotonic()
        # Wave 1: everyone's access token has expired; each company's syncs and keep-alives are
        # next to each other in the queue, so the pool's processes take them at the same moment.
        sent = 0
        for company in companies:
            for _copy in range(copies):
                integration_sync.delay(company.integration_id, "beat")
                fortnox_connection_keep_alive.delay(company.connection_id)
                sent += 2
        _wait_for(done_file, sent, worker=worker, seconds=timeout, folder=folder)
        # Wave 2: the next tick. Nobody refreshes again; a company whose answer was lost finds
        # its refresh token dead (if nothing of wave 1 found it already).
        for company in companies:
            integration_sync.delay(company.integration_id, "beat")
            sent += 1
        _wait_for(done_file, sent, worker=worker, seconds=timeout, folder=folder)
        # The reactivation e-mails are tasks of their own, sent when an incident is filed.
        links = ReactivationLink.objects.count()
        _wait_for(done_file, sent + links, worker=worker, seconds=timeout, folder=folder)
        result.wall_seconds = time.monotonic() - started
        result.worker_cpu = family_cpu(worker.pid) - cpu_before[0]
        result.server_cpu = family_cpu(server.pid) - cpu_before[1]
        result.tasks = len(_lines(done_file))

    by_company = {c.fortnox_tenant_id: c for c in companies}
    rotated = dict(
        SandboxRefreshToken.objects.filter(
            rotated_at__isnull=False, user__company__tenant_id__in=by_company
        )
        .values_list("user__company__tenant_id")
        .annotate(n=Count("id"))
    )
    result.refreshes = {t: rotated.get(t, 0) for t in by_company}
    answers = [line.split() for line in _lines(folder / "refreshes.log")]
    result.answers = dict(Counter(kind for kind, _tenant, _pid in answers))
    result.invalid_by_tenant = dict(
        Counter(int(tenant) for kind, tenant, _pid in answers if kind == "invalid")
    )
    result.needs_reactivation = sorted(
        FortnoxConnection.objects.filter(
            status=FortnoxConnection.Status.NEEDS_REACTIVATION
        ).values_list("fortnox_tenant_id", flat=True)
    )
    by_email = {c.email: c.fortnox_tenant_id for c in companies}
    mails: Counter = Counter()
    for message in _emails_sent(folder):
        for recipient in message.get_all("To", []):
            mails[by_email.get(recipient.strip(), 0)] += 1
    result.emails = dict(mails)
    by_integration = {c.integration_id: c.fortnox_tenant_id for c in companies}
    runs: dict[int, list[int]] = {t: [0, 0, 0] for t in by_company}
    for integration_id, status, n in SyncRun.objects.values_list(
        "integration_id", "status"
    ).annotate(n=Count("id")):
        slot = {SyncRun.Status.SUCCEEDED: 0, SyncRun.Status.FAILED: 1}.get(status, 2)
        runs[by_integration[integration_id]][slot] += n
    result.runs = {t: tuple(v) for t, v in runs.items()}
    done = [line.split() for line in _lines(done_file)]
    result.task_states = dict(Counter(f"{name} {state}" for name, state, *_rest in done))
    by_argument = {
        "integrations.tasks.integration_sync": by_integration,
        "fortnox.tasks.fortnox_connection_keep_alive": {
            c.connection_id: c.fortnox_tenant_id for c in companies
        },
    }
    intervals: dict[int, list[tuple[float, float]]] = {t: [] for t in by_company}
    for name, _state, argument, start, end in done:
        tenant = by_argument.get(name, {}).get(int(argument)) if argument.isdigit() else None
        if tenant is not None:
            intervals[tenant].append((float(start), float(end)))
    result.together = {t: most_at_once(spans) for t, spans in intervals.items()}
    result.longest_task = {
        t: max((end - start for start, end in spans), default=0.0) for t, spans in intervals.items()
    }
    result.busy = {t: sum(end - start for start, end in spans) for t, spans in intervals.items()}
    return result


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most of these (start, end) intervals that were running at one moment."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _moment, step in edges:
        running += step
        most = max(most, running)
    return most


@contextmanager
def sending_to(folder: Path):
    """Send from this process through the folder the worker reads; as before afterwards (a test
    process goes on with its own broker)."""
    from config.celery import app

    def reset_connections():
        if app._pool is not None:
            app._pool.force_close_all()
            app._pool = None
        app.amqp._producer_pool = None

    keys = ("broker_url", "broker_transport_options", "task_always_eager")
    before = {key: app.conf[key] for key in keys}
    reset_connections()
    atomic_filesystem_puts()
    app.conf.update({**filesystem_broker(str(folder)), "task_always_eager": False})
    try:
        yield
    finally:
        reset_connections()
        app.conf.update(before)


# --- The report ----------------------------------------------------------------------------------


def figures(result: Result) -> list[list]:
    healthy = result.healthy()
    counts = [result.refreshes[t] for t in healthy] or [0]
    lost_refreshes = [result.refreshes[t] for t in result.lost]
    runs = [result.runs.get(t, (0, 0, 0)) for t in healthy]
    lost_mails = [result.emails.get(t, 0) for t in result.lost]
    rows = [
        ["companies (access tokens all expired)", result.tenants],
        ["worker processes (Celery prefork)", result.processes],
        [
            "tasks (per company: syncs and keep-alives at once, a sync next tick; e-mails)",
            f"{result.tasks} ({result.copies} + {result.copies}, 1)",
        ],
        [
            "refreshes per healthy company at Fortnox, min / max",
            f"{min(counts)} / {max(counts)} ({len(healthy)} companies)",
        ],
        ["'Invalid refresh token' answers", result.answers.get("invalid", 0)],
        ["other token answers", _some({k: v for k, v in result.answers.items() if k != "invalid"})],
        ["companies needing reactivation", len(result.needs_reactivation)],
        ["e-mails sent", sum(result.emails.values())],
        [
            "healthy companies synced (a run succeeded, none failed)",
            sum(1 for s, f, o in runs if s and not f and not o),
        ],
    ]
    if result.lost:
        rows += [
            ["answers lost (rotation committed, answer never arrived)", len(result.lost)],
            [
                "refreshes per lost company, min / max",
                f"{min(lost_refreshes)} / {max(lost_refreshes)}",
            ],
            [
                "'Invalid refresh token' for healthy companies",
                sum(n for t, n in result.invalid_by_tenant.items() if t not in result.lost),
            ],
            [
                "lost companies needing reactivation",
                f"{len(set(result.needs_reactivation) & set(result.lost))} of {len(result.lost)}",
            ],
            ["e-mails per lost company, min / max", f"{min(lost_mails)} / {max(lost_mails)}"],
        ]
    together = Counter(result.together.values())
    rows += [
        [
            "companies whose tasks ran in 2+ processes at once (most at once)",
            f"{sum(n for k, n in together.items() if k >= 2)} ({max(together, default=0)})",
        ],
        [
            "longest sync or keep-alive, healthy / lost companies",
            f"{max((result.longest_task[t] for t in healthy), default=0):.1f} s / "
            f"{max((result.longest_task[t] for t in result.lost), default=0):.1f} s",
        ],
        [
            "worker process time taken by the lost companies' tasks",
            f"{sum(result.busy[t] for t in result.lost):.1f} s",
        ]
        if result.lost
        else None,
        ["wall time, first task sent to last task done", f"{result.wall_seconds:.1f} s"],
        ["worker CPU (main process + pool)", f"{result.worker_cpu:.1f} s"],
        ["sandbox server CPU (gunicorn)", f"{result.server_cpu:.1f} s"],
    ]
    return [row for row in rows if row is not None]


def table(rows: list[list]) -> str:
    width = max(len(str(r[0])) for r in rows)
    lines = [f"| {'measure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {str(name).ljust(width)} | {value} |" for name, value in rows]
    return "\n".join(lines)


SCENARIOS = {
    "clean": ("all access tokens expired", False, "close"),
    "close": ("refresh answers lost: connection closed after the rotation", True, "close"),
    "silent": ("refresh answers lost: silence past our 30 s read timeout", True, "silent"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--copies", type=int, default=3, help="syncs (and keep-alives) per company")
    parser.add_argument("--lose", type=int, default=5, help="lost answers in the second scenario")
    parser.add_argument("--server-workers", type=int, default=3)
    parser.add_argument(
        "--scenarios",
        default="clean,close",
        help=f"comma-separated, of: {', '.join(SCENARIOS)} (silent costs ~35 s per lost answer)",
    )
    parser.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    sys.path.insert(0, str(ROOT / "bench"))
    from django.db import connection
    from django.test.utils import teardown_test_environment
    from harness import throwaway_database

    if connection.vendor != "postgresql":
        sys.exit(
            "Needs PostgreSQL: set DATABASE_URL=postgres://…/<name> (the row locks are proven)."
        )
    failed = False
    for scenario in args.scenarios.split(","):
        title, lose, lost_how = SCENARIOS[scenario]
        with throwaway_database(shared=True), tempfile.TemporaryDirectory() as folder:
            result = run(
                tenants=args.tenants,
                processes=args.processes,
                copies=args.copies,
                lose=args.lose if lose else 0,
                lost_how=lost_how,
                server_workers=args.server_workers,
                database_url=database_url(),
                folder=Path(folder),
            )
        teardown_test_environment()
        print(f"\n## {title}: {args.tenants} companies, {args.processes} worker processes\n")
        print(table(figures(result)))
        if args.json:
            print(json.dumps(asdict(result), default=str))
        problems = result.problems()
        for problem in problems:
            print(f"FAILED: {problem}")
        failed = failed or bool(problems)
        print("invariants: " + ("BROKEN" if problems else "all hold"), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    main()
