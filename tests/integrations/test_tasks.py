"""The whole scheduling path through a real Celery worker: tick → enqueue after commit → the
worker's integration_sync task → a closed SyncRun in the database."""

import threading

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.utils import timezone

from config.celery import app
from integrations.models import SyncRun
from integrations.tasks import integration_sync, integrations_tick
from tests.factories import IntegrationFactory
from tests.integrations import bodies


def broker_connections_drop():
    """Forget the app's broker connections, so the next send connects to the broker configured
    now (the pools keep the broker they were made for, and may have been closed meanwhile)."""
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def worker(settings):
    # The in-memory broker is shared within this process only: worker thread and test thread.
    broker_connections_drop()
    app.conf.broker_url = "memory://"
    app.conf.broker_transport_options = {"polling_interval": 0.05}
    # Earlier tests queue tasks (on commit) into the same in-memory broker: not for this worker.
    app.control.purge()
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            yield
    finally:
        broker_connections_drop()
        app.conf.broker_url = settings.CELERY_BROKER_URL
        app.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS


@pytest.fixture
def finished_syncs():
    """Counts integration_sync tasks the worker has finished, so the test reads the database
    only once the worker is done with it (in-memory SQLite locks whole tables)."""
    finished = threading.Semaphore(0)

    def count(sender=None, **kwargs):
        if sender.name == integration_sync.name:
            finished.release()

    task_postrun.connect(count, weak=False)
    yield finished
    task_postrun.disconnect(count)


@pytest.mark.django_db(transaction=True)
def test_tick_runs_due_integrations_through_the_worker(worker, finished_syncs, offer_all):
    due = IntegrationFactory.create_batch(3, next_run_at=timezone.now())
    IntegrationFactory(next_run_at=timezone.now() + timezone.timedelta(hours=1))

    integrations_tick.delay()

    assert all(finished_syncs.acquire(timeout=10) for _ in due)
    runs = SyncRun.objects.all()
    assert sorted(run.integration_id for run in runs) == sorted(i.pk for i in due)
    assert {(run.status, run.trigger) for run in runs} == {
        (SyncRun.Status.SUCCEEDED, SyncRun.Trigger.BEAT)
    }
    assert bodies.calls.count("articles") == 3
