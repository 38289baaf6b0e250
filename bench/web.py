"""Benchmark 4 of issue 10: latency of the status page, the settings page and the admin dashboard
with 10,000 companies and 1,000,000 runs, served by gunicorn (as the Dockerfile runs it) over
loopback and loaded with `wrk` (apt-get install wrk); and the database queries each page makes,
which must not grow with the data.

The database is filled twice: first a small world (10 companies), then grown to the full size.
Each time the pages' queries are counted (Django's test client, in-process) and their latency
measured (gunicorn + wrk). Runs come every 15 minutes per integration, the default interval, so
1,000,000 runs are the last 25 hours of 10,000 companies: what the dashboard's 24-hour figures
really meet.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/web_web \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/web.py
    .venv/bin/python bench/web.py --dashboard-cache 0                  # the dashboard uncached
    .venv/bin/python bench/web.py --tenants 30 --runs 5 --seconds 2    # tiny, SQLite

Latency is the wait for a core on a shared machine: BENCHMARKS.md (section 4) says how the
measured runs were given one.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from fanout import make_tenants
from harness import ROOT, database_url, table, throwaway_database
from workers import children, cpu_seconds

PAGES = {
    "status page": ("/app/", "member"),
    "settings page": ("/app/settings/", "member"),
    "admin dashboard": ("/admin/", "staff"),
}
SMALL = 10
# Customers and support see the pages in Swedish, the product's default language.
LANGUAGE = "sv"
RUN_EVERY = timedelta(minutes=15)
# wrk calls this at the end: the percentiles it measured (microseconds), requests and errors.
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d %d\\n", latency:percentile(50),
    latency:percentile(95), latency:percentile(99), summary.requests,
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""


@contextmanager
def started_at_as_given():
    """SyncRun.started_at is auto_now_add; the history being made has its own times."""
    from integrations.models import SyncRun

    field = SyncRun._meta.get_field("started_at")
    field.auto_now_add = False
    try:
        yield
    finally:
        field.auto_now_add = True


def fill_runs(integration_ids: list[int], *, per_integration: int) -> None:
    """`per_integration` finished runs each, 15 minutes apart back from now: 1 % failed, 3 %
    partial; every twentieth integration has an open failure from its last run. On PostgreSQL the
    runs are made by the database (generate_series): a million rows take seconds, not minutes.
    They are written oldest first, as a live system writes them: an hour's runs sit together in
    the table, not scattered over all of it (which made counting the current hour three times
    slower)."""
    from django.db import connection
    from django.utils import timezone

    from integrations.models import SyncFailure, SyncRun

    now = timezone.now()
    if connection.vendor == "postgresql":
        _fill_runs_in_postgresql(integration_ids, per_integration=per_integration, now=now)
    else:
        with started_at_as_given():
            SyncRun.objects.bulk_create(
                (
                    SyncRun(
                        integration_id=integration_id,
                        trigger=SyncRun.Trigger.BEAT,
                        status=_status(n, k),
                        started_at=now - RUN_EVERY * (k + 1) + timedelta(seconds=n % 900),
                        finished_at=now - RUN_EVERY * (k + 1) + timedelta(seconds=n % 900 + 2),
                        counts=COUNTS,
                        fortnox_requests=3,
                        ongoing_requests=1,
                        error=ERROR if _status(n, k) == SyncRun.Status.FAILED else "",
                    )
                    for k in reversed(range(per_integration))
                    for n, integration_id in enumerate(integration_ids)
                ),
                batch_size=5000,
            )
    last_runs = SyncRun.objects.filter(
        integration_id__in=integration_ids[::20], started_at__gt=now - RUN_EVERY
    )
    SyncFailure.objects.bulk_create(
        SyncFailure(
            integration_id=run.integration_id,
            run=run,
            process="articles",
            object_type="article",
            object_ref=f"A{run.integration_id % 97}",
            kind=SyncFailure.Kind.VALIDATION,
            message=f"Article A{run.integration_id % 97} has no description.",
            last_seen_at=run.started_at,
        )
        for run in last_runs
    )


COUNTS = {
    key: {"created": 0, "updated": 0, "skipped": 0, "failed": 0}
    for key in ("suppliers", "articles", "sales_orders", "fulfilment")
}
ERROR = "articles: Fortnox could not be reached"


def _status(n: int, k: int) -> str:
    """The k-th last run of the n-th integration: every 100th failed, every 33rd and every
    twentieth integration's last one partial (with an open failure)."""
    if (n + k) % 100 == 0:
        return "failed"
    if (n + k) % 33 == 0 or (k == 0 and n % 20 == 0):
        return "partial"
    return "succeeded"


