"""Article registry, Fortnox → warehouse: each changed article is fetched in full, mapped, and
upserted in Ongoing unless what we would send equals what we last sent."""

from datetime import datetime
from functools import cached_property

from django.utils import timezone

from fortnox.client import FortnoxClient
from integrations.errors import SyncError
from integrations.fingerprints import fingerprint
from integrations.processes import ARTICLES
from integrations.selectors import (
    LinkLookup,
    failed_refs_to_retry,
    suppliers_by_number,
    suppliers_changed_since,
)
from integrations.services.sync import ProcessContext
from ongoing.client import OngoingClient
from ongoing.mappers import article_to_ongoing
from realtime.services.event_synced import (
    ARTICLE_LIST_FIELDS,
    EventSyncedRecorder,
    EventSyncedSkips,
)

from .common import (
    FORTNOX_ARTICLES_CHANGED,
    OutageBreaker,
    fortnox_client_for,
    object_failed,
    object_written,
    ongoing_client_for,
    pull_since,
    run_learned,
    unique,
)

OBJECT_TYPE = "article"


class ArticleSender:
    """Sends articles of one company to its warehouse and reports each on the context."""

    def __init__(self, context: ProcessContext, fortnox: FortnoxClient, wms: OngoingClient):
        self.context = context
        self.fortnox = fortnox
        self.wms = wms
        self.links = LinkLookup(integration=context.integration, object_type=OBJECT_TYPE)
        self.breaker = OutageBreaker()
        # The articles read in full this run, by number.
        self.read: dict[str, dict] = {}

    @cached_property
    def suppliers(self) -> dict:
        """Read when the first article is sent: a quiet run asks nothing."""
        return suppliers_by_number(integration=self.context.integration)

    def send(self, number: str) -> bool:
        """Sync one article; False when the rate limit or an outage ends the process's run."""
        try:
            article = self.fortnox.article_get(number)
            self.read[number] = article
            supplier = self.suppliers.get(str(article.get("SupplierNumber") or ""))
            body = article_to_ongoing(
                article,
                goods_owner_id=self.wms.goods_owner_id,
                supplier=supplier.data if supplier else None,
            )
            content = fingerprint(body)
            link = self.links.get(number)
            if link is not None and link.fingerprint == content:
                self.context.synced(object_type=OBJECT_TYPE, object_ref=number, outcome="skipped")
                self.breaker.succeeded()
                return True
            answer = self.wms.article_upsert(article=body)
            object_written(
                self.context,
                self.links,
                object_type=OBJECT_TYPE,
                fortnox_key=number,
                ongoing_key=str(answer.get("articleSystemId") or ""),
                fingerprint=content,
            )
        except SyncError as error:
            return object_failed(
                self.context, self.breaker, error, object_type=OBJECT_TYPE, object_ref=number
            )
        self.breaker.succeeded()
        return True


def articles_sync(context: ProcessContext) -> None:
    integration = context.integration
    fortnox = fortnox_client_for(integration=integration)
    sender = ArticleSender(context, fortnox, ongoing_client_for(integration=integration))
    started = timezone.now()
    since = pull_since(context)
    # The first pull takes the active articles only; later pulls take every change, so an
    # article made inactive in Fortnox becomes inactive in the warehouse.
    items = {
        str(item["ArticleNumber"]): item
        for item in fortnox.articles_list(lastmodified=since, filter=None if since else "active")
    }
    if since is not None:
        # For the stock balance at the run's end: whether Fortnox shows any article changed.
        run_learned(context)[FORTNOX_ARTICLES_CHANGED] = (since, bool(items), started)
    # Articles (and suppliers' articles) an event already brought are skipped unread while the
    # list still shows them as the targeted run saw them (realtime/services/event_synced.py).
    synced = EventSyncedSkips(context, since=since, fields=ARTICLE_LIST_FIELDS)
    numbers = list(items)
    of_suppliers: set[str] = set()
    if since is not None:
        # A supplier changed since this process last finished (the supplier process just ran):
        # the articles that carry it are sent again, with its new name — unless its event's
        # targeted run sent them after the change.
        changed = list(
            suppliers_changed_since(
                integration=integration, since=datetime.fromisoformat(context.cursor())
            )
        )
        synced.load([*items, *(f"{SUPPLIER_REF}{supplier.number}" for supplier in changed)])
        for supplier in changed:
            if synced.handled(f"{SUPPLIER_REF}{supplier.number}", changed_at=supplier.updated_at):
                continue
            listed = [
                str(item["ArticleNumber"])
                for item in fortnox.articles_list(supplier_number=supplier.number)
            ]
            of_suppliers.update(listed)
            numbers += listed
    retry = (
        failed_refs_to_retry(integration=integration, process=ARTICLES, object_type=OBJECT_TYPE)
        if context.may_have_failures(OBJECT_TYPE)
        else []
    )
    numbers = unique([*numbers, *retry])
    sender.links.load(numbers)
    try:
        for number in numbers:
            if (
                number in items
                and number not in of_suppliers
                and synced.handled(number, listed=items[number])
            ):
                context.count("skipped")
                continue
            if not sender.send(number):
                return  # rate limited or an outage: the cursor stays, the next run goes on
    finally:
        synced.forget_unhonoured()
    context.save_cursor(started.isoformat())


# A targeted reference of this form stands for every article of a supplier that changed: the
# supplier event's targeted run sends them again with the supplier's new data.
SUPPLIER_REF = "supplier:"


def articles_sync_objects(context: ProcessContext, refs: list[str]) -> None:
    """The articles an event named (and the articles of a changed supplier), each through the same
    sending as a pulled one; the cursor stays where the scheduled pull left it."""
    integration = context.integration
    fortnox = fortnox_client_for(integration=integration)
    sender = ArticleSender(context, fortnox, ongoing_client_for(integration=integration))
    numbers = []
    suppliers = [ref for ref in refs if ref.startswith(SUPPLIER_REF)]
    for ref in suppliers:
        numbers += [
            item["ArticleNumber"]
            for item in fortnox.articles_list(supplier_number=ref[len(SUPPLIER_REF) :])
        ]
    numbers = unique([*numbers, *(ref for ref in refs if not ref.startswith(SUPPLIER_REF))])
    sender.links.load(numbers)
    recorder = EventSyncedRecorder(context, fields=ARTICLE_LIST_FIELDS)
    finished = True
    for number in numbers:
        if not recorder.through(number, lambda n=number: sender.send(n), read=sender.read):
            finished = False
            break
    recorder.save()
    if finished:
        # Every article of these suppliers went through (or has its own failure, retried by
        # the scheduled run): the scheduled run need not list them again.
        supplier_records = EventSyncedRecorder(context)
        for ref in suppliers:
            supplier_records.handled(ref, full=None, failed=False)
        supplier_records.save()
