"""The token service against the sandbox: rotation, the lost response, reactivation, the refresh
race, keep-alive and disconnect."""

import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from fortnox.client import FortnoxClient
from fortnox.errors import FortnoxNeedsReactivation, FortnoxUnavailable, OAuthInvalidGrant
from fortnox.models import FortnoxConnection
from fortnox.oauth import oauth_token_refresh
from fortnox.sandbox.models import SandboxRefreshToken
from fortnox.services.connections import connection_disconnect
from fortnox.services.tokens import (
    connection_access_token,
    connection_keep_alive,
    connection_token_refresh,
)
from fortnox.signals import connection_needs_reactivation
from fortnox.tasks import fortnox_connections_keep_alive
from integrations.models import Integration, IntegrationEvent
from tests.concurrency import run_concurrently
from tests.factories import OngoingConnectionFactory, TenantFactory
from tests.fortnox.conftest import connect, second_company

REACTIVATION_MESSAGE = "Fortnox refused the refresh token"


@pytest.fixture
def reactivations():
    received = []

    def receiver(sender, connection, **kwargs):
        received.append(connection.pk)

    connection_needs_reactivation.connect(receiver)
    yield received
    connection_needs_reactivation.disconnect(receiver)


@pytest.fixture
def active_integration(connection):
    OngoingConnectionFactory(tenant=connection.tenant)
    integration = Integration.objects.get(tenant=connection.tenant)
    integration.status = Integration.Status.ACTIVE
    integration.save()
    return integration


def reactivation_events(integration):
    return IntegrationEvent.objects.filter(
        integration=integration,
        kind=IntegrationEvent.Kind.TOKEN,
        message__startswith=REACTIVATION_MESSAGE,
    )


def test_tokens_are_encrypted_at_rest(connection):
    with db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM fortnox_fortnoxconnection WHERE id = %s",
            [connection.pk],
        )
        access, refresh = cursor.fetchone()
    assert connection.access_token and connection.refresh_token
    assert connection.access_token not in access
    assert connection.refresh_token not in refresh


def test_a_fresh_token_is_handed_out_without_a_request(connection, sandbox):
    before = len(sandbox.router.calls)
    assert connection_access_token(connection_id=connection.pk) == connection.access_token
    assert len(sandbox.router.calls) == before


def test_an_expiring_token_is_refreshed_ahead_and_the_pair_stored(connection, sandbox):
    FortnoxConnection.objects.filter(pk=connection.pk).update(
        access_expires_at=timezone.now() + timedelta(seconds=60)
    )
    token = connection_access_token(connection_id=connection.pk)
    fresh = FortnoxConnection.objects.get(pk=connection.pk)
    assert token == fresh.access_token != connection.access_token
    assert fresh.refresh_token != connection.refresh_token
    assert fresh.access_expires_at > timezone.now() + timedelta(minutes=50)
    assert fresh.last_refresh_success_at is not None
    assert sandbox.router.count("/oauth-v1/token") == 2  # code exchange + this refresh


def test_rotation_soak_500_refreshes_never_invalid(connection, sandbox, reactivations):
    tokens = set()
    for _ in range(500):
        tokens.add(connection_token_refresh(connection_id=connection.pk))
    connection.refresh_from_db()
    assert len(tokens) == 500
    assert connection.status == FortnoxConnection.Status.ACTIVE
    assert connection.refresh_failures == 0
    assert connection.last_refresh_error == ""
    assert reactivations == []
    issued = SandboxRefreshToken.objects.filter(app=sandbox.app)
    assert issued.count() == 501
    assert issued.filter(rotated_at__isnull=True).count() == 1  # only the one we hold
    assert all(status == 200 for _m, _p, status in sandbox.router.calls)
    # And the last pair works.
    assert FortnoxClient.for_tenant(connection.tenant).company_information()["CompanyName"]


