"""What every process body needs: the two API clients of its company and its incremental cursor."""

from datetime import datetime, timedelta

from fortnox.client import FortnoxClient
from integrations.errors import SyncError
from integrations.models import Integration
from integrations.services.sync import ProcessContext
from ongoing.client import OngoingClient
from ongoing.models import OngoingConnection

# Fortnox's `lastmodified` has minute resolution, is read in Swedish local time and is compared
# with Fortnox's clock, not ours: each pull reaches this far back before the last run's start so an
# edit made while that run was listing is not missed. Objects seen twice cost no write (their
# fingerprint is unchanged).
CURSOR_OVERLAP = timedelta(minutes=5)


class OngoingNotConnected(SyncError):
    failure_kind = "auth"
    stops_run = True


def fortnox_client_for(*, integration: Integration) -> FortnoxClient:
    return FortnoxClient.for_tenant(integration.tenant)


def ongoing_client_for(*, integration: Integration) -> OngoingClient:
    connection = OngoingConnection.objects.filter(
        tenant=integration.tenant, status=OngoingConnection.Status.VERIFIED
    ).first()
    if connection is None:
        raise OngoingNotConnected(
            "The Ongoing WMS connection is missing or its credentials were refused; "
            "enter them again under Warehouse."
        )
    return OngoingClient.for_connection(connection)


def pull_since(context: ProcessContext) -> datetime | None:
    """Where this run's incremental pull starts, or None for a first (full) pull."""
    value = context.cursor()
    if not value:
        return None
    return datetime.fromisoformat(value) - CURSOR_OVERLAP


def unique(values) -> list[str]:
    return list(dict.fromkeys(str(value) for value in values))
