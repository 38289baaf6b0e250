"""The Fortnox event consumer: one WebSocket (reference/fortnox-api.md, "Events") for every active
tenant whose enabled processes want Fortnox's changes. Each event queues a targeted sync of its
object and, in the same transaction, stores the event's offset for its tenant and topic, so a
restart resumes from there: at least once, never lost, duplicates harmless (the pending row and
the processes' fingerprints absorb them).

What the reference leaves open about the protocol is UNVERIFIED and decided in three functions
below, one comment each (add_topics_command, remove_tenants_command, tokens_refused); the sandbox
(fortnox/sandbox/events.py) answers the same way. Offsets are opaque strings throughout."""

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from fortnox.errors import FortnoxError
from fortnox.models import FortnoxConnection
from fortnox.services.tokens import connection_access_token, connection_token_refresh
from integrations.http import UnreadableBody, json_body
from integrations.models import Heartbeat, Integration, ProcessSetting
from integrations.processes import ARTICLES, SALES_ORDERS, SUPPLIERS
from integrations.processes import registry as default_registry
from ongoing.processes.articles import SUPPLIER_REF

from ..models import FortnoxEventOffset
from .pending import pending_sync_request, targeted_run_queue

logger = logging.getLogger(__name__)

HEARTBEAT = "fortnox_events"
SOURCE = "fortnox"
# Which topic each process needs; a tenant is subscribed when any of its processes needs one.
PROCESS_TOPICS = {SALES_ORDERS: "orders", ARTICLES: "articles", SUPPLIERS: "suppliers"}
TOPIC_ORDER = ("articles", "orders", "suppliers")
# An entity id names an article, order or supplier in our records and the next request's path: a
# number or a short printable text, as Fortnox's own are. Offsets and topics fit their columns.
MAX_ENTITY_LENGTH = 50
MAX_OFFSET_LENGTH = 100
MAX_TOPIC_LENGTH = 40


