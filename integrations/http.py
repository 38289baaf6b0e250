"""The base of every outgoing HTTP session (one per provider, see fortnox/client.py and
ongoing/client.py): a timeout on every socket read, a deadline on the whole exchange, redirects
never followed (a redirect could carry our credentials to another host), no proxy or .netrc taken
from the environment, our name in the User-Agent, and no answer read beyond MAX_RESPONSE_BYTES.
json_body reads an answer strictly: UTF-8 JSON, or UnreadableBody saying in words what came
instead.

The deadline: requests' read timeout counts from the last byte received, so a server that drips
one byte every few seconds would hold a worker for ever. Every exchange (connecting, sending,
waiting for the answer, reading its body, and the transport's own retries) therefore has a
deadline; a watchdog thread shuts the exchange's socket down when it passes, and the call raises
ExchangeTimeout. A GET whose read timed out is never sent again by the transport: a server that
hangs would otherwise cost the timeout twice."""

import codecs
import contextlib
import fcntl
import heapq
import html
import itertools
import json
import os
import re
import socket
import threading
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

USER_AGENT = "OngoingFortnoxIntegration/1.0"
# (connect, read) seconds. A run must never hang on one slow answer.
DEFAULT_TIMEOUT = (5, 30)
# Seconds one whole exchange may take, however the server trickles its answer.
DEFAULT_DEADLINE = 60.0


class ExchangeTimeout(requests.Timeout):
    """No complete answer within the exchange's deadline; the connection was shut down."""


def timeout_reason(error: requests.Timeout) -> str:
    """Which timeout struck, in words, for a failure's message."""
    if isinstance(error, ExchangeTimeout):
        return str(error)
    if isinstance(error, requests.ConnectTimeout):
        return "ConnectTimeout: no connection within the connect timeout"
    return f"{error.__class__.__name__}: no data within the read timeout"


class _TransportRetry(Retry):
    """Retry that never sends a request again after its read timed out or its deadline passed
    (a hanging server would otherwise cost the timeout once per attempt)."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, **kwargs):
        if error is not None and (isinstance(error, ReadTimeoutError) or _exchange_expired()):
            raise error
        return super().increment(method, url, response, error, _pool, **kwargs)


# Only what cannot repeat a write is retried here: a connection that could not be opened (nothing
# was sent), and a GET whose pooled keep-alive connection the server had already closed (not one
# whose answer timed out). Every other failure reaches the caller, which knows whether its request
# is safe to repeat.
TRANSPORT_RETRY = _TransportRetry(
    total=2,
    connect=2,
    read=1,
    status=0,
    other=0,
    redirect=0,
    allowed_methods=frozenset({"GET"}),
    raise_on_status=False,
    backoff_factor=0.2,
)


# No answer of either API comes near this (a full Fortnox page of 500 articles is a few hundred
# kB); anything larger is a broken proxy or a hostile server, and is not read into memory.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024


class ResponseTooLarge(requests.RequestException):
    """The answer (after decompression) is larger than the session reads; the rest was left
    unread and the connection closed."""


# --- The exchange deadline -----------------------------------------------------------------------


class _Exchange:
    """One call of HardenedSession.request: its deadline, the sockets it used, and the slow-call
    slot it holds once it has waited longer than the session's patience."""

    def __init__(self, deadline: float, *, slots: "SlowCallSlots | None" = None):
        self.deadline = deadline
        self.slots = slots
        # The sockets themselves, not only their connections: a connection whose answer is read
        # until the server closes hands its socket to the response and forgets it.
        self.sockets: list[socket.socket] = []
        self.slot: _Slot | None = None
        self.expired = False
        self.gave_way = False
        self.done = False
        self.lock = threading.Lock()

    def add(self, connection: HTTPConnection) -> None:
        sock = getattr(connection, "sock", None)
        if sock is None:
            return
        with self.lock:
            if self.done:
                return
            self.sockets.append(sock)
            if self.expired:
                _shut_down(sock)

    def expire(self) -> None:
        """Called by the watchdog: shut every socket of the exchange down, so that the thread
        blocked reading it wakes up (to an empty read or an error) at once."""
        with self.lock:
            if self.done:
                return
            self.expired = True
            for sock in self.sockets:
                _shut_down(sock)

    def out_of_patience(self) -> None:
        """Called by the watchdog when the answer is slow: go on waiting only in a free slow-call
        slot; without one, give way (end the exchange now)."""
        with self.lock:
            if self.done or self.expired or self.slots is None:
                return
            self.slot = self.slots.try_acquire()
            if self.slot is not None:
                return
            self.gave_way = True
        self.expire()

    def finish(self) -> bool:
        """The exchange is over; True when its deadline had passed (or it gave way)."""
        with self.lock:
            self.done = True
            self.sockets = []
            if self.slot is not None:
                self.slot.release()
                self.slot = None
            return self.expired


