"""The emulated Fortnox event stream (wss://ws.fortnox.se/topics-v1, reference/fortnox-api.md,
"Events"), served by `manage.py sandbox_events` on its own port: WSGI cannot hold a WebSocket.

The store writes a SandboxEvent in the same transaction as each change; this server pushes them to
every connection subscribed to the company and topic, in order, from the offset a client asks for
(replay) or from the newest. What the reference leaves open (UNVERIFIED) is decided once, on the
client's side, and answered the same way here: per-tenant `offsets` in add-topics-v1
(realtime.services.fortnox_events.add_topics_command), remove-tenants-v1 (remove_tenants_command)
and the shape of add-tenants-v1's answer (tokens_refused).

Faults for the chaos tests (`event_faults_set`): duplicate a share of events, reverse the order of
each batch, and drop every open socket at once."""

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import close_old_connections
from django.db.models import Max, Q
from django.utils.crypto import constant_time_compare

from . import clock
from .auth import access_token_claims
from .models import SandboxApp, SandboxCompany, SandboxEvent

logger = logging.getLogger(__name__)

TOPICS = ("articles", "orders", "suppliers", "invoices")
PUSH_BATCH = 200
# Events are replayable for about two weeks, as Fortnox's.
KEEP = timedelta(days=14)
FAULTS_KEY = "fortnox-sandbox:event-faults"


# --- faults, shared through the cache with whoever drives the chaos --------------------------


def event_faults() -> dict:
    return cache.get(FAULTS_KEY) or {}


def event_faults_set(*, duplicate_rate: float = 0.0, reorder: bool = False) -> None:
    faults = event_faults()
    faults.update(duplicate_rate=duplicate_rate, reorder=reorder)
    cache.set(FAULTS_KEY, faults, timeout=None)


def event_sockets_drop() -> None:
    """Every socket open now is dropped (as a network cut would); clients reconnect."""
    faults = event_faults()
    faults["drop_before"] = time.time()
    cache.set(FAULTS_KEY, faults, timeout=None)


def event_faults_clear() -> None:
    cache.delete(FAULTS_KEY)


# --- offsets --------------------------------------------------------------------------------