def test_lost_response_ends_in_needs_reactivation_once(
    connection, sandbox, active_integration, reactivations, django_capture_on_commit_callbacks
):
    other_user = second_company()
    other = connect(tenant=TenantFactory(), app=sandbox.app, user=other_user)

    # Fortnox rotates, commits, and the answer never arrives (a dropped connection).
    sandbox.company.lost_response_rate = 1.0
    sandbox.company.save()
    with django_capture_on_commit_callbacks(execute=True):
        # Transient as far as we can tell: the current access token still works meanwhile.
        assert connection_token_refresh(connection_id=connection.pk) == connection.access_token
    connection.refresh_from_db()
    assert connection.status == FortnoxConnection.Status.ACTIVE
    assert connection.refresh_failures == 1

    sandbox.company.lost_response_rate = 0
    sandbox.company.save()
    # The refresh token we hold was rotated away by the lost answer: Fortnox says it is invalid.
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(FortnoxNeedsReactivation) as caught,
    ):
        connection_token_refresh(connection_id=connection.pk)
    assert caught.value.stops_run is True
    assert caught.value.failure_kind == "auth"
    connection.refresh_from_db()
    active_integration.refresh_from_db()
    assert connection.status == FortnoxConnection.Status.NEEDS_REACTIVATION
    assert connection.refresh_token is None
    assert active_integration.status == Integration.Status.NEEDS_REACTIVATION
    assert reactivation_events(active_integration).count() == 1
    assert reactivations == [connection.pk]

    # Asking again sends nothing, records nothing, signals nothing.
    calls = len(sandbox.router.calls)
    with django_capture_on_commit_callbacks(execute=True):
        for ask in (connection_access_token, connection_token_refresh, connection_keep_alive):
            with pytest.raises(FortnoxNeedsReactivation):
                ask(connection_id=connection.pk)
        with pytest.raises(FortnoxNeedsReactivation):
            FortnoxClient.for_tenant(connection.tenant).company_information()
    assert len(sandbox.router.calls) == calls
    assert reactivation_events(active_integration).count() == 1
    assert reactivations == [connection.pk]

    # Nothing else breaks: another company's connection refreshes and calls Fortnox as before.
    assert connection_token_refresh(connection_id=other.pk)
    assert FortnoxClient.for_tenant(other.tenant).company_information()["CompanyName"] == (
        "Andra Bolaget AB"
    )

    # A new consent brings the connection, and the integration, back.
    with django_capture_on_commit_callbacks(execute=True):
        again = connect(tenant=connection.tenant, app=sandbox.app, user=sandbox.user)
    active_integration.refresh_from_db()
    assert again.status == FortnoxConnection.Status.ACTIVE
    assert active_integration.status == Integration.Status.ACTIVE
    assert connection_token_refresh(connection_id=again.pk)


def test_server_errors_and_network_errors_never_mark_reactivation(
    connection, sandbox, reactivations, monkeypatch
):
    sandbox.company.error_rate = 1.0
    sandbox.company.save()
    FortnoxConnection.objects.filter(pk=connection.pk).update(
        access_expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(FortnoxUnavailable):
        connection_access_token(connection_id=connection.pk)
    connection.refresh_from_db()
    assert connection.status == FortnoxConnection.Status.ACTIVE
    assert connection.refresh_failures == 1
    assert "500" in connection.last_refresh_error

    sandbox.company.error_rate = 0
    sandbox.company.save()
    assert connection_access_token(connection_id=connection.pk)
    connection.refresh_from_db()
    assert connection.refresh_failures == 0
    assert reactivations == []


def test_an_integration_being_set_up_stays_in_setup_but_the_event_is_recorded(
    connection, sandbox, django_capture_on_commit_callbacks, reactivations
):
    SandboxRefreshToken.objects.update(revoked_at=timezone.now())
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(FortnoxNeedsReactivation),
    ):
        connection_token_refresh(connection_id=connection.pk)
    integration = Integration.objects.get(tenant=connection.tenant)
    assert integration.status == Integration.Status.SETUP
    assert reactivation_events(integration).count() == 1
    assert reactivations == [connection.pk]


