"""The Fortnox event consumer: which tenants and topics, what an event queues, offsets committed
with the work, and what it does when the socket fails. Unit tests script the socket; the
`small_world` tests speak to the sandbox's own protocol in-process (test_loopback.py does it over
a real WebSocket)."""

import json
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from fortnox.models import FortnoxConnection
from fortnox.sandbox import store
from integrations.models import Heartbeat, Integration, ProcessSetting
from integrations.processes import ARTICLES, SALES_ORDERS, SUPPLIERS
from realtime.health import events_health
from realtime.models import FortnoxEventOffset, PendingSync
from realtime.services.fortnox_events import (
    HEARTBEAT,
    ConsumerStopped,
    FortnoxEventConsumer,
    Subscriber,
    event_targets,
    subscribers_wanted,
)
from tests.factories import FortnoxConnectionFactory, IntegrationFactory
from tests.realtime.conftest import consume

pytestmark = pytest.mark.django_db
ALL = frozenset({SUPPLIERS, ARTICLES, SALES_ORDERS})


@pytest.mark.parametrize(
    ("event", "processes", "targets"),
    [
        ({"topic": "orders", "type": "order-updated-v1", "entityId": "1042"}, ALL,
         [(SALES_ORDERS, "1042")]),
        ({"topic": "orders", "type": "order-cancelled-v1", "entityId": 1042}, ALL,
         [(SALES_ORDERS, "1042")]),
        ({"topic": "articles", "type": "article-created-v1", "entityId": "1001"}, ALL,
         [(ARTICLES, "1001")]),
        ({"topic": "articles", "type": "article-deleted-v1", "entityId": "1001"}, ALL, []),
        ({"topic": "suppliers", "type": "supplier-updated-v1", "entityId": "7"}, ALL,
         [(SUPPLIERS, "7"), (ARTICLES, "supplier:7")]),
        ({"topic": "suppliers", "type": "supplier-updated-v1", "entityId": "7"},
         frozenset({SUPPLIERS}), [(SUPPLIERS, "7")]),
        ({"topic": "orders", "type": "order-updated-v1", "entityId": "1042"},
         frozenset({ARTICLES}), []),
        ({"topic": "invoices", "type": "invoice-created-v1", "entityId": "9"}, ALL, []),
        ({"topic": "orders", "type": "order-updated-v1", "entityId": ""}, ALL, []),
    ],
)  # fmt: skip
def test_what_an_event_asks_to_sync(event, processes, targets):
    assert event_targets(event, processes) == targets


def test_tenants_wanted_are_active_connected_and_need_an_event(member):
    wanted_integration = IntegrationFactory()
    connection = FortnoxConnectionFactory(tenant=wanted_integration.tenant)
    paused = IntegrationFactory(status=Integration.Status.PAUSED)
    FortnoxConnectionFactory(tenant=paused.tenant)
    revoked = IntegrationFactory()
    FortnoxConnectionFactory(tenant=revoked.tenant, status=FortnoxConnection.Status.REVOKED)
    IntegrationFactory()  # no Fortnox connection
    only_fulfilment = IntegrationFactory()
    FortnoxConnectionFactory(tenant=only_fulfilment.tenant)
    for process in (SUPPLIERS, ARTICLES, SALES_ORDERS):
        ProcessSetting.objects.create(integration=only_fulfilment, process=process, enabled=False)
    ProcessSetting.objects.create(integration=wanted_integration, process=ARTICLES, enabled=False)

    wanted = subscribers_wanted()

    assert wanted == {
        connection.fortnox_tenant_id: Subscriber(
            fortnox_tenant_id=connection.fortnox_tenant_id,
            integration_id=wanted_integration.pk,
            connection_id=connection.pk,
            processes=frozenset({SUPPLIERS, SALES_ORDERS}),
        )
    }
    assert wanted[connection.fortnox_tenant_id].topics == {"suppliers", "orders"}


