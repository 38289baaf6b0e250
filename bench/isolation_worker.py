"""The isolation benchmark's Celery worker (bench/isolation.py): the product's own app and tasks,
talking over real HTTP to the sandbox server (nothing is faked in the worker). Started as

    python -m celery -A bench.isolation_worker worker --pool prefork --concurrency 2

BENCH_READY_FILE: touched when the worker takes tasks. BENCH_TASK_LOG: each task appends
"<pid> <task name> <integration id> <started> <ended>" (epoch seconds), the time it held its worker
process. BENCH_BROKER_DIR: kombu's filesystem transport in that folder (no Redis)."""

import os
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

from celery.signals import task_postrun, task_prerun, worker_ready

from bench.brokers import filesystem_broker
from config.celery import app

if os.environ.get("BENCH_BROKER_DIR"):
    app.conf.update(filesystem_broker(os.environ["BENCH_BROKER_DIR"]))

_started: dict[str, float] = {}


@worker_ready.connect
def _ready(**kwargs) -> None:
    if os.environ.get("BENCH_READY_FILE"):
        Path(os.environ["BENCH_READY_FILE"]).touch()


@task_prerun.connect
def _task_started(task_id=None, **kwargs) -> None:
    _started[task_id] = time.time()


@task_postrun.connect
def _task_ended(task_id=None, task=None, args=None, kwargs=None, **extra) -> None:
    started = _started.pop(task_id, None)
    log = os.environ.get("BENCH_TASK_LOG")
    if started is None or not log:
        return
    integration_id = (kwargs or {}).get("integration_id") or (args[0] if args else "-")
    with open(log, "a") as out:
        out.write(f"{os.getpid()} {task.name} {integration_id} {started:.3f} {time.time():.3f}\n")