def _shut_down(sock: socket.socket) -> None:
    # The plain socket's shutdown, also under TLS: SSLSocket.shutdown would unwrap the TLS object
    # under the feet of the thread reading it.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Slot:
    def __init__(self, fd: int):
        self.fd = fd

    def release(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)


class SlowCallSlots:
    """At most `count` of one machine's processes may wait on a slow answer (or sleep on a long
    429) at the same time; the others give way, so that a few companies whose Fortnox or
    warehouse hangs cannot hold every worker process while the other companies' runs wait. The
    slots are file locks in `folder`, released by the kernel if a process dies holding one."""

    def __init__(self, folder: Path, count: int):
        self.folder = Path(folder)
        self.count = count

    def try_acquire(self) -> _Slot | None:
        """A free slot, held until released; None when all are taken."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for number in range(self.count):
            fd = os.open(self.folder / f"slow-call-{number}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            return _Slot(fd)
        return None

    @contextlib.contextmanager
    def held(self):
        """Yields whether a slot was had (and holds it inside the block). A run in the slow lane
        already holds one for its whole duration (slow_lane_enter): it has one, and takes none."""
        if slow_lane_held():
            yield True
            return
        slot = self.try_acquire()
        try:
            yield slot is not None
        finally:
            if slot is not None:
                slot.release()


# --- The slow lane --------------------------------------------------------------------------------
# A company whose last run stopped because its Fortnox or warehouse was too slow runs only while
# holding one of the machine's slow-call slots, for its whole run (integrations/services/
# slow_lane.py). Inside such a run no call needs to find a slot of its own: it may wait on a slow
# answer up to its deadline, as a run in the slot is meant to.
_lane = threading.local()


def slow_lane_held() -> bool:
    """True inside a run that holds a slow-call slot for its whole duration (this thread)."""
    return getattr(_lane, "slot", None) is not None


def slow_lane_enter(slots: SlowCallSlots) -> bool:
    """Take a slot for this thread's run; False (and nothing held) when none is free."""
    slow_lane_leave()  # a slot an earlier run of this thread failed to give back
    slot = slots.try_acquire()
    if slot is None:
        return False
    _lane.slot = slot
    return True


def slow_lane_leave() -> None:
    """Give this thread's run's slot back (nothing when it holds none)."""
    slot = getattr(_lane, "slot", None)
    _lane.slot = None
    if slot is not None:
        slot.release()


def slow_call_slots() -> SlowCallSlots | None:
    """This machine's slots, as the settings say (None when HTTP_SLOW_CALL_SECONDS is 0)."""
    from django.conf import settings

    if not settings.HTTP_SLOW_CALL_SECONDS:
        return None
    return SlowCallSlots(Path(settings.HTTP_SLOW_CALL_DIR), settings.HTTP_SLOW_CALL_SLOTS)


