"""Fault injection between a client and the system it calls, decided per call from a seeded plan.

The injector knows nothing of HTTP: `decide(channel)` says what happens to one call on one channel
(a channel is whatever stream of calls is faulted separately: "fortnox" and "ongoing" here; a
later harness may add "fortnox-events" for WebSocket frames or "ongoing-webhooks"). Every call and
every fault is counted per channel and kind in a `Tally`, which lives in shared memory when the
calls are made in forked worker processes.

`FaultyTransport` applies the decisions to a `responses` callback (the in-process sandboxes):

- SERVER_ERROR: a 500 answered in place of the server; the server never sees the call.
- TIMEOUT: `requests.ConnectTimeout` (or `ConnectionError`) raised before the server sees it.
- RATE_LIMITED: a burst of 429s with Retry-After: this call and the next few on the channel.
- LOST_RESPONSE: the server handles and commits the call, then the client gets
  `requests.ReadTimeout` (or `ConnectionError`) instead of the answer.
"""

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import requests

SERVER_ERROR = "server_error"
TIMEOUT = "timeout"
RATE_LIMITED = "rate_limited"
LOST_RESPONSE = "lost_response"
FAULT_KINDS = (SERVER_ERROR, TIMEOUT, RATE_LIMITED, LOST_RESPONSE)
CALLS = "calls"


@dataclass(frozen=True)
class FaultPlan:
    """Per-call probabilities. A 429 burst starts with probability `burst_start` and answers
    that call and the next `burst_length - 1` calls of the channel with 429."""

    server_error: float = 0.07
    timeout: float = 0.06
    lost_response: float = 0.08
    burst_start: float = 0.015
    burst_length: tuple[int, int] = (2, 8)
    retry_after: tuple[int, int] = (1, 4)

    def __post_init__(self):
        if self.server_error + self.timeout + self.lost_response + self.burst_start >= 1:
            raise ValueError("The fault probabilities must leave some calls alone.")

    def scaled(self, factor: float) -> "FaultPlan":
        """The same mix, every probability times `factor`."""
        return FaultPlan(
            server_error=self.server_error * factor,
            timeout=self.timeout * factor,
            lost_response=self.lost_response * factor,
            burst_start=self.burst_start * factor,
            burst_length=self.burst_length,
            retry_after=self.retry_after,
        )

    @property
    def expected_share(self) -> float:
        """Roughly the share of calls that fail (bursts that overlap are counted once each)."""
        mean_burst = sum(self.burst_length) / 2
        return self.server_error + self.timeout + self.lost_response + self.burst_start * mean_burst


class Tally:
    """Calls and faults per (channel, kind), in any sequence of integers that supports item
    assignment: a list in one process, a multiprocessing RawArray shared with forked workers."""

    KINDS = (CALLS, *FAULT_KINDS)

    def __init__(self, channels: Iterable[str], store=None):
        self.channels = tuple(channels)
        size = len(self.channels) * len(self.KINDS)
        self.store = store if store is not None else [0] * size
        if len(self.store) != size:
            raise ValueError(f"A tally of {self.channels} needs {size} slots.")

    def _slot(self, channel: str, kind: str) -> int:
        return self.channels.index(channel) * len(self.KINDS) + self.KINDS.index(kind)

    def add(self, channel: str, kind: str, number: int = 1) -> None:
        self.store[self._slot(channel, kind)] += number

    def get(self, channel: str, kind: str) -> int:
        return self.store[self._slot(channel, kind)]

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {
            channel: {kind: self.get(channel, kind) for kind in self.KINDS}
            for channel in self.channels
        }

    def reset(self) -> None:
        for index in range(len(self.store)):
            self.store[index] = 0


def faulted(counts: dict[str, int]) -> int:
    return sum(counts[kind] for kind in FAULT_KINDS)