def offset_encode(event_id: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        event_id, rest = divmod(event_id, 36)
        text = digits[rest] + text
        if not event_id:
            return "x" + text


def offset_decode(offset) -> int | None:
    if not isinstance(offset, str) or not offset.startswith("x") or len(offset) > 20:
        return None
    try:
        return int(offset[1:], 36)
    except ValueError:
        return None


def event_json(event: SandboxEvent, tenant_id: int) -> dict:
    return {
        "topic": event.topic,
        "offset": offset_encode(event.pk),
        "type": event.type,
        "tenantId": tenant_id,
        "entityId": event.entity_id,
        "timestamp": event.created_at.isoformat(),
    }


# --- one client's session -------------------------------------------------------------------


class CommandError(Exception):
    pass


@dataclass
class Session:
    opened_at: float = field(default_factory=time.time)
    # Fortnox tenant id → SandboxCompany pk
    tenants: dict[int, int] = field(default_factory=dict)
    topics: set[str] = field(default_factory=set)
    # (company pk, topic) → id of the last event sent
    cursors: dict[tuple[int, str], int] = field(default_factory=dict)
    subscribed: bool = False

    def command(self, raw) -> dict:
        try:
            message = json.loads(raw)
        except ValueError:
            return {"response": None, "result": "error", "message": "The frame is not JSON."}
        name = message.get("command") if isinstance(message, dict) else None
        handler = {
            "add-tenants-v1": self._add_tenants,
            "remove-tenants-v1": self._remove_tenants,
            "add-topics-v1": self._add_topics,
            "subscribe-v1": self._subscribe,
        }.get(name)
        if handler is None:
            return {"response": name, "result": "error", "message": f"Unknown command {name!r}."}
        try:
            return {"response": name, "result": "ok", **handler(message)}
        except CommandError as error:
            return {"response": name, "result": "error", "message": str(error)}

    def _latest(self) -> int:
        return SandboxEvent.objects.aggregate(top=Max("id"))["top"] or 0

    def _add_tenants(self, message: dict) -> dict:
        # UNVERIFIED: as decided in realtime.services.fortnox_events.tokens_refused.
        tokens = message.get("accessTokens")
        secret = message.get("clientSecret")
        if not isinstance(tokens, list) or not isinstance(secret, str):
            raise CommandError("clientSecret and accessTokens are required.")
        accepted, invalid = {}, []
        latest = self._latest()
        for index, token in enumerate(tokens):
            claims = access_token_claims(token) if isinstance(token, str) else None
            app = (
                SandboxApp.objects.filter(client_id=claims.get("clientId")).first()
                if claims
                else None
            )
            if app is not None and not constant_time_compare(secret, app.client_secret):
                raise CommandError("Invalid client secret.")
            company = (
                SandboxCompany.objects.filter(tenant_id=claims.get("tenantId")).first()
                if app is not None
                else None
            )
            if company is None:
                invalid.append(index)
                continue
            self.tenants[company.tenant_id] = company.pk
            accepted[str(index)] = company.tenant_id
            for topic in self.topics:
                self.cursors.setdefault((company.pk, topic), latest)
        return {"tenantIds": accepted, "invalidTokens": invalid}

    def _remove_tenants(self, message: dict) -> dict:
        # UNVERIFIED: as decided in realtime.services.fortnox_events.remove_tenants_command.
        for tenant_id in message.get("tenantIds") or []:
            company = self.tenants.pop(int(tenant_id), None) if str(tenant_id).isdigit() else None
            for key in [key for key in self.cursors if key[0] == company]:
                self.cursors.pop(key)
        return {}

    def _add_topics(self, message: dict) -> dict:
        # UNVERIFIED: as decided in realtime.services.fortnox_events.add_topics_command.
        topics = message.get("topics")
        if not isinstance(topics, list) or not topics:
            raise CommandError("topics is required.")
        latest = self._latest()
        for item in topics:
            topic = item.get("topic") if isinstance(item, dict) else None
            if topic not in TOPICS:
                raise CommandError(f"Unknown topic {topic!r}.")
            offsets = item.get("offsets") or {}
            if not isinstance(offsets, dict):
                raise CommandError("offsets must map tenant ids to offsets.")
            self.topics.add(topic)
            for tenant_id, company in self.tenants.items():
                given = offsets.get(str(tenant_id))
                if given is not None:
                    after = offset_decode(given)
                    if after is None:
                        raise CommandError(f"Invalid offset {given!r}.")
                    self.cursors[(company, topic)] = after
                else:
                    self.cursors.setdefault((company, topic), latest)
        return {"topics": sorted(self.topics)}

    def _subscribe(self, message: dict) -> dict:
        self.subscribed = True
        return {}

    def due(self) -> list[dict]:
        """The next events for this session, oldest first, and the cursors moved past them."""
        if not self.subscribed or not self.cursors:
            return []
        wanted = Q()
        for (company, topic), after in self.cursors.items():
            wanted |= Q(company_id=company, topic=topic, id__gt=after)
        events = list(SandboxEvent.objects.filter(wanted).order_by("id")[:PUSH_BATCH])
        by_company = {company: tenant for tenant, company in self.tenants.items()}
        out = []
        for event in events:
            key = (event.company_id, event.topic)
            if key not in self.cursors or event.pk <= self.cursors[key]:
                continue
            self.cursors[key] = event.pk
            out.append(event_json(event, by_company[event.company_id]))
        return out


# --- the server -----------------------------------------------------------------------------


class EventServer:
    def __init__(self, *, poll_seconds: float = 0.1):
        self.poll_seconds = poll_seconds
        self.pushed = 0

    async def handler(self, socket) -> None:
        session = Session()
        pusher = asyncio.create_task(self._push(socket, session))
        pusher.add_done_callback(lambda task: self._pusher_done(task, socket))
        try:
            async for raw in socket:
                reply = await sync_to_async(self._command)(session, raw)
                await socket.send(json.dumps(reply))
        finally:
            pusher.cancel()

    @staticmethod
    def _pusher_done(task: asyncio.Task, socket) -> None:
        """A pusher that failed (the database went away) closes its socket, so the client
        reconnects and resumes from its offsets instead of waiting on a silent line."""
        if not task.cancelled() and task.exception() is not None:
            logger.error("sandbox events: pushing failed", exc_info=task.exception())
            socket.transport.abort()

    @staticmethod
    def _command(session: Session, raw) -> dict:
        close_old_connections()
        return session.command(raw)

    @staticmethod
    def _due(session: Session) -> list[dict]:
        close_old_connections()
        return session.due()

    async def _push(self, socket, session: Session) -> None:
        while True:
            faults = event_faults()
            if faults.get("drop_before", 0) > session.opened_at:
                socket.transport.abort()
                return
            events = await sync_to_async(self._due)(session)
            if faults.get("reorder") and len(events) > 1:
                events.reverse()
            for event in events:
                await socket.send(json.dumps(event))
                self.pushed += 1
                if random.random() < faults.get("duplicate_rate", 0):  # noqa: S311 - faults
                    await socket.send(json.dumps(event))
            if len(events) < PUSH_BATCH:
                await asyncio.sleep(self.poll_seconds)

    async def serve(self, *, host: str, port: int, ready=None, stop: asyncio.Event | None = None):
        from websockets.asyncio.server import serve

        async with serve(self.handler, host, port, ping_interval=20) as server:
            if ready is not None:
                ready(server)
            if stop is None:
                await server.serve_forever()
            else:
                await stop.wait()


def sandbox_events_prune() -> int:
    deleted, _ = SandboxEvent.objects.filter(created_at__lt=clock.now_datetime() - KEEP).delete()
    return deleted
