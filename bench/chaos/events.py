"""The event path under chaos (issue 11; `--events`): the real Fortnox event consumer and the real
event server over a real WebSocket, and the warehouse sandbox's webhooks posted to our receiver,
running beside the scheduled runs — with the socket dropped, the consumer SIGKILLed and restarted,
events duplicated and reordered, and webhooks lost. The end state must still be the clean run's.

Two forked processes live as long as a run:

- the event server: fortnox.sandbox.events.EventServer (what `manage.py sandbox_events` serves) on
  a free port, its faults set through the real knobs (`event_faults_set`, `event_sockets_drop`),
  which it reads from the cache — a file cache per run here, so parent and server share it. A
  counting wrapper around its socket tallies, in shared memory, the events it pushed, how many
  of them were a repeat on the same connection and how many came before an earlier one;
- the consumer: realtime.services.fortnox_events.FortnoxEventConsumer.run() (what
  `manage.py fortnox_events` runs), connected to that server. It is killed with SIGKILL at a
  chosen share of a backlog of events and started again, and resumes from its stored offsets.

Both read the run's simulated clock (shared memory), so event times, offsets' times, debounce
windows and token expiry all agree with the workers.

The warehouse's webhooks are delivered by its own sender (`webhooks_deliver_due`) to our receiver
view through Django's test client, in the harness's process; `GoodsOwner.webhook_loss_rate` loses a
share of them for good (never posted, never retried).

The targeted task (`realtime.tasks.integration_sync_objects`) is run by the harness's forked
workers, with the same faults and kills as the scheduled runs, whenever PendingSync rows exist and
no run holds the integration. Every event that queues a row also publishes one such task; each
takes every due row, so all but the first find nothing: the harness runs the task once per batch
and drops the other messages (it also never sees the consumer's, published in its own process) —
what a real worker would do with them is return at once. See runner.Operations.converge."""

import asyncio
import ctypes
import json
import multiprocessing
import os
import random
import signal
import socket
import sys
import time
import traceback
from urllib.parse import urlsplit

from django.db import connections
from django.db.models import Max
from django.test import Client

from fortnox.sandbox.events import (
    EventServer,
    event_faults_clear,
    event_faults_set,
    event_sockets_drop,
    offset_decode,
)
from fortnox.sandbox.models import SandboxEvent
from integrations.models import Heartbeat
from ongoing.models import OngoingConnection
from ongoing.sandbox.models import Webhook
from ongoing.sandbox.webhooks import webhooks_deliver_due
from realtime.models import PendingSync
from realtime.services.fortnox_events import HEARTBEAT, subscribers_wanted
from realtime.services.webhooks import webhook_endpoint_for, webhook_url

from .faults import EventPlan

# How long the harness waits for the consumer to take a backlog: it gives up when no event was
# taken for STALL seconds (a consumer that started at the newest event never gets the older
# ones: the scheduled run is the safety net), or after PATIENCE seconds in all.
STALL = 15.0
PATIENCE = 600.0
POLL = 0.02
# A fault is struck only in a backlog of at least this many events.
MIN_BACKLOG = 1
MAX_EVENT_ID = 1 << 23
TAKEN = 1
GIVEN_UP = 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _fork(target) -> int:
    """Run `target()` in a child process that exits when it returns (or raises)."""
    connections.close_all()  # the child opens its own database connections
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            target()
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return pid


class PushCounts:
    """What the event server pushed, in shared memory: events, repeats of an event on the same
    connection, and events pushed after a later one of the same topic (out of order)."""

    FIELDS = ("pushed", "duplicates", "out_of_order", "subscribed")

    def __init__(self):
        self.store = multiprocessing.RawArray(ctypes.c_long, len(self.FIELDS))

    def add(self, field: str) -> None:
        self.store[self.FIELDS.index(field)] += 1

    def snapshot(self) -> dict[str, int]:
        return {field: self.store[index] for index, field in enumerate(self.FIELDS)}


class _CountingSocket:
    """The server's connection, counting the events that go out on it."""

    def __init__(self, socket, counts: PushCounts):
        self._socket = socket
        self._counts = counts
        self._seen: set[tuple[str, str, str]] = set()
        self._last: dict[tuple[str, str], int] = {}

    def __getattr__(self, name):
        return getattr(self._socket, name)

    def __aiter__(self):
        return self._socket.__aiter__()

    async def send(self, raw):
        message = json.loads(raw)
        if "topic" in message and "offset" in message:
            key = (str(message.get("tenantId")), message["topic"], message["offset"])
            self._counts.add("pushed")
            if key in self._seen:
                self._counts.add("duplicates")
            else:
                number = offset_decode(message["offset"]) or 0
                stream = key[:2]
                if number < self._last.get(stream, 0):
                    self._counts.add("out_of_order")
                self._last[stream] = max(number, self._last.get(stream, 0))
            self._seen.add(key)
        await self._socket.send(raw)