class FaultInjector:
    """Decides the fate of each call. `reseed(key)` makes the decisions that follow depend only on
    the plan and `key` (call it at the start of each worker process: a forked child inherits its
    parent's generator, and without a new seed every child would repeat the same faults)."""

    def __init__(self, plan: FaultPlan, tally: Tally, *, seed: str = "0"):
        self.plan = plan
        self.tally = tally
        self.enabled = False
        self.reseed(seed)

    def reseed(self, key: str) -> None:
        self.rng = random.Random(key)
        self.burst_left = dict.fromkeys(self.tally.channels, 0)
        self.retry_after = dict.fromkeys(self.tally.channels, 1)

    def decide(self, channel: str) -> str | None:
        """The fault for this call (one of FAULT_KINDS), or None to let it through."""
        self.tally.add(channel, CALLS)
        if not self.enabled:
            return None
        plan = self.plan
        if self.burst_left[channel] > 0:
            self.burst_left[channel] -= 1
            kind = RATE_LIMITED
        else:
            draw = self.rng.random()
            if draw < plan.burst_start:
                self.burst_left[channel] = self.rng.randint(*plan.burst_length) - 1
                self.retry_after[channel] = self.rng.randint(*plan.retry_after)
                kind = RATE_LIMITED
            elif (draw := draw - plan.burst_start) < plan.server_error:
                kind = SERVER_ERROR
            elif (draw := draw - plan.server_error) < plan.timeout:
                kind = TIMEOUT
            elif draw - plan.timeout < plan.lost_response:
                kind = LOST_RESPONSE
            else:
                return None
        self.tally.add(channel, kind)
        return kind

    def connection_error(self, *, lost: bool) -> requests.RequestException:
        """What the client sees instead of an answer; the two shapes a dropped call takes."""
        if lost:
            if self.rng.random() < 0.5:
                return requests.ReadTimeout("Read timed out (injected: the answer was lost)")
            return requests.ConnectionError("Connection reset by peer (injected: answer lost)")
        if self.rng.random() < 0.5:
            return requests.ConnectTimeout("Connection timed out (injected: never arrived)")
        return requests.ConnectionError("Connection refused (injected: never arrived)")


# (status, headers, body) as a `responses` callback returns it.
Answer = tuple[int, dict, bytes | str]


@dataclass
class ChannelAnswers:
    """How a channel's server answers a 500 and a 429 (its own error body)."""

    server_error: bytes
    rate_limited: bytes


class FaultyTransport:
    """A `responses` callback that puts a FaultInjector in front of the real one.

    `channel_of(request)` names the request's channel, or None for a call that is never faulted.
    `on_boundary(event, request)` (optional) is told "send" before a call leaves and "answered"
    after the server has handled it, before the client sees the answer: the two moments at which
    a worker can die in flight. While the server handles a call, `in_server` is True."""

    def __init__(
        self,
        handler: Callable[[object], Answer],
        injector: FaultInjector,
        *,
        channel_of: Callable[[object], str | None],
        answers: dict[str, ChannelAnswers],
    ):
        self.handler = handler
        self.injector = injector
        self.channel_of = channel_of
        self.answers = answers
        self.on_boundary: Callable[[str, object], None] | None = None
        self.in_server = False

    def _boundary(self, event: str, request) -> None:
        if self.on_boundary is not None:
            self.on_boundary(event, request)

    def __call__(self, request) -> Answer:
        channel = self.channel_of(request)
        if channel is not None:
            self._boundary("send", request)
        kind = self.injector.decide(channel) if channel is not None else None
        if kind == TIMEOUT:
            raise self.injector.connection_error(lost=False)
        if kind == SERVER_ERROR:
            return 500, {"Content-Type": "application/json"}, self.answers[channel].server_error
        if kind == RATE_LIMITED:
            headers = {
                "Content-Type": "application/json",
                "Retry-After": str(self.injector.retry_after[channel]),
            }
            return 429, headers, self.answers[channel].rate_limited
        self.in_server = True
        try:
            answer = self.handler(request)
        finally:
            self.in_server = False
        if channel is not None:
            self._boundary("answered", request)
        if kind == LOST_RESPONSE:
            raise self.injector.connection_error(lost=True)
        return answer


@dataclass(frozen=True)
class EventPlan:
    """The event faults of one run (bench/chaos/events.py, `--events`): a share of events the
    event server sends twice, each batch it sends reversed, a share of webhooks the warehouse
    never sends, and how many times the socket is dropped and the consumer SIGKILLed. The
    default, `EventPlan()`, is the clean run: events and webhooks work."""

    duplicate_rate: float = 0.0
    reorder: bool = False
    webhook_loss_rate: float = 0.0
    socket_drops: int = 0
    consumer_kills: int = 0

    @property
    def faulty(self) -> bool:
        return bool(
            self.duplicate_rate
            or self.reorder
            or self.webhook_loss_rate
            or self.socket_drops
            or self.consumer_kills
        )


FAULTY = EventPlan(
    duplicate_rate=0.3, reorder=True, webhook_loss_rate=0.3, socket_drops=3, consumer_kills=3
)
