"""Keeps every Fortnox tenant under Fortnox's rate limit (25 requests per 5 s sliding window per
client and tenant): a sliding-window log of the requests we sent, at most `limit` inside any
`window` seconds. With REDIS_URL the log lives in Redis, so all web and worker processes share it;
otherwise it is per process, which is enough for a single-worker local run.

Clocks and sleep are injectable so that tests run the throttle in simulated time."""

import logging
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from functools import cache
from typing import Protocol

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# Floating-point rounding can leave a wait of a few nanoseconds; never spin on it.
MIN_WAIT = 0.001


class Throttle(Protocol):
    def acquire(self, key: str) -> None:
        """Return when one more request for `key` may be sent, and count it as sent."""


class _SlidingWindow:
    def __init__(self, *, limit: int, window: float, clock: Callable[[], float], sleep):
        if limit < 1 or window <= 0:
            raise ValueError("A throttle needs a positive limit and window.")
        self.limit = limit
        self.window = window
        self.clock = clock
        self.sleep = sleep

    def _admit(self, key: str) -> float:
        """0 when admitted (and recorded); otherwise the seconds until a slot frees."""
        raise NotImplementedError

    def acquire(self, key: str) -> None:
        while (wait := self._admit(key)) > 0:
            self.sleep(max(wait, MIN_WAIT))


class LocalThrottle(_SlidingWindow):
    def __init__(self, *, limit, window, clock=time.monotonic, sleep=time.sleep):
        super().__init__(limit=limit, window=window, clock=clock, sleep=sleep)
        self._sent: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _admit(self, key: str) -> float:
        with self._lock:
            now = self.clock()
            sent = self._sent[key]
            while sent and sent[0] <= now - self.window:
                sent.popleft()
            if len(sent) < self.limit:
                sent.append(now)
                return 0.0
            return sent[0] + self.window - now


# Atomic in Redis: drop entries that left the window, admit if there is room, otherwise say how
# long until the oldest entry leaves. Returned as a string because Redis truncates Lua numbers.
_ADMIT_SCRIPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""


class RedisThrottle(_SlidingWindow):
    """Wall-clock time (not monotonic) because the entries are compared across processes."""

    def __init__(
        self,
        *,
        client: redis.Redis,
        limit,
        window,
        clock=time.time,
        sleep=time.sleep,
        prefix: str = "fortnox:throttle:",
    ):
        super().__init__(limit=limit, window=window, clock=clock, sleep=sleep)
        self.prefix = prefix
        self._script = client.register_script(_ADMIT_SCRIPT)
        self._fallback = LocalThrottle(limit=limit, window=window, clock=clock, sleep=sleep)

    def _admit(self, key: str) -> float:
        try:
            answer = self._script(
                keys=[f"{self.prefix}{key}"],
                args=[repr(self.clock()), repr(self.window), self.limit, uuid.uuid4().hex],
            )
        except redis.RedisError as error:
            # Still throttled, only not shared, while Redis is away.
            logger.warning("fortnox throttle: Redis unavailable (%s), throttling locally", error)
            return self._fallback._admit(key)
        return float(answer)


@cache
def default_throttle() -> Throttle:
    """One per process, configured from the settings."""
    limit = settings.FORTNOX_THROTTLE_REQUESTS
    window = settings.FORTNOX_THROTTLE_WINDOW_SECONDS
    if settings.REDIS_URL:
        return RedisThrottle(
            client=redis.Redis.from_url(settings.REDIS_URL), limit=limit, window=window
        )
    return LocalThrottle(limit=limit, window=window)
