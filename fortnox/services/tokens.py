"""The only code that hands out Fortnox access tokens and rotates the token pair.

Fortnox's refresh token is single use: the moment Fortnox answers a refresh, the old refresh token
is dead. So a refresh happens under a per-connection row lock shared by every worker, the row is
read again after the lock is taken (another worker may just have refreshed), and the new pair is
committed before anyone uses it. Only Fortnox saying the refresh token is invalid marks the
connection as needing reactivation; network errors and 5xx are transient and never do.

The lock is waited for at most FORTNOX_REFRESH_LOCK_WAIT_SECONDS (on PostgreSQL). A refresh takes
well under a second, but one whose answer never comes holds the lock for the whole read timeout;
without the bound, every worker process that wanted that company's token waited with it
(bench/tokens_at_scale.py --scenarios silent: 6 of 8 processes held ~30 s per lost answer). A
waiter that gives up uses the stored access token while it still works, and otherwise fails
transiently (the next run tries again)."""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import OperationalError, transaction
from django.db import connection as db_connection
from django.utils import timezone

from integrations.models import Integration, IntegrationEvent
from integrations.services.events import integration_event_record

from ..errors import (
    FortnoxError,
    FortnoxNeedsReactivation,
    FortnoxNotConnected,
    FortnoxUnavailable,
    OAuthInvalidGrant,
)
from ..models import FortnoxConnection
from ..oauth import TokenSet, oauth_token_refresh
from ..selectors import keep_alive_cutoff
from ..signals import connection_needs_reactivation

logger = logging.getLogger(__name__)

NEEDS_REACTIVATION_MESSAGE = (
    "Fortnox no longer accepts this connection's refresh token. Reactivate the integration: "
    "sign in to Fortnox again and accept the permissions."
)


def _expiring(connection: FortnoxConnection, now: datetime) -> bool:
    """True when the access token is missing or expires within the refresh margin."""
    margin = timedelta(seconds=settings.FORTNOX_REFRESH_MARGIN_SECONDS)
    return (
        not connection.access_token
        or connection.access_expires_at is None
        or connection.access_expires_at <= now + margin
    )


def _still_valid(connection: FortnoxConnection, now: datetime) -> bool:
    return bool(
        connection.access_token
        and connection.access_expires_at is not None
        and connection.access_expires_at > now
    )


def _ensure_connected(connection: FortnoxConnection) -> None:
    if connection.status == FortnoxConnection.Status.NEEDS_REACTIVATION:
        raise FortnoxNeedsReactivation(NEEDS_REACTIVATION_MESSAGE)
    if connection.status == FortnoxConnection.Status.REVOKED:
        raise FortnoxNotConnected("Fortnox has been disconnected for this company.")


def connection_access_token(
    *, connection_id: int, connection: FortnoxConnection | None = None
) -> str:
    """A valid access token for the connection, refreshed first when it is about to expire. A
    caller that has just read the row may pass it instead of having it read again: an old copy is
    harmless, because a refresh reads the row again under its lock and refreshes only if that row
    still needs it."""
    if connection is None:
        connection = FortnoxConnection.objects.get(pk=connection_id)
    _ensure_connected(connection)
    if not _expiring(connection, timezone.now()):
        return connection.access_token
    token, _refreshed = _refresh(connection_id=connection_id, needed=_expiring)
    return token


def connection_token_refresh(*, connection_id: int, rejected_access_token: str = "") -> str:
    """Refresh now and return the new access token. After Fortnox rejected a token, pass it as
    rejected_access_token: if another worker has replaced it meanwhile, that one is returned and
    no second refresh is made."""

    def needed(connection: FortnoxConnection, now: datetime) -> bool:
        if rejected_access_token:
            return connection.access_token == rejected_access_token
        return True

    token, _refreshed = _refresh(connection_id=connection_id, needed=needed)
    return token


def connection_keep_alive(*, connection_id: int) -> bool:
    """Refresh an idle connection whose refresh token is getting old (they die after 31 days
    unused). Returns whether a refresh was made."""
    _token, refreshed = _refresh(connection_id=connection_id, needed=_keep_alive_due)
    return refreshed


def _keep_alive_due(connection: FortnoxConnection, now: datetime) -> bool:
    issued = connection.refresh_token_issued_at
    return issued is None or issued < keep_alive_cutoff(now=now)


class _LockWaitOver(Exception):
    """Another worker has held the connection's row lock longer than we wait."""


def _lock_connection(connection_id: int) -> FortnoxConnection:
    """The connection's row, locked, waiting at most FORTNOX_REFRESH_LOCK_WAIT_SECONDS for a
    refresh in flight elsewhere (PostgreSQL; SQLite serialises writers anyway). Called inside
    the refresh's atomic block; the caller's lock_timeout is restored once the lock is held."""
    wait = settings.FORTNOX_REFRESH_LOCK_WAIT_SECONDS
    if db_connection.vendor != "postgresql" or not wait:
        return FortnoxConnection.objects.select_for_update().get(pk=connection_id)
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        (before,) = cursor.fetchone()
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(wait * 1000)}ms"])
    try:
        # Its own savepoint, so a timed-out wait leaves the surrounding transaction usable.
        with transaction.atomic():
            locked = FortnoxConnection.objects.select_for_update().get(pk=connection_id)
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
            raise _LockWaitOver from None
        raise
    finally:
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [before])
    return locked


