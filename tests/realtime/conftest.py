"""Both sandboxes in-process (the `world` of the process tests), cut down to a few orders, plus the
Fortnox event stream spoken through an in-process socket: the consumer's frames go to the
sandbox's own protocol object (fortnox.sandbox.events.Session) and its answers and events come
back, in the test's thread and transaction. tests/realtime/test_loopback.py runs the same over a
real WebSocket."""

import json
import threading
from collections import deque

import pytest

from fortnox.sandbox.events import Session
from fortnox.sandbox.models import SandboxRecord
from tests.fortnox.conftest import fortnox_settings, throttle  # noqa: F401 - fixtures
from tests.ongoing.processes.conftest import fake_clock, router, world  # noqa: F401 - fixtures
from tests.ongoing.processes.support import Kind, records


class InProcessSocket:
    """What websockets' sync client offers the consumer (send, recv with a timeout, a context
    manager), answered by a sandbox Session. After `idle_polls` empty receives in a row it sets
    `stop`, so a test can run the consumer's loop until everything queued has been taken."""

    def __init__(self, stop: threading.Event, *, idle_polls: int = 2):
        self.session = Session()
        self.stop = stop
        self.idle_polls = idle_polls
        self.idle = 0
        self.inbox: deque[str] = deque()
        self.sent: list[dict] = []
        self.closed = False
        self.duplicate = False
        self.reverse = False
        # Events received before the line goes dead (a dropped socket).
        self.fail_after: int | None = None
        self.events_received = 0
        # Called one at a time whenever the socket has nothing to give: changes a test makes while
        # the consumer is connected.
        self.actions: deque = deque()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True
        return False

    def send(self, raw: str) -> None:
        self.sent.append(json.loads(raw))
        self.inbox.append(json.dumps(self.session.command(raw)))

    def recv(self, timeout=None) -> str:
        if not self.inbox:
            events = self.session.due()
            if self.reverse:
                events.reverse()
            for event in events:
                self.inbox.append(json.dumps(event))
                if self.duplicate:
                    self.inbox.append(json.dumps(event))
        if self.fail_after is not None and self.events_received >= self.fail_after:
            raise ConnectionResetError("the socket was dropped")
        if not self.inbox and self.actions:
            self.actions.popleft()()
            raise TimeoutError
        if not self.inbox:
            self.idle += 1
            if self.idle >= self.idle_polls:
                self.stop.set()
            raise TimeoutError
        self.idle = 0
        message = self.inbox.popleft()
        self.events_received += '"topic"' in message
        return message


@pytest.fixture
def small_world(world):  # noqa: F811
    """The demo company cut down to four open confirmed orders and their articles."""
    orders = records(world, Kind.ORDER)
    open_confirmed = [
        number
        for number, order in orders.items()
        if order.get("Sent") and not (order.get("Cancelled") or order.get("InvoiceReference"))
    ]
    keep = sorted(open_confirmed, key=int)[:4]
    articles = {row["ArticleNumber"] for number in keep for row in orders[number]["OrderRows"]}
    company_records = SandboxRecord.objects.filter(company=world.company)
    company_records.filter(kind=Kind.ORDER).exclude(key__in=keep).delete()
    company_records.filter(kind=Kind.ARTICLE).exclude(key__in=articles).delete()
    world.orders = keep
    return world


def consume(*, socket_setup=None, actions=(), consumer=None):
    """One connection of the real consumer over an in-process socket, until the socket has been
    idle (every action done, every event taken); returns (consumer, socket)."""
    from realtime.services.fortnox_events import FortnoxEventConsumer, subscribers_wanted

    stop = threading.Event()
    socket = InProcessSocket(stop)
    # A deque is shared: what a dropped connection did not get to is left for the next one.
    socket.actions = actions if isinstance(actions, deque) else deque(actions)
    if socket_setup is not None:
        socket_setup(socket)
    consumer = consumer or FortnoxEventConsumer(
        url="ws://in-process/topics-v1",
        client_secret="sandbox-secret",
        recv_timeout=0,
        reconcile_seconds=0,
    )
    consumer.connect = lambda url: socket
    consumer.session(stop=stop, wanted=subscribers_wanted())
    return consumer, socket


class ClientSession:
    """requests.post for the warehouse sandbox's webhook sender, answered by Django's test client
    (the webhook URL is ours, on the test server)."""

    def __init__(self, client):
        self.client = client
        self.posts = []

    def post(self, url, *, json, headers, timeout, allow_redirects):
        from urllib.parse import urlsplit

        response = self.client.post(
            urlsplit(url).path,
            data=json,
            content_type="application/json",
            headers=headers,
        )
        self.posts.append((url, response.status_code))
        return response