def _fill_runs_in_postgresql(integration_ids: list[int], *, per_integration: int, now) -> None:
    """The same rows as the bulk_create above (see _status), written by one INSERT … SELECT."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO integrations_syncrun (integration_id, trigger, status, started_at,
                finished_at, counts, fortnox_requests, ongoing_requests, error)
            SELECT i.id, 'beat', s.status, s.started, s.started + interval '2 seconds',
                %(counts)s::jsonb, 3, 1, CASE WHEN s.status = 'failed' THEN %(error)s ELSE '' END
            FROM unnest(%(ids)s::bigint[]) WITH ORDINALITY AS i(id, position),
                generate_series(0, %(runs)s - 1) AS k,
                LATERAL (SELECT
                    CASE WHEN (i.position - 1 + k) %% 100 = 0 THEN 'failed'
                         WHEN (i.position - 1 + k) %% 33 = 0
                              OR (k = 0 AND (i.position - 1) %% 20 = 0) THEN 'partial'
                         ELSE 'succeeded' END AS status,
                    %(now)s - interval '15 minutes' * (k + 1)
                        + make_interval(secs => (i.position - 1) %% 900) AS started
                ) AS s
            ORDER BY s.started
            """,
            {
                "ids": integration_ids,
                "runs": per_integration,
                "now": now,
                "counts": json.dumps(COUNTS),
                "error": ERROR,
            },
        )


def grow(*, to: int, start: int, runs: int) -> None:
    from integrations.models import RunHour

    ids = make_tenants(to - start, start=start)
    fill_runs(ids, per_integration=runs)
    # The dashboard keeps each finished hour's counts; this history was written into hours it
    # already counted (only a benchmark can), so it counts them again.
    RunHour.objects.all().delete()
    if _postgres():
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def signed_in() -> dict:
    """A member of the first company and a support user, each with a session a browser would
    hold; returns {"member": client, "staff": client} (Django test clients, signed in)."""
    from django.test import Client

    from tenants.models import Membership, Tenant, User

    member = User.objects.create_user(email="member@example.com", password="x")
    tenant = Tenant.objects.order_by("pk").first()
    Membership.objects.create(user=member, tenant=tenant, role=Membership.Role.OWNER)
    staff = User.objects.create_superuser(email="support@example.com", password="x")
    clients = {}
    for name, user in (("member", member), ("staff", staff)):
        clients[name] = Client()
        clients[name].force_login(user)
    return clients