def _text_id(value, *, max_length: int) -> str | None:
    """A number or a short printable text, as text; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value).strip()
    if not text or len(text) > max_length or not text.isprintable():
        return None
    return text


@dataclass(frozen=True)
class Subscriber:
    """One Fortnox tenant on the socket: whose integration it is and what it wants."""

    fortnox_tenant_id: int
    integration_id: int
    connection_id: int
    processes: frozenset[str]

    @property
    def topics(self) -> set[str]:
        return {PROCESS_TOPICS[key] for key in self.processes if key in PROCESS_TOPICS}


# --- the protocol beyond the reference: each UNVERIFIED decision in one place -------------------


def add_topics_command(offsets_by_topic: dict[str, dict[int, str | None]]) -> dict:
    """UNVERIFIED: how each tenant resumes from its own offset. The reference shows add-topics-v1
    as topics [{"topic"}] and says events are replayable by offset, not how a consumer with many
    tenants names theirs. Decided: each topic carries "offsets" {"<tenantId>": offset} for the
    tenants that have one; the stream sends their events after that offset, and a tenant without
    one starts at the newest. `offsets_by_topic` is {topic: {tenant id: offset or None}}; should
    Fortnox want one offset per topic and tenant in another form, only this changes."""
    return {
        "command": "add-topics-v1",
        "topics": [
            {
                "topic": topic,
                "offsets": {
                    str(tenant): offset for tenant, offset in tenants.items() if offset is not None
                },
            }
            for topic, tenants in offsets_by_topic.items()
        ],
    }


def remove_tenants_command(tenant_ids: list[int]) -> dict:
    """UNVERIFIED: the reference names no command that drops a tenant from the connection.
    Decided: remove-tenants-v1 {"tenantIds": [tenant id, …]}. Were there none, a paused or
    disconnected tenant would leave by reconnecting without it (events still arriving for it
    meanwhile are ignored by `event`, as they are for a tenant removed a moment ago)."""
    return {"command": "remove-tenants-v1", "tenantIds": tenant_ids}


def tokens_refused(answer: dict) -> list[int]:
    """UNVERIFIED: the shape of add-tenants-v1's answer, shown in the reference as
    {"tenantIds": {…}, "invalidTokens": […]}. Decided: tenantIds maps the index of each accepted
    token in the command's accessTokens (as a string) to its tenant id, and invalidTokens lists the
    indexes of the refused ones. Returns those indexes; the consumer remembers which tenant each
    index was, so tenantIds is not needed."""
    refused = answer.get("invalidTokens") or []
    return [index for index in refused if isinstance(index, int) and not isinstance(index, bool)]


def event_targets(event: dict, processes: frozenset[str]) -> list[tuple[str, str]]:
    """(process, object reference) pairs an event asks to sync. Deletions are left alone: no
    process removes an object from the warehouse."""
    topic, kind = event.get("topic"), str(event.get("type") or "")
    entity = _text_id(event.get("entityId"), max_length=MAX_ENTITY_LENGTH)
    if entity is None or kind.endswith("-deleted-v1"):
        return []
    targets = []
    if topic == "orders" and SALES_ORDERS in processes:
        targets.append((SALES_ORDERS, entity))
    elif topic == "articles" and ARTICLES in processes:
        targets.append((ARTICLES, entity))
    elif topic == "suppliers" and SUPPLIERS in processes:
        targets.append((SUPPLIERS, entity))
        if ARTICLES in processes:
            targets.append((ARTICLES, f"{SUPPLIER_REF}{entity}"))
    return targets


def subscribers_wanted(*, registry=default_registry) -> dict[int, Subscriber]:
    """Active integrations with an active Fortnox connection whose enabled processes need events,
    by Fortnox tenant id: three queries whatever the number of tenants."""
    rows = list(
        Integration.objects.filter(
            status=Integration.Status.ACTIVE,
            tenant__fortnox_connection__status=FortnoxConnection.Status.ACTIVE,
        ).values_list(
            "pk", "tenant__fortnox_connection__fortnox_tenant_id", "tenant__fortnox_connection__pk"
        )
    )
    stored: dict[int, dict[str, bool]] = {}
    for integration_id, process, enabled in ProcessSetting.objects.filter(
        integration_id__in=[row[0] for row in rows], process__in=list(PROCESS_TOPICS)
    ).values_list("integration_id", "process", "enabled"):
        stored.setdefault(integration_id, {})[process] = enabled
    wanted = {}
    for integration_id, tenant_id, connection_id in rows:
        switches = stored.get(integration_id, {})
        processes = frozenset(
            process.key
            for process in registry.offered()
            if process.key in PROCESS_TOPICS and switches.get(process.key, process.default_enabled)
        )
        if processes:
            wanted[tenant_id] = Subscriber(tenant_id, integration_id, connection_id, processes)
    return wanted


def offsets_stored(*, tenant_ids) -> dict[int, dict[str, str]]:
    offsets: dict[int, dict[str, str]] = {}
    for tenant_id, topic, offset in FortnoxEventOffset.objects.filter(
        fortnox_tenant_id__in=list(tenant_ids)
    ).values_list("fortnox_tenant_id", "topic", "offset"):
        offsets.setdefault(tenant_id, {})[topic] = offset
    return offsets


def event_take(*, subscriber: Subscriber, event: dict) -> bool:
    """Queue the event's targeted syncs and store its offset, in one transaction: the offset is
    committed only with the work it stands for. Returns whether a run was queued."""
    now = timezone.now()
    queued = False
    with transaction.atomic():
        for process, ref in event_targets(event, subscriber.processes):
            if pending_sync_request(
                integration_id=subscriber.integration_id,
                process=process,
                object_ref=ref,
                source=SOURCE,
                now=now,
            ):
                queued = True
        FortnoxEventOffset.objects.update_or_create(
            fortnox_tenant_id=subscriber.fortnox_tenant_id,
            topic=str(event["topic"])[:40],
            defaults={"offset": str(event["offset"])[:100], "event_at": _event_time(event)},
        )
        if queued:
            targeted_run_queue(integration_id=subscriber.integration_id)
    return queued


def _event_time(event: dict) -> datetime | None:
    value = event.get("timestamp")
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible, e.g. month 13
        parsed = None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
    return parsed


def _fresh_connection() -> None:
    """A long-running process drops a database connection that broke or outlived CONN_MAX_AGE,
    as Django does around each request; never inside a transaction (a test's)."""
    if not connection.in_atomic_block:
        close_old_connections()


class ConsumerStopped(Exception):
    """The server refused us (wrong client secret, a malformed command): reconnect later."""


def _default_connect(url: str):
    from websockets.sync.client import connect

    return connect(url, open_timeout=10, close_timeout=2, max_size=2**20)


@dataclass
class ConsumerState:
    """What /healthz and the dashboard show about the consumer."""

    connected: bool = False
    connected_since: datetime | None = None
    tenants: int = 0
    topics: list[str] = field(default_factory=list)
    last_event_at: datetime | None = None
    lag_seconds: float | None = None
    events: int = 0
    reconnects: int = 0
    error: str = ""

    def details(self) -> dict:
        return {
            "connected": self.connected,
            "connected_since": self.connected_since.isoformat() if self.connected_since else None,
            "tenants": self.tenants,
            "topics": self.topics,
            "last_event_at": self.last_event_at.isoformat() if self.last_event_at else None,
            "lag_seconds": self.lag_seconds,
            "events": self.events,
            "reconnects": self.reconnects,
            "error": self.error,
        }


class FortnoxEventConsumer:
    def __init__(
        self,
        *,
        url: str | None = None,
        client_secret: str | None = None,
        connect: Callable = _default_connect,
        reconcile_seconds: float = 5.0,
        heartbeat_seconds: float = 5.0,
        recv_timeout: float = 0.5,
        backoff_seconds: float = 1.0,
        backoff_max_seconds: float = 60.0,
    ):
        self.url = url or settings.FORTNOX_EVENTS_URL
        self.client_secret = client_secret or settings.FORTNOX_CLIENT_SECRET
        self.connect = connect
        self.reconcile_seconds = reconcile_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.recv_timeout = recv_timeout
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.state = ConsumerState()
        self.subscribers: dict[int, Subscriber] = {}
        # Tokens Fortnox refused, by tenant: refreshed before the tenant is added again.
        self.rejected: dict[int, str] = {}
        self._sent_tokens: list[tuple[int, str]] = []
        # Commands sent and not yet answered: none means Fortnox has every subscription we asked
        # for (it answers in order).
        self.unanswered = 0
        self._heartbeat_at = 0.0

    # --- the loop ---------------------------------------------------------------------------

    def run(self, *, stop: threading.Event) -> None:
        """Until `stop` is set: connect, consume, and on any failure reconnect with exponential
        backoff (full jitter), starting over from the stored offsets."""
        failures = 0
        while not stop.is_set():
            _fresh_connection()
            try:
                wanted = subscribers_wanted()
                if not wanted:
                    self._disconnected(error="")
                    stop.wait(self.reconcile_seconds)
                    continue
                got_events = self.session(stop=stop, wanted=wanted)
                failures = 0 if got_events else failures
            except Exception as error:
                logger.warning("fortnox events: %s: %s", error.__class__.__name__, error)
                self.state.error = f"{error.__class__.__name__}: {error}"[:300]
            if stop.is_set():
                break
            failures += 1
            self.state.reconnects += 1
            self._disconnected(error=self.state.error)
            delay = min(self.backoff_max_seconds, self.backoff_seconds * 2 ** (failures - 1))
            stop.wait(random.uniform(delay / 2, delay))  # noqa: S311 - jitter, not security
        self._disconnected(error="stopped")

    def session(self, *, stop: threading.Event, wanted: dict[int, Subscriber]) -> bool:
        """One connection, until it fails or `stop` is set; True when events arrived on it."""
        self.subscribers = {}
        self.unanswered = 0
        events_before = self.state.events
        with self.connect(self.url) as socket:
            self.state.connected = True
            self.state.connected_since = timezone.now()
            self.state.error = ""
            self._add(socket, wanted)
            self._send(socket, {"command": "subscribe-v1"})
            self._beat(force=True)
            reconciled = time.monotonic()
            while not stop.is_set():
                try:
                    raw = socket.recv(timeout=self.recv_timeout)
                except TimeoutError:
                    raw = None
                if raw is not None:
                    self.message(raw)
                if time.monotonic() - reconciled >= self.reconcile_seconds:
                    self._reconcile(socket)
                    reconciled = time.monotonic()
                self._beat()
        return self.state.events > events_before

    # --- tenants and topics -----------------------------------------------------------------

    def _add(self, socket, wanted: dict[int, Subscriber]) -> None:
        """add-tenants-v1 with a fresh access token each, then add-topics-v1 with each tenant's
        stored offsets. A tenant whose token cannot be had now is tried at the next reconcile."""
        tokens, adding = [], []
        for subscriber in wanted.values():
            try:
                tokens.append(self._token(subscriber))
            except FortnoxError as error:
                logger.info(
                    "fortnox events: tenant %s left out: %s", subscriber.fortnox_tenant_id, error
                )
                continue
            adding.append(subscriber)
        if not adding:
            return
        self._send(
            socket,
            {
                "command": "add-tenants-v1",
                "clientSecret": self.client_secret,
                "accessTokens": tokens,
            },
        )
        self._sent_tokens = [
            (s.fortnox_tenant_id, token) for s, token in zip(adding, tokens, strict=True)
        ]
        for subscriber in adding:
            self.subscribers[subscriber.fortnox_tenant_id] = subscriber
        offsets = offsets_stored(tenant_ids=[s.fortnox_tenant_id for s in adding])
        topics = {
            topic: {
                s.fortnox_tenant_id: offsets.get(s.fortnox_tenant_id, {}).get(topic)
                for s in adding
                if topic in s.topics
            }
            for topic in TOPIC_ORDER
        }
        topics = {topic: tenants for topic, tenants in topics.items() if tenants}
        if topics:
            self._send(socket, add_topics_command(topics))
        self._counted()

    def _send(self, socket, command: dict) -> None:
        socket.send(json.dumps(command))
        self.unanswered += 1

    def _token(self, subscriber: Subscriber) -> str:
        """The connection's access token; a new one when Fortnox refused this one (expired or
        revoked early), as the API client does after a 401."""
        rejected = self.rejected.pop(subscriber.fortnox_tenant_id, "")
        if rejected:
            return connection_token_refresh(
                connection_id=subscriber.connection_id, rejected_access_token=rejected
            )
        return connection_access_token(connection_id=subscriber.connection_id)

    def _reconcile(self, socket) -> None:
        """Tenants that activated, reactivated or changed processes are added; those that paused,
        disconnected or need reactivation are removed."""
        _fresh_connection()
        wanted = subscribers_wanted()
        gone = [
            tenant
            for tenant, subscriber in self.subscribers.items()
            if wanted.get(tenant) is None
            or wanted[tenant].connection_id != subscriber.connection_id
        ]
        if gone:
            self._send(socket, remove_tenants_command(gone))
            for tenant in gone:
                self.subscribers.pop(tenant, None)
        changed = {
            tenant: subscriber
            for tenant, subscriber in wanted.items()
            if tenant in self.subscribers and self.subscribers[tenant] != subscriber
        }
        for tenant, subscriber in changed.items():
            # New processes may want a topic the socket does not carry for this tenant yet.
            if subscriber.topics - self.subscribers[tenant].topics:
                self.subscribers.pop(tenant)
            else:
                self.subscribers[tenant] = subscriber
        new = {t: s for t, s in wanted.items() if t not in self.subscribers}
        if new:
            self._add(socket, new)
        self._counted()

    def _topics(self) -> set[str]:
        return {topic for s in self.subscribers.values() for topic in s.topics}

    def _counted(self) -> None:
        self.state.tenants = len(self.subscribers)
        self.state.topics = sorted(self._topics())

    # --- messages ---------------------------------------------------------------------------

    def message(self, raw) -> None:
        try:
            message = json_body(raw.encode() if isinstance(raw, str) else raw)
        except UnreadableBody as unreadable:
            logger.warning("fortnox events: a frame that is %s was ignored", unreadable)
            return
        if not isinstance(message, dict):
            return
        if "response" in message:
            self._response(message)
        elif "topic" in message and "offset" in message:
            self.event(message)

    def _response(self, message: dict) -> None:
        self.unanswered = max(0, self.unanswered - 1)
        if message.get("result") != "ok":
            raise ConsumerStopped(
                f"{message.get('response')}: {message.get('message') or message.get('result')}"
            )
        if message.get("response") == "add-tenants-v1":
            # Tokens refused (expired or revoked early): those tenants leave, and the next
            # reconcile adds them again with a refreshed token.
            for index in tokens_refused(message):
                if 0 <= index < len(self._sent_tokens):
                    tenant, token = self._sent_tokens[index]
                    self.rejected[tenant] = token
                    self.subscribers.pop(tenant, None)
            self._counted()

    def event(self, event: dict) -> None:
        try:
            tenant = int(event.get("tenantId"))
        except (TypeError, ValueError):
            return
        subscriber = self.subscribers.get(tenant)
        if subscriber is None:
            return  # a tenant removed a moment ago: not ours any more
        topic = _text_id(event.get("topic"), max_length=MAX_TOPIC_LENGTH)
        offset = _text_id(event.get("offset"), max_length=MAX_OFFSET_LENGTH)
        if topic is None or offset is None:
            # Nothing to resume from: the scheduled run still finds whatever it was about.
            logger.warning("fortnox events: an event without a usable topic or offset was skipped")
            return
        event_take(subscriber=subscriber, event={**event, "topic": topic, "offset": offset})
        now = timezone.now()
        self.state.events += 1
        self.state.last_event_at = now
        at = _event_time(event)
        self.state.lag_seconds = round((now - at).total_seconds(), 3) if at else None

    # --- health -----------------------------------------------------------------------------

    def _disconnected(self, *, error: str) -> None:
        self.state.connected = False
        self.state.connected_since = None
        self.state.error = error
        self.subscribers = {}
        self._counted()
        self._beat(force=True)

    def _beat(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._heartbeat_at < self.heartbeat_seconds:
            return
        self._heartbeat_at = time.monotonic()
        Heartbeat.objects.update_or_create(
            name=HEARTBEAT, defaults={"beat_at": timezone.now(), "details": self.state.details()}
        )
