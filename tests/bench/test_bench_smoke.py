"""The benchmarks keep working: each runs in a tiny version (figures are not judged here)."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_fanout_runs_and_prints_its_table():
    result = run_bench("bench/fanout.py", "--tenants", "30", "--syncs", "3")

    assert result.returncode == 0, result.stderr[-3000:]
    assert "integrations due at once" in result.stdout
    assert "| 30 " in result.stdout


def run_bench(
    *arguments: str, drop: tuple[str, ...] = ("DATABASE_URL",), timeout: int = 300
) -> subprocess.CompletedProcess:
    """A benchmark run small, on SQLite (the environment's `drop` variables left out)."""
    environment = {key: value for key, value in os.environ.items() if key not in drop}
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_bulk_sync_runs_at_the_rate_limit_without_a_429():
    result = run_bench("bench/bulk_sync.py", "--articles", "60", "--orders", "12")

    assert result.returncode == 0, result.stderr[-3000:]
    assert "| run status " in result.stdout
    assert "| succeeded " in result.stdout
    assert re.search(r"^\| 429 answers from Fortnox +\| 0 +\|", result.stdout, re.MULTILINE)


def test_web_counts_the_same_queries_for_small_and_larger_data():
    """Latency needs wrk and a quiet machine (bench/web.py's full run); the query counts of the
    three pages are exact, and the script fails when one grows with the data."""
    result = run_bench("bench/web.py", "--tenants", "40", "--runs", "6", "--seconds", "0")

    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    for page in ("status page", "settings page", "admin dashboard"):
        assert f"| {page}" in result.stdout


def run_alone(*arguments: str) -> subprocess.CompletedProcess:
    """A benchmark that starts a worker, on SQLite and a folder as the broker whatever the
    environment says (no shared Redis database between test processes)."""
    return run_bench(
        *arguments, drop=("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"), timeout=600
    )


def test_workers_syncs_every_due_integration_on_a_real_worker():
    result = run_alone("bench/workers.py", "--tenants", "12")

    assert result.returncode == 0, result.stderr[-3000:]
    assert "succeeded 12 " in result.stdout
    assert "worker CPU per sync" in result.stdout


def test_memory_reports_the_workers_resident_memory():
    result = run_alone("bench/memory.py", "--syncs", "12")

    # A run this small may grow more than the target allows (exit 1 then): only the figures count.
    assert "resident memory after 12 syncs" in result.stdout, result.stderr[-3000:]
    assert "growth" in result.stdout


def test_requests_per_sync_prints_both_tables_and_a_quiet_run_costs_one_list_per_process():
    result = run_bench("bench/requests_per_sync.py", "--changes", "0,1")

    assert result.returncode == 0, result.stderr[-3000:]
    # Defaults: suppliers, articles and orders in Fortnox; fulfilment in Ongoing.
    assert re.search(r"^\| 0 changed orders +\| 3 +\| 1 +\|", result.stdout, re.MULTILINE)
    # And purchase orders in Fortnox; the stock probe and the closed purchase orders in Ongoing.
    assert re.search(r"^\| 0 inventory adjustments +\| 4 +\| 3 +\|", result.stdout, re.MULTILINE)
    # The classic stock balance instead: the stock probe is its one request.
    assert re.search(r"^\| 0 inventory adjustments +\| 3 +\| 2 +\|", result.stdout, re.MULTILINE)
    assert re.search(
        r"^\| 1 inventory adjustments +\| \d+ +\| \d+ +\| \d+ +\| 1 +\|",
        result.stdout,
        re.MULTILINE,
    )