def query_counts(clients: dict) -> dict[str, int]:
    """Each page's queries as it counts them, the dashboard's cache off."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings

    counts = {}
    for page, (path, who) in PAGES.items():
        clients[who].get(
            path, HTTP_ACCEPT_LANGUAGE=LANGUAGE
        )  # the first view may store what it will not count again
        with (
            override_settings(ADMIN_DASHBOARD_CACHE_SECONDS=0),
            CaptureQueriesContext(connection) as queries,
        ):
            response = clients[who].get(path, HTTP_ACCEPT_LANGUAGE=LANGUAGE)
        if response.status_code != 200:
            raise RuntimeError(f"{page}: {path} answered {response.status_code}")
        counts[page] = len(queries.captured_queries)
    return counts


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(folder: str, *, dashboard_cache: int):
    """The app as the Dockerfile serves it (3 sync workers), on the benchmark's database, the
    dashboard's figures kept `dashboard_cache` seconds (0: counted on every view)."""
    from integrations.dashboard import dashboard_cache_clear

    dashboard_cache_clear()
    port = free_port()
    log = open(Path(folder, "gunicorn.log"), "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "3",
            "--timeout",
            "30",
            "--access-logfile",
            "-",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "ADMIN_DASHBOARD_CACHE_SECONDS": str(dashboard_cache),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(Path(folder, "gunicorn.log").read_text()[-3000:]) from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def server_cpu(pid: int, database: str) -> tuple[float, dict[int, float]]:
    """CPU seconds so far of gunicorn (master and workers), and of each PostgreSQL backend serving
    the database."""
    from django.db import connection

    web = cpu_seconds(pid) + sum(cpu_seconds(child) for child in children(pid))
    backends = {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [database],
            )
            backends = {backend: cpu_seconds(backend) for (backend,) in cursor.fetchall()}
    return web, backends


def latency(server, path: str, cookie: str, *, seconds: int, connections: int, folder: str):
    """{p50, p95, p99 (ms), requests, errors, cpu (gunicorn ms per request), db_cpu (PostgreSQL
    ms per request)} of `path` under wrk, after checking it answers 200 to this session (a
    redirect to the login page would be fast and wrong)."""
    from django.db import connection

    base, pid = server
    headers = {"Cookie": cookie, "Accept-Language": LANGUAGE}
    request = urllib.request.Request(base + path, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback http
        if answer.status != 200 or answer.url != base + path:
            raise RuntimeError(f"{path} answered {answer.status} at {answer.url}")
    script = Path(folder, "report.lua")
    script.write_text(WRK_REPORT)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")

    def load(duration: int) -> str:
        options = ["-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script)]
        return subprocess.run(  # noqa: S603 - wrk with our own arguments
            [
                wrk,
                *options,
                *(f"-H{name}: {value}" for name, value in headers.items()),
                base + path,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    load(max(1, seconds // 5))  # warm up: every gunicorn worker has compiled the templates
    database = connection.settings_dict["NAME"]
    web_before, db_before = server_cpu(pid, database)
    output = load(seconds)
    web_after, db_after = server_cpu(pid, database)
    found = re.search(r"^WRK (\d+) (\d+) (\d+) (\d+) (\d+)$", output, re.MULTILINE)
    p50, p95, p99, requests, errors = map(int, found.groups())
    db_cpu = sum(cpu - db_before.get(backend, 0.0) for backend, cpu in db_after.items())
    return {
        "p50": p50 / 1000,
        "p95": p95 / 1000,
        "p99": p99 / 1000,
        "requests": requests,
        "errors": errors,
        "cpu": 1000 * (web_after - web_before) / max(requests, 1),
        "db_cpu": 1000 * db_cpu / max(requests, 1),
    }


def measure(clients: dict, *, seconds: int, connections: int, dashboard_cache: int) -> dict:
    """Each page's queries, and unless seconds is 0 its latency under wrk."""
    from django.conf import settings

    cookies = {
        who: f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        for who, client in clients.items()
    }
    result = {"queries": query_counts(clients)}
    if not seconds:
        return result
    with (
        tempfile.TemporaryDirectory() as folder,
        gunicorn(folder, dashboard_cache=dashboard_cache) as server,
    ):
        for page, (path, who) in PAGES.items():
            result[page] = latency(
                server, path, cookies[who], seconds=seconds, connections=connections, folder=folder
            )
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=100, help="runs per integration")
    parser.add_argument(
        "--seconds", type=int, default=20, help="wrk's duration per page; 0: count queries only"
    )
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument(
        "--dashboard-cache",
        type=int,
        default=30,
        help="ADMIN_DASHBOARD_CACHE_SECONDS for gunicorn (production's default 30; 0: uncached)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    from integrations.models import SyncRun

    with throwaway_database(shared=True):
        sizes = {}
        options = {
            "seconds": args.seconds,
            "connections": args.connections,
            "dashboard_cache": args.dashboard_cache,
        }
        grow(to=SMALL, start=0, runs=args.runs)
        clients = signed_in()
        small = measure(clients, **options)
        sizes["small"] = (SMALL, SyncRun.objects.count())
        filled = time.perf_counter()
        grow(to=args.tenants, start=SMALL, runs=args.runs)
        filled = time.perf_counter() - filled
        large = measure(clients, **options)
        sizes["large"] = (args.tenants, SyncRun.objects.count())
    print(
        f"small: {sizes['small'][0]:,} companies, {sizes['small'][1]:,} runs; large: "
        f"{sizes['large'][0]:,} companies, {sizes['large'][1]:,} runs (filled in {filled:.0f} s); "
        f"wrk -t1 -c{args.connections} -d{args.seconds}s per page, gunicorn --workers 3, "
        f"dashboard cache {args.dashboard_cache} s (queries counted uncached)"
    )
    rows = []
    for page in PAGES:
        for size, result in (("small", small), ("large", large)):
            row = [page, size, result["queries"][page]]
            if args.seconds:
                timing = result[page]
                row += [
                    f"{timing['p50']:.1f}",
                    f"{timing['p95']:.1f}",
                    f"{timing['p99']:.1f}",
                    f"{timing['requests'] / args.seconds:.0f}",
                    timing["errors"],
                    f"{timing['cpu']:.1f}",
                    f"{timing['db_cpu']:.1f}",
                ]
            rows.append(row)
    headers = ["page", "data", "queries"]
    if args.seconds:
        headers += ["p50 ms", "p95 ms", "p99 ms", "req/s", "errors", "web CPU ms", "db CPU ms"]
    print(table(headers, rows))
    grown = [page for page in PAGES if small["queries"][page] != large["queries"][page]]
    if grown:
        sys.exit(f"query count grew with the data: {', '.join(grown)}")


if __name__ == "__main__":
    main()
