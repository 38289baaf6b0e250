"""A worker keeps its database connection from one task to the next (Celery's Django fixup would
close it after every task), and still drops one that broke, was left in a transaction or is
older than CONN_MAX_AGE, as Django does between two web requests."""

import time
from types import SimpleNamespace
from unittest import mock

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connections

from config.celery import app, database_connections_tidy

pytestmark = pytest.mark.django_db(transaction=True)


def task(*, eager: bool = False):
    return SimpleNamespace(request=SimpleNamespace(is_eager=eager))


@pytest.fixture
def closes():
    """The open default connection (60 s from its maximum age); yields the spy on its close()
    (an in-memory SQLite database ignores close(), so the calls are what is checked)."""
    connection = connections["default"]
    connection.ensure_connection()
    connection.close_at = time.monotonic() + 60
    with mock.patch.object(connection, "close", wraps=connection.close) as close:
        yield close


def test_a_healthy_connection_survives_the_task_boundaries(closes):
    database_connections_tidy(sender=task())
    database_connections_tidy(sender=task())

    assert not closes.called


def test_the_fixup_no_longer_closes_the_connection_after_each_task(closes):
    fixup = DjangoWorkerFixup(app)
    assert fixup.db_reuse_max  # CELERY_DB_REUSE_MAX reaches the fixup through the app's config

    for _ in range(3):
        fixup.on_task_prerun(sender=task())
        fixup.on_task_postrun(sender=task())

    assert not closes.called


def test_an_old_connection_is_dropped_at_the_task_boundary(closes):
    connections["default"].close_at = time.monotonic() - 1

    database_connections_tidy(sender=task())

    assert closes.called


def test_a_connection_left_inside_a_transaction_is_dropped(closes):
    connection = connections["default"]
    connection.set_autocommit(False)
    try:
        database_connections_tidy(sender=task())
    finally:
        connection.set_autocommit(True)

    assert closes.called


def test_a_connection_that_failed_and_no_longer_answers_is_dropped(closes, monkeypatch):
    connection = connections["default"]
    connection.errors_occurred = True
    monkeypatch.setattr(connection, "is_usable", lambda: False)

    database_connections_tidy(sender=task())

    assert closes.called


def test_a_connection_that_failed_but_still_answers_is_kept(closes):
    connections["default"].errors_occurred = True

    database_connections_tidy(sender=task())

    assert not closes.called


def test_an_eager_task_leaves_its_callers_connection_alone(closes):
    connections["default"].close_at = time.monotonic() - 1

    database_connections_tidy(sender=task(eager=True))

    assert not closes.called
