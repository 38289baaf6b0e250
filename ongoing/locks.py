"""One goods owner's Ongoing calls, one at a time, across every worker process.

Ongoing processes a goods owner's calls sequentially and asks integrators not to call in parallel.
With Redis (settings.REDIS_URL) the lock is a Redis lock that expires after ONGOING_LOCK_TIMEOUT, so
a worker killed while holding it cannot block the goods owner for longer than that. Without Redis
(local runs: SQLite and several processes on one machine) it is an flock on a file, which the
kernel releases when its process dies.
"""

import fcntl
import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache

import redis
from django.conf import settings

# How often a waiting file lock looks again; Redis's own blocking wait does the same.
_POLL_SECONDS = 0.05


class LockNotAcquired(Exception):
    pass


@contextmanager
def goods_owner_lock(key: str, *, wait: float | None = None) -> Iterator[None]:
    """Hold the lock for `key` (e.g. "<api base url>|<goods owner id>") for the duration of the
    block; raise LockNotAcquired after waiting `wait` seconds (ONGOING_LOCK_WAIT by default)."""
    wait = settings.ONGOING_LOCK_WAIT if wait is None else wait
    name = "ongoing-lock-" + hashlib.sha256(key.encode()).hexdigest()[:32]
    if settings.REDIS_URL:
        with _redis_lock(name, wait=wait):
            yield
    else:
        with _file_lock(name, wait=wait):
            yield


@cache
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


@contextmanager
def _redis_lock(name: str, *, wait: float) -> Iterator[None]:
    lock = _redis_client(settings.REDIS_URL).lock(
        name, timeout=settings.ONGOING_LOCK_TIMEOUT, sleep=_POLL_SECONDS, blocking_timeout=wait
    )
    if not lock.acquire():
        raise LockNotAcquired(name)
    try:
        yield
    finally:
        # It may have expired while we held it (a call longer than ONGOING_LOCK_TIMEOUT); another
        # worker may hold it now, and that one's lock is not ours to drop.
        with suppress(redis.exceptions.LockNotOwnedError):
            lock.release()


@contextmanager
def _file_lock(name: str, *, wait: float) -> Iterator[None]:
    directory = settings.ONGOING_LOCK_DIR
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"{name}.lock", "a") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockNotAcquired(name) from None
                time.sleep(_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