class _Watchdog:
    """One thread per process expiring exchanges whose deadline passed. Started on first use and
    again in a forked child (a Celery prefork worker), where the parent's thread does not exist."""

    def __init__(self):
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, _Exchange, str]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, exchange: _Exchange, *, patience_at: float | None = None) -> None:
        with self._condition:
            heapq.heappush(self._heap, (exchange.deadline, next(self._order), exchange, "expire"))
            if patience_at is not None and patience_at < exchange.deadline:
                heapq.heappush(
                    self._heap, (patience_at, next(self._order), exchange, "out_of_patience")
                )
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="http-deadline-watchdog", daemon=True
                )
                self._thread.start()
            if self._heap[0][2] is exchange:
                self._condition.notify()

    def _run(self) -> None:
        while True:
            due = []
            with self._condition:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    _when, _order, exchange, action = heapq.heappop(self._heap)
                    if not exchange.done:
                        due.append((exchange, action))
                if not due:
                    wait = self._heap[0][0] - now if self._heap else None
                    self._condition.wait(wait)
                    continue
            for exchange, action in due:
                getattr(exchange, action)()


_watchdog = _Watchdog()
_current = threading.local()


def _exchange_expired() -> bool:
    exchange = getattr(_current, "exchange", None)
    return exchange is not None and exchange.expired


def _track(connection: HTTPConnection) -> None:
    exchange = getattr(_current, "exchange", None)
    if exchange is not None:
        exchange.add(connection)


class _TrackedConnection:
    """Tells the current exchange which socket it is using (a pooled one is reused)."""

    def connect(self):
        super().connect()
        _track(self)

    def request(self, *args, **kwargs):
        _track(self)
        return super().request(*args, **kwargs)


class _TrackedHTTPConnection(_TrackedConnection, HTTPConnection):
    pass


class _TrackedHTTPSConnection(_TrackedConnection, HTTPSConnection):
    pass


class _TrackedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _TrackedHTTPPool,
            "https": _TrackedHTTPSPool,
        }


class HardenedSession(requests.Session):
    def __init__(
        self,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        deadline: float = DEFAULT_DEADLINE,
        slow_after: float | None = None,
        slots: SlowCallSlots | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ):
        super().__init__()
        self.timeout = timeout
        self.deadline = deadline
        # With both: an answer slower than `slow_after` seconds is waited on further only in a
        # free slot (SlowCallSlots); otherwise the call gives way at once with ExchangeTimeout.
        self.slow_after = slow_after if slots is not None else None
        self.slots = slots
        self.max_response_bytes = max_response_bytes
        self.max_redirects = 0
        self.trust_env = False
        self.headers["User-Agent"] = USER_AGENT
        adapter = _DeadlineAdapter(max_retries=TRANSPORT_RETRY)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method, url, **kwargs):
        """Send, and read the whole answer within self.deadline seconds; ExchangeTimeout
        otherwise (requests.ReadTimeout when the server fell silent for the read timeout)."""
        kwargs.setdefault("timeout", self.timeout)
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True
        started = time.monotonic()
        exchange = _Exchange(started + self.deadline, slots=self.slots)
        outer = getattr(_current, "exchange", None)
        _current.exchange = exchange
        # In the slow lane the run already holds a slot: no patience, only the deadline.
        patient = self.slow_after and not slow_lane_held()
        _watchdog.watch(exchange, patience_at=started + self.slow_after if patient else None)
        try:
            response = super().request(method, url, **kwargs)
            _read_capped(response, limit=self.max_response_bytes)
        except Exception:
            if exchange.finish():
                raise self._too_slow(method, url, exchange) from None
            raise
        finally:
            _current.exchange = outer
        if exchange.finish():
            # The socket was shut down while the body was read: what was read is cut short.
            response.close()
            raise self._too_slow(method, url, exchange)
        return response

    def _too_slow(self, method: str, url: str, exchange: _Exchange) -> ExchangeTimeout:
        path = urlsplit(url).path
        if exchange.gave_way:
            return ExchangeTimeout(
                f"no complete answer to {method} {path} within {self.slow_after:g} s, while other "
                "calls were already waiting on slow answers"
            )
        return ExchangeTimeout(f"no complete answer to {method} {path} within {self.deadline:g} s")


