"""Errors the engine understands. API clients raise subclasses whose failure_kind says how the
failure is recorded; anything else that escapes a process is recorded as a bug."""


class SyncError(Exception):
    failure_kind = "remote"
    # True when nothing else in the run can succeed either (e.g. Fortnox consent is gone).
    stops_run = False
    # True when the run stopped because the other system was too slow (hung, trickled, kept
    # rate-limiting): the company's next runs go in the slow lane (services/slow_lane.py).
    slow_system = False
    # The HTTP request and answer behind the error, secrets masked (integrations.http
    # exchange_record), when an API answered; stored with the failure for support.
    exchange: dict | None = None


class ObjectValidationError(SyncError):
    """The object itself cannot be synced as it is; retrying without a change will not help."""

    failure_kind = "validation"


def failure_kind_of(error: BaseException) -> str:
    return getattr(error, "failure_kind", "bug")


def failure_details(error: BaseException) -> dict:
    """What a failure records about its error besides the message."""
    exchange = getattr(error, "exchange", None)
    return {"exchange": exchange} if exchange else {}
