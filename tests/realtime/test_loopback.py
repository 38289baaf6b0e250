"""The real consumer against the real sandbox event server, over a WebSocket on loopback: the
server and the consumer each run in their own thread with their own database connection, as they
run in their own processes under `make run`."""

import asyncio
import io
import threading
import time

import pytest
from django.db import OperationalError

from fortnox.sandbox import store
from fortnox.sandbox.auth import access_token_issue
from fortnox.sandbox.events import (
    EventServer,
    event_faults_clear,
    event_sockets_drop,
    offset_decode,
)
from fortnox.sandbox.models import (
    SandboxApp,
    SandboxCompany,
    SandboxEvent,
    SandboxRecord,
    SandboxUser,
)
from fortnox.sandbox.seed import USER_EMAIL, sandbox_seed
from integrations.models import Heartbeat
from integrations.processes import SALES_ORDERS
from realtime.models import FortnoxEventOffset, PendingSync
from realtime.services.fortnox_events import HEARTBEAT, FortnoxEventConsumer
from tests.factories import FortnoxConnectionFactory, IntegrationFactory

pytestmark = pytest.mark.django_db(transaction=True)


class ServerThread:
    def __init__(self):
        self.port = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.stop = asyncio.Event()

        def ready(server):
            self.port = server.sockets[0].getsockname()[1]
            self.ready.set()

        self.loop.run_until_complete(
            EventServer(poll_seconds=0.05).serve(
                host="127.0.0.1", port=0, ready=ready, stop=self.stop
            )
        )

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)


def eventually(test, what, consumer, *, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return True
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s; consumer: {consumer.state}")


def write(change):
    """A change made from the test's thread. On SQLite the threads share one in-memory database
    whose tables lock without waiting: the test retries its own writes, and the server and the
    consumer recover from theirs as they do from any failure (reconnect, resume by offset)."""
    for _attempt in range(50):
        try:
            return change()
        except OperationalError:
            time.sleep(0.05)
    raise AssertionError("the database stayed locked")


def test_events_cross_a_real_websocket_and_survive_a_dropped_connection(monkeypatch, settings):
    settings.FORTNOX_CLIENT_SECRET = "sandbox-secret"
    monkeypatch.setattr(
        "realtime.tasks.integration_sync_objects.apply_async", lambda *args, **kwargs: None
    )
    event_faults_clear()
    company = sandbox_seed(stdout=io.StringIO())
    token = access_token_issue(
        app=SandboxApp.objects.get(client_id="sandbox-client"),
        user=SandboxUser.objects.get(email=USER_EMAIL),
        scopes=["order", "article", "supplier"],
    )
    integration = IntegrationFactory()
    FortnoxConnectionFactory(
        tenant=integration.tenant, fortnox_tenant_id=company.tenant_id, access_token=token
    )
    orders = sorted(
        (
            record.key
            for record in SandboxRecord.objects.filter(company=company, kind="order")
            if store.open_order(record.data)
        ),
        key=int,
    )[:2]
    company = SandboxCompany.objects.get(pk=company.pk)
    stop = threading.Event()

    with ServerThread() as server:
        consumer = FortnoxEventConsumer(
            url=f"ws://127.0.0.1:{server.port}/topics-v1",
            reconcile_seconds=0.2,
            heartbeat_seconds=0.1,
            recv_timeout=0.05,
            backoff_seconds=0.05,
        )
        worker = threading.Thread(target=consumer.run, kwargs={"stop": stop}, daemon=True)
        worker.start()
        try:
            # A company without a stored offset starts at the newest event: change nothing before
            # Fortnox has answered the subscription.
            eventually(
                lambda: consumer.state.tenants == 1 and not consumer.unanswered,
                "subscribed",
                consumer,
            )
            write(lambda: store.order_write(company, {"Remarks": "Över nätet"}, key=orders[0]))
            eventually(lambda: consumer.state.events >= 1, "first event", consumer)
            reconnects = consumer.state.reconnects

            event_sockets_drop()
            eventually(
                lambda: (
                    consumer.state.reconnects > reconnects
                    and consumer.state.tenants
                    and not consumer.unanswered
                ),
                "reconnected",
                consumer,
            )
            write(lambda: store.order_write(company, {"Remarks": "Efter avbrottet"}, key=orders[1]))
            eventually(lambda: consumer.state.events >= 2, "second event", consumer)
        finally:
            stop.set()
            worker.join(10)
            event_faults_clear()

    assert set(PendingSync.objects.values_list("process", "object_ref")) == {
        (SALES_ORDERS, orders[0]),
        (SALES_ORDERS, orders[1]),
    }
    assert consumer.state.events == 2
    offset = FortnoxEventOffset.objects.get(topic="orders").offset
    latest = SandboxEvent.objects.filter(topic="orders").latest("id")
    assert offset_decode(offset) == latest.pk
    assert Heartbeat.objects.get(name=HEARTBEAT).details["connected"] is False