class ScriptedSocket:
    """Answers each command from a script and then says nothing."""

    def __init__(self, stop, answers):
        self.stop, self.answers, self.sent = stop, list(answers), []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def send(self, raw):
        self.sent.append(json.loads(raw))

    def recv(self, timeout=None):
        if self.answers:
            return json.dumps(self.answers.pop(0))
        self.stop.set()
        raise TimeoutError


def test_a_refusal_from_fortnox_ends_the_connection_and_is_reported():
    integration = IntegrationFactory()
    FortnoxConnectionFactory(tenant=integration.tenant)
    stop = threading.Event()
    socket = ScriptedSocket(
        stop,
        [{"response": "add-tenants-v1", "result": "error", "message": "Invalid client secret."}],
    )
    consumer = FortnoxEventConsumer(url="ws://x", client_secret="s", connect=lambda url: socket)

    with pytest.raises(ConsumerStopped, match="Invalid client secret"):
        consumer.session(stop=stop, wanted=subscribers_wanted())

    assert [message["command"] for message in socket.sent] == [
        "add-tenants-v1",
        "add-topics-v1",
        "subscribe-v1",
    ]
    assert socket.sent[0] == {
        "command": "add-tenants-v1",
        "clientSecret": "s",
        "accessTokens": ["access-token"],
    }


def test_a_failing_socket_is_reconnected_with_growing_backoff(monkeypatch):
    integration = IntegrationFactory()
    FortnoxConnectionFactory(tenant=integration.tenant)
    stop = threading.Event()
    attempts = []

    def refuse(url):
        attempts.append(url)
        if len(attempts) == 4:
            stop.set()
        raise ConnectionRefusedError("nobody listens")

    waits = []
    monkeypatch.setattr(stop, "wait", lambda seconds: waits.append(seconds))
    consumer = FortnoxEventConsumer(
        url="ws://x", connect=refuse, backoff_seconds=1, backoff_max_seconds=3
    )

    consumer.run(stop=stop)

    assert len(attempts) == 4
    # Full jitter between half and all of 1, 2, 3 (the cap) seconds.
    assert 0.5 <= waits[0] <= 1 and 1 <= waits[1] <= 2 and 1.5 <= waits[2] <= 3
    beat = Heartbeat.objects.get(name=HEARTBEAT)
    assert beat.details["connected"] is False
    assert beat.details["reconnects"] == 3
    assert events_health()["ok"] is False


def test_health_is_unknown_before_any_report_and_stale_after_a_minute():
    assert events_health()["ok"] is None
    Heartbeat.objects.create(
        name=HEARTBEAT,
        beat_at=timezone.now() - timedelta(minutes=2),
        details={"connected": True, "tenants": 1, "error": ""},
    )
    assert events_health()["ok"] is False
    Heartbeat.objects.filter(name=HEARTBEAT).update(beat_at=timezone.now())
    assert events_health()["ok"] is True


def test_healthz_reports_the_consumer(client):
    Heartbeat.objects.create(
        name=HEARTBEAT,
        beat_at=timezone.now(),
        details={"connected": False, "tenants": 0, "error": "ConnectionRefusedError: x"},
    )

    body = client.get("/healthz").json()

    assert body["events"]["ok"] is False
    assert body["events"]["error"] == "ConnectionRefusedError: x"
    assert body["status"] == "degraded"


# --- against the sandbox's protocol, in-process ------------------------------------------------


def test_the_consumer_subscribes_the_tenant_with_its_stored_offsets(small_world):
    tenant_id = FortnoxConnection.objects.get().fortnox_tenant_id
    FortnoxEventOffset.objects.create(fortnox_tenant_id=tenant_id, topic="orders", offset="x0")

    consumer, socket = consume()

    add_topics = next(m for m in socket.sent if m["command"] == "add-topics-v1")
    assert add_topics["topics"] == [
        {"topic": "articles", "offsets": {}},
        {"topic": "orders", "offsets": {str(tenant_id): "x0"}},
        {"topic": "suppliers", "offsets": {}},
    ]
    # Replayed from the start of the stream: every order the seed's invoicing touched.
    assert consumer.state.events > 0
    assert consumer.state.tenants == 1
    assert PendingSync.objects.filter(process=SALES_ORDERS).exists()
    assert FortnoxEventOffset.objects.get(topic="orders").offset != "x0"


