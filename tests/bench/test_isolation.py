"""Isolation under faults in small (the full size is bench/isolation.py, RELIABILITY.md section 3):
a real Celery worker (prefork, 2 processes) syncs three healthy companies and four bad ones over
real HTTP (the sandbox server behind a fault proxy). The bad companies' runs end with their
recorded failure, the healthy companies' runs all succeed, in every round. No figure of time is
judged here (the machine may be loaded); bench/isolation.py prints them."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SMALL = [
    # One faulty round: the slow lane's second one is measured by the full benchmark (and the
    # lane itself tested in tests/ongoing/processes/test_timeouts.py).
    "--faulty-rounds",
    "1",
    "--tenants",
    "3",
    "--spacing",
    "0.5",
    "--read-timeout",
    "2",
    "--deadline",
    "3",
    "--rate-limit-wait",
    "4",
    "--retry-after",
    "1",
    "--drip-every",
    "0.5",
]


def test_bad_companies_fail_alone_and_clearly(tmp_path):
    figures_file = tmp_path / "isolation.json"
    # SQLite and a folder as broker: nothing shared with other tests running at the same time.
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    result = subprocess.run(
        [sys.executable, "bench/isolation.py", *SMALL, "--json", str(figures_file)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    figures = json.loads(figures_file.read_text())
    healthy = set(figures["healthy"])
    assert len(healthy) == 3
    for name, round_ in figures["rounds"].items():
        runs = {int(pk): run for pk, run in round_["runs"].items()}
        assert healthy <= set(runs), name
        for pk in healthy:
            assert runs[pk]["status"] == "succeeded", (name, runs[pk])
    # Every healthy run carried its company's edit to the warehouse.
    for name in ("baseline", "faulty", "baseline again"):
        runs = figures["rounds"][name]["runs"]
        assert all(runs[str(pk)]["ongoing_requests"] > 0 for pk in healthy), name

    faulty = figures["rounds"]["faulty"]["runs"]
    bad = {mode: faulty[str(pk)] for mode, pk in figures["bad"].items()}
    expected = {
        "fortnox-silent": ["Fortnox did not answer", "in time", "the next run continues"],
        "wms-drip": ["Ongoing did not answer", "within 3 s", "the next run continues"],
        "rate-limited": ["Fortnox kept rate-limiting", "the next run continues"],
        "garbage": ["not valid UTF-8"],
    }
    for mode, phrases in expected.items():
        run = bad[mode]
        assert run["status"] in ("failed", "partial"), (mode, run)
        recorded = " | ".join(run["failures"])
        for phrase in phrases:
            assert phrase in recorded, (mode, recorded)
    # A timeout stops the run: the silent Fortnox was asked once, the dripping warehouse once.
    assert figures["faulted_requests"]["fortnox-silent"] == 1
    assert figures["faulted_requests"]["wms-drip"] == 1
    assert bad["fortnox-silent"]["fortnox_requests"] == 1
    # Waiting on 429s stopped at the budget: 4 s of Retry-After 1, then the run stopped.
    assert figures["faulted_requests"]["rate-limited"] == 5
    # What the benchmark prints.
    assert "Longest a bad company's run held a worker process" in result.stdout
