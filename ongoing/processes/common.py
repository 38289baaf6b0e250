"""What every process body needs: the two API clients of its company and its incremental cursor."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from fortnox.client import ConnectionTokens, FortnoxClient
from fortnox.errors import FortnoxNotConnected, FortnoxRateLimited, FortnoxUnavailable
from integrations.errors import SyncError, failure_details
from integrations.models import Integration
from integrations.processes import PURCHASE_ORDERS, STOCK_BALANCE, WAREHOUSE_MODULE
from integrations.selectors import LinkLookup
from integrations.services.links import record_link_save
from integrations.services.sync import ProcessContext
from ongoing.client import OngoingClient, OngoingServerError, OngoingUnreachable
from ongoing.models import OngoingConnection

# Fortnox's `lastmodified` has minute resolution, is read in Swedish local time and is compared
# with Fortnox's clock, not ours: each pull reaches this far back before the last run's start so an
# edit made while that run was listing is not missed. Objects seen twice cost no write (their
# fingerprint is unchanged).
CURSOR_OVERLAP = timedelta(minutes=5)


# After this many objects in a row failed because Fortnox or the warehouse did not answer, the
# process stops for this run instead of recording the same outage on every remaining object.
OUTAGE_STREAK = 3


class OngoingNotConnected(SyncError):
    failure_kind = "auth"
    stops_run = True


def _run_clients(integration: Integration) -> dict:
    """The clients of one run, shared by its processes: the engine loads the integration once
    per run, so the cache lives exactly as long as the run."""
    return integration.__dict__.setdefault("_run_clients", {})


def fortnox_client_for(*, integration: Integration) -> FortnoxClient:
    """The run's Fortnox client, made from the connection the run read when it started (or read
    now, when the integration was loaded without it)."""
    clients = _run_clients(integration)
    if "fortnox" not in clients:
        connection = getattr(integration.tenant, "fortnox_connection", None)
        if connection is None:
            raise FortnoxNotConnected("Fortnox is not connected for this company.")
        clients["fortnox"] = FortnoxClient(tokens=ConnectionTokens(connection))
    return clients["fortnox"]


def ongoing_client_for(*, integration: Integration) -> OngoingClient:
    clients = _run_clients(integration)
    if "ongoing" not in clients:
        connection = getattr(integration.tenant, "ongoing_connection", None)
        if connection is None or connection.status != OngoingConnection.Status.VERIFIED:
            raise OngoingNotConnected(
                "The Ongoing WMS connection is missing or its credentials were refused; "
                "enter them again under Warehouse."
            )
        clients["ongoing"] = OngoingClient.for_connection(connection)
    return clients["ongoing"]


def pull_since(context: ProcessContext) -> datetime | None:
    """Where this run's incremental pull starts, or None for a first (full) pull."""
    value = context.cursor()
    if not value:
        return None
    return datetime.fromisoformat(value) - CURSOR_OVERLAP


class OutageBreaker:
    """Counts consecutive outage failures; each object's outcome is reported to it."""

    def __init__(self, limit: int = OUTAGE_STREAK):
        self.limit = limit
        self.streak = 0

    def succeeded(self) -> None:
        self.streak = 0

    def failed(self, error: Exception) -> bool:
        """True when the process should stop for this run."""
        if isinstance(error, FortnoxRateLimited):
            return True
        if isinstance(error, FortnoxUnavailable | OngoingUnreachable | OngoingServerError):
            self.streak += 1
            return self.streak >= self.limit
        self.streak = 0
        return False


def object_failed(
    context: ProcessContext, breaker: OutageBreaker, error: SyncError, *, object_type, object_ref
) -> bool:
    """Record why one object failed, with the HTTP exchange behind it; returns whether the
    process may go on with the next object. An error that stops the whole run is raised again."""
    if error.stops_run:
        raise error
    context.fail(
        object_type=object_type,
        object_ref=str(object_ref),
        kind=error.failure_kind,
        message=str(error),
        details=failure_details(error),
    )
    return not breaker.failed(error)