def _after_lock_wait(
    *, connection_id: int, needed: Callable[[FortnoxConnection, datetime], bool]
) -> tuple[str, bool]:
    """Another worker is refreshing (or stuck refreshing) this connection. Its stored access
    token does if it was replaced meanwhile, or if the refresh was only ahead of expiry and the
    token still works; otherwise this is a transient failure."""
    current = FortnoxConnection.objects.get(pk=connection_id)
    _ensure_connected(current)
    now = timezone.now()
    if not needed(current, now) or (needed is _expiring and _still_valid(current, now)):
        return current.access_token, False
    wait = settings.FORTNOX_REFRESH_LOCK_WAIT_SECONDS
    logger.warning(
        "fortnox connection %s: another worker has been refreshing its token for over %ss",
        connection_id,
        wait,
    )
    raise FortnoxUnavailable(
        f"Another worker has been refreshing this connection's Fortnox token for over {wait:g} "
        "seconds (its answer from Fortnox is late); the next run tries again."
    )


def _refresh(
    *, connection_id: int, needed: Callable[[FortnoxConnection, datetime], bool]
) -> tuple[str, bool]:
    """(access token, whether Fortnox was asked for a new pair) or a typed error."""
    try:
        return _refresh_locked(connection_id=connection_id, needed=needed)
    except _LockWaitOver:
        return _after_lock_wait(connection_id=connection_id, needed=needed)


def _refresh_locked(
    *, connection_id: int, needed: Callable[[FortnoxConnection, datetime], bool]
) -> tuple[str, bool]:
    failure: FortnoxError
    with transaction.atomic():
        connection = _lock_connection(connection_id)
        _ensure_connected(connection)
        now = timezone.now()
        if not needed(connection, now):
            return connection.access_token, False
        if not connection.refresh_token:
            _mark_needs_reactivation(connection, reason="No refresh token is stored.", now=now)
            failure = FortnoxNeedsReactivation(NEEDS_REACTIVATION_MESSAGE)
        else:
            try:
                tokens = oauth_token_refresh(refresh_token=connection.refresh_token)
            except OAuthInvalidGrant as error:
                _mark_needs_reactivation(connection, reason=error.message, now=now)
                failure = FortnoxNeedsReactivation(NEEDS_REACTIVATION_MESSAGE)
            except FortnoxError as error:
                _record_refresh_failure(connection, error=error, now=now)
                if isinstance(error, FortnoxUnavailable) and _still_valid(connection, now):
                    # We refresh ahead of expiry: the current token still works for a while,
                    # and the next request tries the refresh again.
                    return connection.access_token, False
                failure = error
            else:
                _store_refreshed(connection, tokens=tokens, now=now)
                return connection.access_token, True
    raise failure


def _store_refreshed(connection: FortnoxConnection, *, tokens: TokenSet, now: datetime) -> None:
    connection.access_token = tokens.access_token
    connection.access_expires_at = tokens.expires_at
    if tokens.refresh_token:
        connection.refresh_token = tokens.refresh_token
        connection.refresh_token_issued_at = now
    else:
        logger.warning(
            "fortnox connection %s: refresh answer had no refresh token, keeping the old one",
            connection.pk,
        )
    if tokens.scopes:
        connection.scopes = tokens.scopes
    connection.last_refresh_success_at = now
    connection.refresh_failures = 0
    connection.last_refresh_error = ""
    connection.save(
        update_fields=[
            "access_token",
            "access_expires_at",
            "refresh_token",
            "refresh_token_issued_at",
            "scopes",
            "last_refresh_success_at",
            "refresh_failures",
            "last_refresh_error",
            "updated_at",
        ]
    )


def _record_refresh_failure(
    connection: FortnoxConnection, *, error: FortnoxError, now: datetime
) -> None:
    connection.refresh_failures += 1
    connection.last_refresh_failure_at = now
    connection.last_refresh_error = str(error)[:300]
    connection.save(
        update_fields=[
            "refresh_failures",
            "last_refresh_failure_at",
            "last_refresh_error",
            "updated_at",
        ]
    )
    logger.warning(
        "fortnox connection %s: refresh failed (%s in a row): %s",
        connection.pk,
        connection.refresh_failures,
        error,
    )


def _mark_needs_reactivation(connection: FortnoxConnection, *, reason: str, now: datetime) -> None:
    """Called with the connection row locked and still active, so this happens once per incident.
    The tenant's integration stops in the same transaction; the signal goes after commit."""
    connection.status = FortnoxConnection.Status.NEEDS_REACTIVATION
    connection.needs_reactivation_since = now
    connection.refresh_failures += 1
    connection.last_refresh_failure_at = now
    connection.last_refresh_error = reason[:300]
    forgotten = connection.forget_tokens()
    connection.save(
        update_fields=[
            "status",
            "needs_reactivation_since",
            "refresh_failures",
            "last_refresh_failure_at",
            "last_refresh_error",
            *forgotten,
            "updated_at",
        ]
    )
    integration = (
        Integration.objects.select_for_update().filter(tenant_id=connection.tenant_id).first()
    )
    if integration is not None:
        previous = integration.status
        # An integration still being set up was never running; it stays in setup.
        if previous in (Integration.Status.ACTIVE, Integration.Status.PAUSED):
            integration.status = Integration.Status.NEEDS_REACTIVATION
            integration.save(update_fields=["status"])
        integration_event_record(
            integration=integration,
            kind=IntegrationEvent.Kind.TOKEN,
            message="Fortnox refused the refresh token; the connection needs to be reactivated.",
            data={
                "connection": connection.pk,
                "reason": reason[:300],
                "from": previous,
                "to": integration.status,
            },
        )
    logger.warning("fortnox connection %s: needs reactivation (%s)", connection.pk, reason)
    transaction.on_commit(
        lambda: connection_needs_reactivation.send(sender=FortnoxConnection, connection=connection)
    )
