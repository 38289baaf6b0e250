"""What targeted runs synced, so that the next scheduled run does not read it again.

A change an event brought is synced within seconds by a targeted run, and the next scheduled pull
still lists it (it changed inside the pull's window). Reading it again would only find what was
just sent. So a targeted run records, per object, a fingerprint of the fields Fortnox's list shows
(computed from the full object it read), and the scheduled run skips a listed object without
reading it when all of these hold:

- the event stream is healthy: the consumer is connected and its heartbeat is fresh (a consumer
  that is down delivers nothing, so then every listed object is read, as without events);
- the record is inside the pull's window (a record older than the window cannot account for a
  change the list shows inside it);
- the list entry still shows exactly what the record saw.

Anything else is read as before, and a record the scheduled run did not honour is deleted. What
this gives up: a change to a field the list does not show (a delivery address, a row with the same
total), made after a targeted run inside the same window, whose event is lost while the stream
reports itself healthy, waits for the object's next change. Events are delivered at least once and
replayed from the stored offset after a reconnect, so that takes Fortnox losing an event."""

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from integrations.fingerprints import fingerprint
from integrations.models import Heartbeat, Integration
from integrations.services.sync import ProcessContext

from ..models import EventSynced

# A record older than the longest interval (a day) and its overlap is outside every pull's window.
KEEP = timedelta(days=2)

# The fields Fortnox's lists carry (and the sandbox's, which copies them). Should Fortnox's list
# lack one, its entries never match and every listed object is read: slower, never wrong.
ORDER_LIST_FIELDS = (
    "Cancelled",
    "Currency",
    "CustomerName",
    "CustomerNumber",
    "DeliveryDate",
    "DocumentNumber",
    "OrderDate",
    "OrderType",
    "Sent",
    "Total",
)
ARTICLE_LIST_FIELDS = (
    "ArticleNumber",
    "Description",
    "DisposableQuantity",
    "EAN",
    "PurchasePrice",
    "SalesPrice",
    "QuantityInStock",
    "ReservedQuantity",
    "StockPlace",
    "Unit",
    "VAT",
)


# A plain decimal number as lists and objects write them; anything else (an exponent, a date, a
# text) is compared as it is written.
PLAIN_NUMBER = re.compile(r"-?\d{1,30}(\.\d{1,30})?")


def _canonical(value):
    """Lists give some numbers as strings ("12.50") where the full object gives 12.5."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal | str):
        text = str(value).strip()
        if PLAIN_NUMBER.fullmatch(text):
            return format(Decimal(text).normalize(), "f")
        return text
    return value


def listed_fingerprint(data: dict, fields: tuple[str, ...]) -> str:
    """What a list entry shows of an object, as a fingerprint; from the entry or the full object."""
    return fingerprint({name: _canonical(data.get(name)) for name in fields})


def fortnox_events_healthy(*, now: datetime | None = None) -> bool:
    from ..health import STALE_AFTER
    from .fortnox_events import HEARTBEAT

    now = now or timezone.now()
    beat = Heartbeat.objects.filter(name=HEARTBEAT).values_list("beat_at", "details").first()
    if beat is None:
        return False
    beat_at, details = beat
    return bool((details or {}).get("connected")) and now - beat_at <= STALE_AFTER


class EventSyncedRecorder:
    """For a targeted run: what each object looked like when it went through, saved at the end in
    one upsert; an object that failed loses its record."""

    def __init__(self, context: ProcessContext, *, fields: tuple[str, ...] = ()):
        self.context = context
        self.fields = fields
        self.listed: dict[str, str] = {}
        self.failed: set[str] = set()

    def handled(self, ref: str, *, full: dict | None, failed: bool) -> None:
        ref = str(ref)
        if failed or (self.fields and full is None):
            self.listed.pop(ref, None)
            self.failed.add(ref)
            return
        self.failed.discard(ref)
        self.listed[ref] = listed_fingerprint(full, self.fields) if self.fields else ""

    def through(self, ref: str, send: Callable[[], bool], *, read: dict[str, dict]) -> bool:
        """Send one object (`send` says whether the run goes on) and record how it went: the
        fingerprint of the object as it was read in full (`read`, by reference), or no record
        when it failed."""
        failed = self.context.counts["failed"]
        going = send()
        self.handled(ref, full=read.get(ref), failed=self.context.counts["failed"] > failed)
        return going

    def save(self) -> None:
        integration, process = self.context.integration, self.context.process.key
        if self.failed:
            EventSynced.objects.filter(
                integration=integration, process=process, object_ref__in=self.failed
            ).delete()
        if not self.listed:
            return
        now = timezone.now()
        EventSynced.objects.bulk_create(
            [
                EventSynced(
                    integration=integration,
                    process=process,
                    object_ref=ref,
                    listed=listed,
                    synced_at=now,
                )
                for ref, listed in self.listed.items()
            ],
            update_conflicts=True,
            unique_fields=["integration", "process", "object_ref"],
            update_fields=["listed", "synced_at"],
        )


class EventSyncedSkips:
    """For a scheduled pull: which listed objects a targeted run already synced. Reads nothing
    when the list is empty or the pull is a first one."""

    def __init__(
        self, context: ProcessContext, *, since: datetime | None, fields: tuple[str, ...] = ()
    ):
        self.integration: Integration = context.integration
        self.process = context.process.key
        self.since = since
        self.fields = fields
        self.records: dict[str, tuple[str, datetime]] = {}
        self.healthy = False
        self.unhonoured: list[str] = []

    def load(self, refs) -> None:
        refs = [str(ref) for ref in refs]
        if self.since is None or not refs:
            return
        self.records = {
            ref: (listed, synced_at)
            for ref, listed, synced_at in EventSynced.objects.filter(
                integration=self.integration, process=self.process, object_ref__in=refs
            ).values_list("object_ref", "listed", "synced_at")
        }
        if self.records:
            self.healthy = fortnox_events_healthy()

    def handled(self, ref: str, *, listed: dict | None = None, changed_at=None) -> bool:
        """Whether the object needs nothing: a targeted run synced it inside this pull's window
        (and after `changed_at`, when given), and the list (`listed`) still shows what it saw."""
        record = self.records.get(str(ref))
        if record is None:
            return False
        fingerprint_seen, synced_at = record
        if (
            self.healthy
            and synced_at >= self.since
            and (changed_at is None or synced_at >= changed_at)
            and (listed is None or fingerprint_seen == listed_fingerprint(listed, self.fields))
        ):
            return True
        self.unhonoured.append(str(ref))
        return False

    def forget_unhonoured(self) -> None:
        """Records the run did not trust are dropped: the object was read and synced anew."""
        if self.unhonoured:
            EventSynced.objects.filter(
                integration=self.integration, process=self.process, object_ref__in=self.unhonoured
            ).delete()
            self.unhonoured = []


def event_synced_prune(*, now: datetime | None = None) -> int:
    """Records no scheduled run can honour any more: older than any pull's window."""
    deleted, _ = EventSynced.objects.filter(synced_at__lt=(now or timezone.now()) - KEEP).delete()
    return deleted
