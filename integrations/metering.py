"""Counts the API requests a run makes. The API clients call count_request(); the engine opens a
meter around each run and stores the totals on its SyncRun."""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[Counter | None] = ContextVar("request_meter", default=None)


def count_request(api: str) -> None:
    meter = _current.get()
    if meter is not None:
        meter[api] += 1


@contextmanager
def metering() -> Iterator[Counter]:
    meter: Counter = Counter()
    token = _current.set(meter)
    try:
        yield meter
    finally:
        _current.reset(token)
