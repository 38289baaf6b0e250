"""The Celery worker of bench/tokens_at_scale.py: the product's own app and tasks, unchanged,
talking over real HTTP to the sandbox server the benchmark started (FORTNOX_AUTH_BASE_URL,
FORTNOX_API_BASE_URL and SITE_URL in the environment), e-mails written to files in
TOKENS_MAIL_DIR so the benchmark can count them across processes:

    python -m celery -A bench.tokens_worker worker --pool prefork --concurrency 8

TOKENS_BROKER_DIR: the folder that is the broker (kombu's filesystem transport).
TOKENS_READY_FILE: touched when the worker takes tasks. TOKENS_DONE_FILE: one line appended per
task finished ("<task name> <state> <first argument> <start> <end>", times from time.time()), so
the benchmark knows when the queue has been worked off and which tasks ran at the same time."""

import os
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

from celery.signals import task_postrun, task_prerun, worker_ready
from django.conf import settings

from bench.tokens_at_scale import atomic_filesystem_puts, filesystem_broker
from config.celery import app

if os.environ.get("TOKENS_BROKER_DIR"):
    atomic_filesystem_puts()
    app.conf.update(filesystem_broker(os.environ["TOKENS_BROKER_DIR"]))
if os.environ.get("TOKENS_MAIL_DIR"):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = os.environ["TOKENS_MAIL_DIR"]


@worker_ready.connect
def _ready(**kwargs) -> None:
    if os.environ.get("TOKENS_READY_FILE"):
        Path(os.environ["TOKENS_READY_FILE"]).touch()


_started: dict[str, float] = {}


@task_prerun.connect
def _start(task_id=None, **kwargs) -> None:
    _started[task_id] = time.time()


@task_postrun.connect
def _done(task_id=None, task=None, state=None, args=None, **kwargs) -> None:
    path = os.environ.get("TOKENS_DONE_FILE")
    if not path:
        return
    start = _started.pop(task_id, 0.0)
    first = args[0] if args else "-"
    line = f"{task.name if task else '?'} {state} {first} {start:.6f} {time.time():.6f}\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, line.encode())
    finally:
        os.close(descriptor)
