"""The benchmarks' Celery worker: the product's own app and tasks, with Fortnox and Ongoing
answered in-process (bench/fakes.py) in every worker process. Started by bench/workers.py:

    python -m celery -A bench.quiet_worker worker --concurrency 2

BENCH_READY_FILE: touched when the worker takes tasks. BENCH_RSS_FILE and BENCH_RSS_AT
("100,10000"): each worker process appends "<pid> <tasks done> <resident kB>" after those task
counts.
BENCH_BROKER_DIR: use kombu's filesystem transport in that folder (no Redis)."""

import os
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

from celery.signals import task_postrun, worker_process_init, worker_ready

from bench.fakes import calls_forget, quiet_apis_start
from config.celery import app


def filesystem_broker(folder: str) -> dict:
    """Celery settings for a broker that is a folder shared by the processes of one machine."""
    for sub in ("queue", "control"):
        Path(folder, sub).mkdir(parents=True, exist_ok=True)
    return {
        "broker_url": "filesystem://",
        "broker_transport_options": {
            "data_folder_in": f"{folder}/queue",
            "data_folder_out": f"{folder}/queue",
            "control_folder": f"{folder}/control",
            "store_processed": False,
        },
    }


if os.environ.get("BENCH_BROKER_DIR"):
    app.conf.update(filesystem_broker(os.environ["BENCH_BROKER_DIR"]))

_done = 0
_mock_http = None
_rss_at = {int(n) for n in os.environ.get("BENCH_RSS_AT", "").split(",") if n}


def resident_kb(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@worker_process_init.connect
def _answer_quietly(**kwargs) -> None:
    global _mock_http
    _mock_http = quiet_apis_start()


@worker_ready.connect
def _ready(**kwargs) -> None:
    if os.environ.get("BENCH_READY_FILE"):
        Path(os.environ["BENCH_READY_FILE"]).touch()


@task_postrun.connect
def _after_task(**kwargs) -> None:
    global _done
    calls_forget(_mock_http)
    _done += 1
    if _done in _rss_at:
        with open(os.environ["BENCH_RSS_FILE"], "a") as out:
            out.write(f"{os.getpid()} {_done} {resident_kb()}\n")
