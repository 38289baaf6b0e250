"""Process bodies for engine tests: each does one recognisable thing."""

import time

from celery.exceptions import SoftTimeLimitExceeded

from integrations.errors import SyncError
from integrations.metering import count_request
from integrations.models import SyncFailure

calls: list[str] = []


def succeed(context):
    calls.append(context.process.key)
    count_request("fortnox")
    count_request("ongoing")
    context.count("created", 2)
    context.count("skipped", 3)


def fail_one_object(context):
    calls.append(context.process.key)
    context.synced(object_type="order", object_ref="1041", outcome="updated")
    context.fail(
        object_type="order",
        object_ref="1042",
        kind=SyncFailure.Kind.VALIDATION,
        message="order 1042 changed in Fortnox after picking started",
    )


def crash(context):
    calls.append(context.process.key)
    context.count("created")
    raise ZeroDivisionError("division by zero")


def consent_gone(context):
    calls.append(context.process.key)

    class ConsentGone(SyncError):
        failure_kind = "auth"
        stops_run = True

    raise ConsentGone("Invalid refresh token")


def time_out(context):
    calls.append(context.process.key)
    raise SoftTimeLimitExceeded()


def use_cursor(context):
    calls.append(context.process.key)
    previous = int(context.cursor() or 0)
    context.save_cursor(str(previous + 1))


def sync_order_1042(context):
    calls.append(context.process.key)
    context.synced(object_type="order", object_ref="1042", outcome="updated")


def slow(context):
    calls.append(context.process.key)
    time.sleep(0.3)


def use_cursor_during_a_resync(context):
    """Moves its cursor, then support resyncs the integration while the run still goes."""
    from integrations.models import SyncCursor

    use_cursor(context)
    SyncCursor.objects.filter(integration=context.integration).delete()