# A Retry-After longer than this is read as this (a day); the caller caps its waits far lower.
RETRY_AFTER_CEILING = 86_400.0
_DELAY_SECONDS = re.compile(r"^[0-9]+(\.[0-9]+)?$")


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """The wait a Retry-After header asks for, in seconds between 0 and RETRY_AFTER_CEILING, or
    None when there is none or it is unreadable. RFC 9110 allows delay-seconds (digits) or an
    HTTP date; anything else ('nan', 'inf', '-5', '1e9', '-0000', text) is not a wait we can
    trust, and a date in the past is no wait at all."""
    text = (value or "").strip()
    if _DELAY_SECONDS.match(text):
        return min(float(text), RETRY_AFTER_CEILING)
    if not text or len(text) > 100:  # no HTTP date is this long
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": a date in UTC whose sender did not say where it was
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_CEILING)


def _read_capped(response: requests.Response, *, limit: int) -> None:
    """Read the body into response.content, refusing it at `limit` bytes: by its Content-Length
    before reading anything, or while reading (decompressed bytes count, so a compressed bomb is
    cut off too)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise ResponseTooLarge(_too_large(limit), response=response)
    chunks = []
    size = 0
    for chunk in response.iter_content(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            response.close()
            raise ResponseTooLarge(_too_large(limit), response=response)
        chunks.append(chunk)
    response._content = b"".join(chunks)
    response._content_consumed = True


def _too_large(limit: int) -> str:
    return f"it is larger than {limit // (1024 * 1024)} MB"


class UnreadableBody(ValueError):
    """An answer that is not a JSON document; str() says what it is instead, for a failure's
    message."""


HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def json_body(content: bytes) -> Any:
    """The JSON document in an answer's body. JSON travels as UTF-8 (RFC 8259): other bytes are
    refused rather than guessed at, since a wrong guess would send garbled names on to the other
    system; NaN and Infinity are refused as not JSON."""
    if content.startswith(codecs.BOM_UTF8):
        content = content[len(codecs.BOM_UTF8) :]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableBody(f"text that is not valid UTF-8 (at byte {error.start})") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise UnreadableBody("JSON nested too deeply to read") from None
    except ValueError:
        raise UnreadableBody(_what_instead_of_json(text)) from None


def _what_instead_of_json(text: str) -> str:
    stripped = text.lstrip()
    if not stripped:
        return "an empty answer"
    if stripped.startswith("<"):
        title = HTML_TITLE.search(stripped[:20_000])
        if title:
            name = " ".join(html.unescape(title.group(1)).split())[:100]
            return f"an HTML page (“{name}”) instead of JSON"
        return "an HTML page instead of JSON"
    if stripped[:1] in "{[":
        return "broken JSON (cut short or malformed)"
    return "something that is not JSON"


# Keys whose values never leave the process in a failure's details.
SECRET_KEY_PATTERN = re.compile(r"token|password|secret|authorization|api[-_]?key", re.I)
MASK = "***"
# Enough of a body to see what went wrong, small enough to store on every failure.
EXCHANGE_BODY_LIMIT = 4000


def masked(value: Any) -> Any:
    """The value with every secret-looking field replaced, at any depth."""
    if isinstance(value, dict):
        return {
            key: MASK if SECRET_KEY_PATTERN.search(str(key)) else masked(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def _masked_body(body: bytes | str | None) -> Any:
    if not body:
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        return masked(json.loads(text))
    except (ValueError, RecursionError):
        return text[:EXCHANGE_BODY_LIMIT]


def _masked_url(url: str) -> str:
    parts = urlsplit(url)
    query = [
        (key, MASK if SECRET_KEY_PATTERN.search(key) else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def exchange_record(response: requests.Response) -> dict:
    """The request and the answer that caused a failure, for support to read: secrets masked,
    headers left out (they carry the credentials), bodies cut short."""
    request = response.request
    record = {
        "method": request.method,
        "url": _masked_url(request.url or ""),
        "status": response.status_code,
        "request_body": _masked_body(request.body),
        "response_body": _masked_body(response.content),
    }
    for key in ("request_body", "response_body"):
        if isinstance(record[key], dict | list):
            text = json.dumps(record[key], ensure_ascii=False)
            if len(text) > EXCHANGE_BODY_LIMIT:
                record[key] = text[:EXCHANGE_BODY_LIMIT]
    return record
