"""Benchmark 3 of issue 10 on real workers: 10,000 integrations due at once, claimed by the tick,
sent through the broker, and synced by a real Celery worker (`--concurrency 2`, prefork) on
PostgreSQL and Redis, with Fortnox and Ongoing answering "nothing changed" in-process in each
worker process (bench/quiet_worker.py), so only our own overhead is measured. Prints the wall time
from the tick to the last run's end, and the CPU the worker and PostgreSQL spent per sync.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wmsfortnox_perf \\
    REDIS_URL=redis://127.0.0.1:6379/8 .venv/bin/python bench/workers.py
    .venv/bin/python bench/workers.py --tenants 20      # tiny, SQLite and a folder as broker
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from fanout import make_tenants
from harness import ROOT, database_url, table, throwaway_database

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class PostgresBackends:
    """CPU spent by the PostgreSQL backends serving one database, sampled while they live (a
    backend that exits between two samples loses its last second: a slight under-count)."""

    def __init__(self, database: str):
        self.database = database
        self.seen: dict[int, float] = {}

    def sample(self) -> None:
        from django.db import connection

        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [self.database],
            )
            for (pid,) in cursor.fetchall():
                self.seen[pid] = max(self.seen.get(pid, 0.0), cpu_seconds(pid))

    def total(self) -> float | None:
        return sum(self.seen.values()) if self.seen else None


def broker_settings(folder: str) -> tuple[dict, dict]:
    """(Celery settings for this process, environment for the worker): Redis when REDIS_URL is
    set, otherwise kombu's filesystem transport in `folder`."""
    from quiet_worker import filesystem_broker

    url = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL")
    if url:
        return {"broker_url": url}, {"CELERY_BROKER_URL": url}
    return filesystem_broker(folder), {"BENCH_BROKER_DIR": folder}


@contextmanager
def celery_worker(*, concurrency: int, environment: dict, folder: str):
    """A real Celery worker on the benchmark's database and broker; yields its Popen."""
    ready = Path(folder, "ready")
    log_path = Path(folder, "worker.log")
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "bench.quiet_worker",
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
        f"bench-{os.getpid()}@%h",
    ]
    with open(log_path, "w") as log:
        worker = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command,
            cwd=ROOT,
            env={**os.environ, **environment, "BENCH_READY_FILE": str(ready)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield worker
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def run_on_workers(*, tenants: int, concurrency: int, rss_at: tuple[int, ...] = ()) -> dict:
    """Seed `tenants` due integrations, start the worker, tick once and wait until every claimed
    integration's run has finished; returns the figures."""
    from django.db import connection
    from django.db.models import Count, Max

    from config.celery import app
    from integrations.models import SyncRun
    from integrations.services.scheduler import integrations_claim_due

    with throwaway_database(shared=True), tempfile.TemporaryDirectory() as folder:
        make_tenants(tenants)
        own_settings, worker_broker = broker_settings(folder)
        app.conf.update(own_settings)
        app.control.purge()
        rss_file = Path(folder, "rss")
        environment = {
            **worker_broker,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "BENCH_RSS_FILE": str(rss_file),
            "BENCH_RSS_AT": ",".join(map(str, rss_at)),
        }
        postgres = PostgresBackends(connection.settings_dict["NAME"])
        with celery_worker(concurrency=concurrency, environment=environment, folder=folder) as w:
            busy_before, total_before = machine_jiffies()
            started = time.time()
            claimed = integrations_claim_due()
            tick_seconds = time.time() - started
            deadline = time.monotonic() + max(600, tenants * 0.2)
            while True:
                postgres.sample()
                done = SyncRun.objects.exclude(status=SyncRun.Status.RUNNING).count()
                if done >= len(claimed):
                    break
                if w.poll() is not None or time.monotonic() > deadline:
                    log = Path(folder, "worker.log").read_text()[-3000:]
                    raise RuntimeError(f"{done} of {len(claimed)} runs finished:\n{log}")
                time.sleep(1.0)
            busy_after, total_after = machine_jiffies()
            worker_cpu = cpu_seconds(w.pid) + sum(cpu_seconds(pid) for pid in children(w.pid))
        last_finished = SyncRun.objects.aggregate(last=Max("finished_at"))["last"]
        statuses = dict(
            SyncRun.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
        )
        rss = (
            [tuple(map(int, line.split())) for line in rss_file.read_text().splitlines()]
            if rss_file.exists()
            else []
        )
        return {
            "claimed": len(claimed),
            "tick_seconds": tick_seconds,
            "wall_seconds": last_finished.timestamp() - started,
            "statuses": statuses,
            "worker_cpu": worker_cpu,
            "postgres_cpu": postgres.total(),
            "machine_busy": (busy_after - busy_before) / (total_after - total_before),
            "rss": rss,
            "database": connection.vendor,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    # A `timeout` or Ctrl-C still stops the worker and drops the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    result = run_on_workers(tenants=args.tenants, concurrency=args.concurrency)
    n = result["claimed"]
    rows = [
        ["integrations due at once", f"{n:,}", "10,000"],
        ["tick: claim them, send them to the broker", f"{result['tick_seconds']:.2f} s", "< 2 s"],
        ["runs by status", ", ".join(f"{k} {v:,}" for k, v in result["statuses"].items()), ""],
        [
            f"wall time, tick to last run finished ({args.concurrency} worker processes)",
            f"{result['wall_seconds']:.1f} s",
            "< 90 s",
        ],
        ["syncs per second", f"{n / result['wall_seconds']:.0f}", "> 111"],
        [
            "worker CPU per sync (main process + pool)",
            f"{1000 * result['worker_cpu'] / n:.1f} ms",
            "",
        ],
    ]
    if result["postgres_cpu"] is not None:
        rows.append(
            ["PostgreSQL backend CPU per sync", f"{1000 * result['postgres_cpu'] / n:.1f} ms", ""]
        )
    rows.append(
        ["machine busy during the run (2 cores, all users)", f"{result['machine_busy']:.0%}", ""]
    )
    print(f"database: {result['database']}")
    print(table(["measure", "value", "target"], rows))


if __name__ == "__main__":
    main()