def object_written(
    context: ProcessContext,
    links: LinkLookup,
    *,
    object_type: str,
    fortnox_key: str,
    ongoing_key: str,
    fingerprint: str,
) -> None:
    """The warehouse now holds what was sent for a Fortnox object: remember it on the object's
    link, and count the object created (it had no link) or updated."""
    had_link = links.get(fortnox_key) is not None
    links[fortnox_key] = record_link_save(
        integration=context.integration,
        object_type=object_type,
        fortnox_key=fortnox_key,
        ongoing_key=ongoing_key,
        fingerprint=fingerprint,
    )
    context.synced(
        object_type=object_type,
        object_ref=fortnox_key,
        outcome="updated" if had_link else "created",
    )


def unique(values) -> list[str]:
    return list(dict.fromkeys(str(value) for value in values))


# The processes that read what the warehouse received, returned and adjusted, or its stock, and
# so may skip those lists while no stock moved (warehouse_quiet).
STOCK_WATCHERS = (PURCHASE_ORDERS, WAREHOUSE_MODULE, STOCK_BALANCE)


# Keys of run_learned: (since, whether Fortnox listed any article changed since, when the list
# began), from the article pull; True once fulfilment reported a delivery to Fortnox in this run;
# (since, whether any article's stock moved since), from the stock probe (warehouse_quiet).
FORTNOX_ARTICLES_CHANGED = "fortnox_articles_changed"
FORTNOX_STOCK_TOUCHED = "fortnox_stock_touched"
STOCK_MOVED = "stock_moved"


def run_learned(context: ProcessContext) -> dict:
    """What the processes of this run learned for each other (RunMemory.learned); a dict that is
    forgotten at once when the process runs outside a run."""
    return context.memory.learned if context.memory is not None else {}


def full_pass_began(cursor: str | None) -> datetime | None:
    """When a watcher's last full pass began: its cursor, or the cursor's first half when it also
    says how far a later quiet run checked ("<full pass> <checked>", the stock balance's)."""
    return datetime.fromisoformat(cursor.split()[0]) if cursor else None


def _full_pass_due(cursor: str | None) -> bool:
    began = full_pass_began(cursor)
    every = settings.ONGOING_FULL_PASS_HOURS
    return began is None or not every or timezone.now() - began >= timedelta(hours=every)


def warehouse_quiet(context: ProcessContext, wms: OngoingClient) -> bool:
    """Whether this run may skip listing what the warehouse received, returned and adjusted (or
    its stock) since the process's last full pass (its cursor, the time that pass started): true
    when a pass ran within ONGOING_FULL_PASS_HOURS and no article's stock moved since it began. One
    request answers it for every such process of the run: the first page, of one article, of
    GET articles?stockInfoChangedFrom=, from the earliest of their cursors.

    UNVERIFIED: that Ongoing moves an article's stockInfoChanged time whenever its stock moves,
    for receipts, returns put back on the shelf and inventory adjustments alike (the sandbox
    does). A run that skips leaves its cursor where it was, so the next full pass (at the latest
    after ONGOING_FULL_PASS_HOURS) lists from there: what the assumption missed comes late but is
    not lost. ONGOING_FULL_PASS_HOURS=0 stops trusting it."""
    cursor = context.cursor()
    if _full_pass_due(cursor):
        return False
    since = full_pass_began(cursor)
    memory = context.memory
    if memory is not None:
        for key in STOCK_WATCHERS:
            other = memory.cursors.get(key)
            if key in memory.enabled and not _full_pass_due(other):
                since = min(since, full_pass_began(other))
    since -= CURSOR_OVERLAP
    learned = run_learned(context)
    probed = learned.get(STOCK_MOVED)
    if probed is None or probed[0] > since:
        page = next(iter(wms.articles_list(stock_changed_from=since, page_size=1)), None)
        probed = learned[STOCK_MOVED] = (since, page is not None)
    return not probed[1]