def test_a_restarted_consumer_resumes_from_its_offsets_and_loses_nothing(small_world):
    world = small_world
    first, second = world.orders[:2]
    consume(actions=[lambda: store.order_write(world.company, {"Remarks": "A"}, key=first)])
    stored = FortnoxEventOffset.objects.get(topic="orders").offset
    PendingSync.objects.all().delete()

    # The consumer is down (killed) while the second order changes.
    store.order_write(world.company, {"Remarks": "B"}, key=second)
    consumer, _socket = consume()

    assert consumer.state.events == 1
    assert list(PendingSync.objects.values_list("object_ref", flat=True)) == [second]
    assert FortnoxEventOffset.objects.get(topic="orders").offset != stored


def test_duplicated_and_reordered_events_queue_each_object_once(small_world):
    world = small_world
    edits = [
        lambda: [
            store.order_write(world.company, {"Remarks": f"Ändrad {n}"}, key=number)
            for n, number in enumerate(world.orders[:3])
        ]
    ]

    def faulty(socket):
        socket.duplicate = True
        socket.reverse = True

    consumer, _socket = consume(actions=edits, socket_setup=faulty)

    assert consumer.state.events == 6
    rows = {row.object_ref: row.events for row in PendingSync.objects.all()}
    assert rows == dict.fromkeys(world.orders[:3], 2)


def test_a_dropped_socket_reconnects_and_misses_nothing(small_world, monkeypatch):
    world = small_world
    from tests.realtime.conftest import InProcessSocket

    stop = threading.Event()
    first = InProcessSocket(stop, idle_polls=10**6)
    first.actions.append(
        lambda: [
            store.order_write(world.company, {"Remarks": "Före avbrottet"}, key=number)
            for number in world.orders[:3]
        ]
    )
    first.fail_after = 1  # one event, then the line goes dead
    second = InProcessSocket(stop)
    sockets = iter([first, second])
    monkeypatch.setattr(stop, "wait", lambda seconds: None)
    consumer = FortnoxEventConsumer(
        url="ws://in-process",
        client_secret="sandbox-secret",
        connect=lambda url: next(sockets),
        recv_timeout=0,
    )

    consumer.run(stop=stop)

    assert first.closed and second.closed
    assert consumer.state.reconnects == 1
    assert sorted(PendingSync.objects.values_list("object_ref", flat=True)) == sorted(
        world.orders[:3]
    )
    # The event taken before the drop is not sent again: its offset was committed with it.
    assert sum(PendingSync.objects.values_list("events", flat=True)) == 3


def test_a_paused_integration_leaves_the_socket_and_its_events_are_not_taken(small_world):
    world = small_world

    def pause():
        Integration.objects.update(status=Integration.Status.PAUSED)

    def edit():
        store.order_write(world.company, {"Remarks": "Pausad"}, key=world.orders[0])

    consumer = FortnoxEventConsumer(
        url="ws://in-process",
        client_secret="sandbox-secret",
        recv_timeout=0,
        reconcile_seconds=0,
    )
    _consumer, socket = consume(actions=[pause, lambda: None, edit], consumer=consumer)

    assert {"command": "remove-tenants-v1", "tenantIds": [world.company.tenant_id]} in socket.sent
    assert consumer.state.tenants == 0
    assert not PendingSync.objects.exists()


def test_the_admin_dashboard_shows_the_event_stream(staff_client):
    Heartbeat.objects.create(
        name=HEARTBEAT,
        beat_at=timezone.now(),
        details={"connected": True, "tenants": 3, "lag_seconds": 0.4, "error": ""},
    )

    html = staff_client.get("/admin/").content.decode()

    assert "companies on the Fortnox event stream (lag 0.4 s, 0 objects waiting)" in html
    assert "Ongoing webhooks in 24 h (from 0 companies)" in html