class _CountingServer(EventServer):
    def __init__(self, counts: PushCounts, **kwargs):
        super().__init__(**kwargs)
        self.counts = counts

    async def handler(self, socket) -> None:
        await super().handler(_CountingSocket(socket, self.counts))

    def _command(self, session, raw) -> dict:
        reply = EventServer._command(session, raw)
        if reply.get("response") == "subscribe-v1" and reply.get("result") == "ok":
            self.counts.add("subscribed")
        return reply


class WebhookSession:
    """What `webhooks_deliver_due` posts with (requests' `post`), answered by our receiver view
    through Django's test client: the webhook URL is ours."""

    def __init__(self):
        self.client = Client()
        self.statuses: dict[int, int] = {}

    def post(self, url, *, json, headers, timeout, allow_redirects):
        response = self.client.post(
            urlsplit(url).path, data=json, content_type="application/json", headers=headers
        )
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response


class EventPath:
    """The event server, the consumer and the webhooks of one run (see the module docstring)."""

    def __init__(self, *, world, plan: EventPlan, seed: int, phases: int):
        self.world = world
        self.plan = plan
        self.rng = random.Random(f"event-faults:{seed}")
        self.phases = phases
        self.counts = PushCounts()
        self.server_pid: int | None = None
        self.consumer_pid: int | None = None
        self.port = 0
        self.session = WebhookSession()
        self.baseline: dict[str, int] = {}
        self.topics: list[str] = []
        self.kills = 0
        self.drops = 0
        self.consumer_starts = 0
        self.consumer_deaths = 0  # died without being killed by us
        self.gave_up = 0
        self.stages = 0
        self.targeted_runs = 0
        self.targeted_skipped_busy = 0
        self.targeted_messages_dropped = 0
        self.kills_left = plan.consumer_kills
        self.drops_left = plan.socket_drops
        self.kills_now = self.drops_now = 0
        self.subscriptions_before = 0
        # Per event id: TAKEN once the consumer queued its sync, GIVEN_UP when the harness
        # stopped waiting for it; `frontier`: every id up to it is one or the other.
        self.taken = multiprocessing.RawArray(ctypes.c_byte, MAX_EVENT_ID)
        self.frontier = 0
        self.never_taken = 0
        self.never_taken_by_topic: dict[str, int] = {}

    # --- start and stop ---------------------------------------------------------------------

    def start(self) -> None:
        goods_owner = self.world.goods_owner
        connection = OngoingConnection.objects.get(tenant=self.world.integration.tenant)
        endpoint = webhook_endpoint_for(connection=connection)
        goods_owner.webhook_url = webhook_url(endpoint=endpoint)
        goods_owner.webhook_token = endpoint.secret
        goods_owner.webhook_loss_rate = self.plan.webhook_loss_rate
        goods_owner.save(update_fields=["webhook_url", "webhook_token", "webhook_loss_rate"])
        event_faults_clear()
        if self.plan.duplicate_rate or self.plan.reorder:
            event_faults_set(duplicate_rate=self.plan.duplicate_rate, reorder=self.plan.reorder)
        tenant_id = self.world.company.tenant_id
        subscriber = subscribers_wanted().get(tenant_id)
        if subscriber is None:
            raise RuntimeError("The company wants no Fortnox events: no process needs them.")
        self.topics = sorted(subscriber.topics)
        self.baseline = self._latest()
        self.frontier = max(self.baseline.values(), default=0)
        self.port = free_port()
        self.server_pid = _fork(self._serve)
        self._wait_for_port()
        self._start_consumer()
        self._wait("the consumer to connect", self._connected)

    def _connected(self) -> bool:
        details = Heartbeat.objects.filter(name=HEARTBEAT).values_list("details", flat=True).first()
        return bool(details and details.get("connected") and details.get("tenants") == 1)

    def stop(self) -> None:
        for pid in (self.consumer_pid, self.server_pid):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
        self.consumer_pid = self.server_pid = None
        event_faults_clear()

    def _serve(self) -> None:
        server = _CountingServer(self.counts, poll_seconds=0.05)
        asyncio.run(server.serve(host="127.0.0.1", port=self.port))

    def _consume(self) -> None:
        import threading

        from realtime.services.fortnox_events import FortnoxEventConsumer

        taken = self.taken

        class Consumer(FortnoxEventConsumer):
            """The real consumer, telling the harness (shared memory) which events it took."""

            def event(self, event: dict) -> None:
                before = self.state.events
                super().event(event)
                number = offset_decode(event.get("offset"))
                if self.state.events > before and number is not None and number < MAX_EVENT_ID:
                    taken[number] = TAKEN

        consumer = Consumer(
            url=f"ws://127.0.0.1:{self.port}/topics-v1",
            client_secret="sandbox-secret",
            recv_timeout=0.1,
            reconcile_seconds=2.0,
            heartbeat_seconds=0.5,
            backoff_seconds=0.05,
            backoff_max_seconds=0.5,
        )
        consumer.run(stop=threading.Event())

    def _start_consumer(self) -> None:
        self.subscriptions_before = self.counts.snapshot()["subscribed"]
        self.consumer_pid = _fork(self._consume)
        self.consumer_starts += 1

    def _subscribed(self) -> bool:
        """Whether the consumer has subscribed again since it was last started or its socket
        was dropped."""
        return self.counts.snapshot()["subscribed"] > self.subscriptions_before

    def _wait_for_port(self) -> None:
        def listening():
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", self.port)) == 0

        self._wait("the event server", listening)

    def _wait(self, what: str, test, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_children()
            if test():
                return
            time.sleep(0.05)
        raise RuntimeError(f"Timed out waiting for {what}.")

    def _check_children(self) -> None:
        if self.server_pid and os.waitpid(self.server_pid, os.WNOHANG)[0]:
            self.server_pid = None
            raise RuntimeError("The event server stopped.")
        if self.consumer_pid and os.waitpid(self.consumer_pid, os.WNOHANG)[0]:
            self.consumer_deaths += 1
            self._start_consumer()

    # --- where the stream stands ------------------------------------------------------------

    def _latest(self) -> dict[str, int]:
        found = dict(
            SandboxEvent.objects.filter(company=self.world.company, topic__in=self.topics)
            .values_list("topic")
            .annotate(top=Max("id"))
            .values_list("topic", "top")
        )
        return {topic: found.get(topic) or 0 for topic in self.topics}

    def behind(self) -> int:
        """Events of the subscribed topics since the consumer first connected that it has not
        taken (nor the harness given up on). Stored offsets cannot say it: with the batches
        reversed, the last event taken is the oldest of its batch."""
        ids = list(
            SandboxEvent.objects.filter(
                company=self.world.company, topic__in=self.topics, id__gt=self.frontier
            )
            .order_by("id")
            .values_list("id", flat=True)
        )
        missing = [number for number in ids if not self.taken[number]]
        self.frontier = (missing[0] - 1) if missing else (ids[-1] if ids else self.frontier)
        return len(missing)

    def _give_up(self) -> None:
        """Events the consumer will never take (it resumed past them, or started at the newest
        for a topic it had no offset for): the scheduled run is their safety net."""
        for number in SandboxEvent.objects.filter(
            company=self.world.company, topic__in=self.topics, id__gt=self.frontier
        ).values_list("id", flat=True):
            if not self.taken[number]:
                self.taken[number] = GIVEN_UP
                self.never_taken += 1
                topic = SandboxEvent.objects.get(pk=number).topic
                self.never_taken_by_topic[topic] = self.never_taken_by_topic.get(topic, 0) + 1

    # --- the phases -------------------------------------------------------------------------

    def before_play(self, *, phase_index: int) -> None:
        """In a faulty run, the consumer is SIGKILLed before the first wave's changes are made,
        so they pile up while it is down; the first stage restarts it. Its other kills, and the
        dropped sockets, strike while it works through a backlog."""
        self._budget(phase_index)
        if phase_index == 1 and self.kills_now:
            self._kill()
            self.kills_now -= 1

    def _budget(self, phase_index: int) -> None:
        phases_left = max(1, self.phases - max(1, phase_index))
        if not phase_index:
            self.kills_now = self.drops_now = 0
            return
        self.kills_now = -(-self.kills_left // phases_left) if self.kills_left else 0
        self.drops_now = -(-self.drops_left // phases_left) if self.drops_left else 0

    def stage(self, *, first_of_phase: bool) -> None:
        """Deliver the webhooks that are due, then wait until the consumer has taken every event
        (or stalled). At a phase's first stage of a faulty run, the consumer is started again
        if it was killed, and the socket dropped and the consumer killed at seeded shares of the
        backlog, as budgeted."""
        self.stages += 1
        self._deliver_webhooks()
        if self.consumer_pid is None:
            self._start_consumer()
        backlog = self.behind()
        strikes: list[tuple[int, str]] = []
        if first_of_phase and backlog < MIN_BACKLOG and self.drops_now and self._subscribed():
            # The consumer took the phase's first events before they could be counted (it can
            # outrun a loaded harness): one socket is dropped on the idle connection instead, as
            # real ones also are; the phase's other strikes wait for a backlog.
            self._strike("drop")
            self.drops_now -= 1
        if backlog >= MIN_BACKLOG and (self.kills_now or self.drops_now):
            for kind, number in (("kill", self.kills_now), ("drop", self.drops_now)):
                for _ in range(number):
                    # Struck when this many events are still to be taken.
                    strikes.append((int(backlog * self.rng.uniform(0.2, 0.8)), kind))
            self.kills_now = self.drops_now = 0
        strikes.sort(reverse=True)
        started = changed = time.monotonic()
        last, pushed = backlog, self.counts.snapshot()["pushed"]
        while last > 0 or strikes:
            self._check_children()
            if strikes and last <= strikes[0][0] and self._subscribed():
                # (Only on a live connection: a socket dropped or a consumer killed while it
                # is still connecting would test nothing more.)
                _at, kind = strikes.pop(0)
                self._strike(kind)
                continue
            waited = time.monotonic() - changed
            if (waited > STALL and self._subscribed()) or time.monotonic() - started > PATIENCE:
                self.gave_up += 1
                self._give_up()
                strikes = []
                break
            time.sleep(POLL)
            now_behind, now_pushed = self.behind(), self.counts.snapshot()["pushed"]
            if (now_behind, now_pushed) != (last, pushed) or not self._subscribed():
                # Progress, or a consumer still (re)connecting: not a stall.
                last, pushed, changed = now_behind, now_pushed, time.monotonic()
        # A redelivered webhook or an event taken just now may have more to deliver.
        self._deliver_webhooks()

    def _kill(self) -> None:
        os.kill(self.consumer_pid, signal.SIGKILL)
        os.waitpid(self.consumer_pid, 0)
        self.consumer_pid = None
        self.kills += 1
        self.kills_left -= 1

    def _strike(self, kind: str) -> None:
        if kind == "kill":
            self._kill()
            self._start_consumer()
        else:
            self.subscriptions_before = self.counts.snapshot()["subscribed"]
            event_sockets_drop()
            self.drops += 1
            self.drops_left -= 1

    def _deliver_webhooks(self) -> None:
        for _ in range(1000):
            if not webhooks_deliver_due(session=self.session):
                break

    def pending(self) -> bool:
        return PendingSync.objects.filter(integration=self.world.integration).exists()

    def due_at(self) -> float | None:
        latest = (
            PendingSync.objects.filter(integration=self.world.integration)
            .aggregate(top=Max("due_at"))
            .get("top")
        )
        return latest.timestamp() if latest else None

    # --- figures ----------------------------------------------------------------------------

    def figures(self) -> dict:
        goods_owner = self.world.goods_owner
        webhooks = Webhook.objects.filter(goods_owner=goods_owner)
        emitted = sum(
            SandboxEvent.objects.filter(
                company=self.world.company, topic=topic, id__gt=self.baseline.get(topic, 0)
            ).count()
            for topic in self.topics
        )
        return {
            "plan": {
                "duplicate_rate": self.plan.duplicate_rate,
                "reorder": self.plan.reorder,
                "webhook_loss_rate": self.plan.webhook_loss_rate,
            },
            "topics": self.topics,
            "events emitted": emitted,
            "server": self.counts.snapshot(),
            "socket drops": self.drops,
            "consumer kills": self.kills,
            "consumer starts": self.consumer_starts,
            "consumer deaths (not ours)": self.consumer_deaths,
            "waits given up": self.gave_up,
            "events never taken": self.never_taken,
            "events never taken by topic": self.never_taken_by_topic,
            "stages": self.stages,
            "webhooks owed": webhooks.count(),
            "webhooks lost": webhooks.filter(last_status="lost (fault injection)").count(),
            "webhooks delivered": webhooks.filter(delivered_at__isnull=False).count(),
            "webhook answers": {str(k): v for k, v in sorted(self.session.statuses.items())},
            "targeted runs": self.targeted_runs,
            "targeted runs left to a later moment (a killed run held the integration)": (
                self.targeted_skipped_busy
            ),
            "targeted task messages dropped": self.targeted_messages_dropped,
            "pending at the end": PendingSync.objects.filter(
                integration=self.world.integration
            ).count(),
        }
