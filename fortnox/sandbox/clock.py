"""The sandbox's notion of time. Tests replace now() with a simulated clock shared with the
client's throttle, so rate limits and token lifetimes play out without waiting."""

import time
from datetime import UTC, datetime


def now() -> float:
    return time.time()


def now_datetime() -> datetime:
    return datetime.fromtimestamp(now(), tz=UTC)