def test_keep_alive_refreshes_only_idle_connections(connection, sandbox, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert connection_keep_alive(connection_id=connection.pk) is False
    FortnoxConnection.objects.filter(pk=connection.pk).update(
        refresh_token_issued_at=timezone.now() - timedelta(days=8)
    )
    assert fortnox_connections_keep_alive() == 1
    assert connection_keep_alive(connection_id=connection.pk) is True
    connection.refresh_from_db()
    assert connection.refresh_token_issued_at > timezone.now() - timedelta(minutes=1)
    assert fortnox_connections_keep_alive() == 0


def test_disconnect_revokes_the_refresh_token(connection, sandbox, active_integration):
    refresh_token = connection.refresh_token
    connection_disconnect(connection=connection)
    connection.refresh_from_db()
    active_integration.refresh_from_db()
    assert connection.status == FortnoxConnection.Status.REVOKED
    assert connection.refresh_token is None and connection.access_token is None
    assert sandbox.router.count("/oauth-v1/revoke") == 1
    assert SandboxRefreshToken.objects.filter(revoked_at__isnull=False).count() == 1
    assert active_integration.status == Integration.Status.PAUSED
    with pytest.raises(OAuthInvalidGrant):
        oauth_token_refresh(refresh_token=refresh_token)


def test_a_rejected_token_replaced_by_another_worker_is_not_refreshed_again(connection, sandbox):
    new = connection_token_refresh(connection_id=connection.pk)
    calls = sandbox.router.count("/oauth-v1/token")
    # A worker still holding the old token was told by Fortnox it is bad: it gets the new one.
    assert (
        connection_token_refresh(
            connection_id=connection.pk, rejected_access_token=connection.access_token
        )
        == new
    )
    assert sandbox.router.count("/oauth-v1/token") == calls


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_refresh_race_eight_workers_one_refresh(connection, sandbox):
    FortnoxConnection.objects.filter(pk=connection.pk).update(
        access_expires_at=timezone.now() + timedelta(seconds=30)
    )
    before = sandbox.router.count("/oauth-v1/token")

    tokens = run_concurrently(8, lambda: connection_access_token(connection_id=connection.pk))

    stored = FortnoxConnection.objects.get(pk=connection.pk)
    assert sandbox.router.count("/oauth-v1/token") - before == 1
    assert len(tokens) == 8
    assert set(tokens) == {stored.access_token}
    assert stored.access_token != connection.access_token
    assert SandboxRefreshToken.objects.filter(rotated_at__isnull=True).count() == 1


def test_a_new_consent_is_kept_even_when_the_integration_cannot_start_yet(
    connection, sandbox, active_integration, django_capture_on_commit_callbacks
):
    SandboxRefreshToken.objects.update(revoked_at=timezone.now())
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(FortnoxNeedsReactivation),
    ):
        connection_token_refresh(connection_id=connection.pk)
    connection.tenant.ongoing_connection.delete()
    again = connect(tenant=connection.tenant, app=sandbox.app, user=sandbox.user)
    active_integration.refresh_from_db()
    assert again.status == FortnoxConnection.Status.ACTIVE
    assert active_integration.status == Integration.Status.NEEDS_REACTIVATION


@contextmanager
def refresh_in_flight_elsewhere(connection):
    """Another worker holds the connection's row lock (as during a refresh whose answer from
    Fortnox does not come) until the block ends."""
    from django.db import transaction

    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                FortnoxConnection.objects.select_for_update().get(pk=connection.pk)
                locked.set()
                release.wait(timeout=60)
        finally:
            db_connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        yield
    finally:
        release.set()
        holder.join()


def expiring_in(connection, seconds: int) -> None:
    FortnoxConnection.objects.filter(pk=connection.pk).update(
        access_expires_at=timezone.now() + timedelta(seconds=seconds)
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_refresh_stuck_elsewhere_is_waited_for_only_so_long(connection, sandbox, settings):
    settings.FORTNOX_REFRESH_LOCK_WAIT_SECONDS = 0.3
    before = sandbox.router.count("/oauth-v1/token")
    # Expired: nothing works without the other worker's new pair; a transient failure.
    expiring_in(connection, -1)
    FortnoxConnection.objects.filter(pk=connection.pk).update(
        refresh_token_issued_at=timezone.now() - timedelta(days=8)
    )
    with refresh_in_flight_elsewhere(connection):
        with pytest.raises(FortnoxUnavailable, match="Another worker has been refreshing"):
            connection_access_token(connection_id=connection.pk)
        # A keep-alive that is due gives up the same way (its task logs it).
        with pytest.raises(FortnoxUnavailable):
            connection_keep_alive(connection_id=connection.pk)
    # Only ahead of expiry: the stored token still works, and is used.
    expiring_in(connection, 60)
    with refresh_in_flight_elsewhere(connection):
        assert connection_access_token(connection_id=connection.pk) == connection.access_token
    # Nobody sent the refresh token meanwhile, nothing was marked.
    assert sandbox.router.count("/oauth-v1/token") == before
    stored = FortnoxConnection.objects.get(pk=connection.pk)
    assert stored.status == FortnoxConnection.Status.ACTIVE
    assert stored.refresh_token == connection.refresh_token
    # Once the other worker lets go, the refresh happens as ever.
    assert connection_access_token(connection_id=connection.pk) != connection.access_token
    assert sandbox.router.count("/oauth-v1/token") == before + 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_lock_wait_bound_leaves_the_callers_transaction_as_it_was(connection, sandbox):
    from django.db import transaction

    expiring_in(connection, -1)
    with transaction.atomic(), db_connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '7s'")
        token = connection_access_token(connection_id=connection.pk)
        cursor.execute("SELECT current_setting('lock_timeout')")
        assert cursor.fetchone() == ("7s",)
    assert (
        token
        == FortnoxConnection.objects.get(pk=connection.pk).access_token
        != (connection.access_token)
    )
