"""Sales orders, Fortnox → warehouse: new and changed orders not yet handled are upserted in Ongoing
by order number; changes and cancellations go through until the warehouse has started on the order.
"""

from django.utils import timezone

from fortnox.client import FortnoxClient
from integrations.errors import SyncError
from integrations.fingerprints import CANCELLED, fingerprint
from integrations.models import SyncFailure
from integrations.processes import SALES_ORDERS
from integrations.selectors import LinkLookup, failed_refs_to_retry, open_failures
from integrations.services.sync import ProcessContext
from ongoing.client import OngoingClient, OngoingNotFound, OngoingRefused, OngoingWorkStarted
from ongoing.mappers import order_to_ongoing
from realtime.services.event_synced import (
    ORDER_LIST_FIELDS,
    EventSyncedRecorder,
    EventSyncedSkips,
)

from .common import (
    OutageBreaker,
    fortnox_client_for,
    object_failed,
    object_written,
    ongoing_client_for,
    pull_since,
    unique,
)

OBJECT_TYPE = "order"
ARTICLE_TYPE = "article"
# Fortnox customer Type → the order type the warehouse gets when the B2B/B2C option is on.
ORDER_TYPES = {
    "COMPANY": ("B2B", "Business to business"),
    "PRIVATE": ("B2C", "Business to consumer"),
}


class ArticleNotInWarehouseYet(SyncError):
    """The warehouse refused an order that has an article this integration has not sent yet:
    the article sync failed or has not reached it. Not the order's fault, and it passes once the
    article is sent, so the order is offered again on the next run (a validation failure would
    wait for the order to change, which may be never)."""

    failure_kind = SyncFailure.Kind.REMOTE


def order_wanted(order: dict, *, options: dict) -> bool:
    """Whether an order not yet in the warehouse should go there, by the process's options."""
    if order.get("Cancelled") or order.get("InvoiceReference"):
        return False
    if options["pull_filter"] == "notcompleted" and not order.get("NotCompleted"):
        return False
    # Fortnox has no "confirmed" state: an order is confirmed when its confirmation was sent.
    return options["required_state"] != "confirmed" or bool(order.get("Sent"))


class OrderSender:
    def __init__(self, context: ProcessContext, fortnox: FortnoxClient, wms: OngoingClient):
        self.context = context
        self.options = context.options
        self.fortnox = fortnox
        self.wms = wms
        self.links = LinkLookup(integration=context.integration, object_type=OBJECT_TYPE)
        self.customers: dict[str, dict] = {}
        self.order_types: dict[str, dict] | None = None
        self.breaker = OutageBreaker()
        # The orders read in full this run, by number.
        self.read: dict[str, dict] = {}
        # What the warehouse refused because it had started on the order, by order number: the
        # same change is not offered again (it waits for the next change in Fortnox).
        self.refused = (
            {
                failure.object_ref: failure.details.get("refused")
                for failure in open_failures(integration=context.integration).filter(
                    process=SALES_ORDERS, object_type=OBJECT_TYPE, kind=SyncFailure.Kind.VALIDATION
                )
            }
            if context.may_have_failures(OBJECT_TYPE)
            else {}
        )

    def handle(self, item: dict) -> bool:
        """Sync one listed order; False when the rate limit or an outage ends the process's run."""
        number = str(item["DocumentNumber"])
        link = self.links.get(number)
        try:
            if item.get("Cancelled"):
                self._cancel(number, link)
                return True
            if (
                link is None
                and self.options["required_state"] == "confirmed"
                and item.get("Sent") is False
            ):
                # The list already shows it is not confirmed: no need to fetch it.
                self._skip(number)
                return True
            order = self.fortnox.order_get(number)
            self.read[number] = order
            if order.get("Cancelled"):
                self._cancel(number, link)
            elif link is None and not order_wanted(order, options=self.options):
                self._skip(number)
            elif link is not None and (
                link.fingerprint == CANCELLED or order.get("InvoiceReference")
            ):
                self._skip(number)  # cancelled or invoiced: no longer the warehouse's to change
            else:
                self._send(number, order, link)
        except SyncError as error:
            return object_failed(
                self.context, self.breaker, error, object_type=OBJECT_TYPE, object_ref=number
            )
        self.breaker.succeeded()
        return True

    def _send(self, number: str, order: dict, link) -> None:
        customer = self._customer(order.get("CustomerNumber"))
        body = order_to_ongoing(
            order,
            goods_owner_id=self.wms.goods_owner_id,
            customer=customer,
            order_type=self._order_type(customer),
            sms_notification=self.options["sms_notification"],
            email_notification=self.options["email_notification"],
        )
        content = fingerprint(body)
        if link is not None and link.fingerprint == content:
            self._skip(number)
            return
        if self.refused.get(number) == content:
            self.context.count("skipped")  # refused before, unchanged since: the failure stays
            return
        try:
            answer = self.wms.order_upsert(order=body)
        except OngoingWorkStarted as error:
            self._refuse(
                number,
                content,
                f"Order {number} changed in Fortnox after the warehouse started working on it; "
                f"change it in the WMS. ({error})",
            )
            return
        except OngoingRefused as error:
            unsent = self._articles_not_sent(body)
            if not unsent:
                raise
            waiting = ArticleNotInWarehouseYet(
                f"Order {number} waits for article {', '.join(unsent)}, which has not been sent "
                f"to the warehouse yet; it is offered again on the next run. ({error})"
            )
            waiting.exchange = error.exchange
            raise waiting from error
        object_written(
            self.context,
            self.links,
            object_type=OBJECT_TYPE,
            fortnox_key=number,
            ongoing_key=str(answer.get("orderId") or ""),
            fingerprint=content,
        )

    def _articles_not_sent(self, body: dict) -> list[str]:
        numbers = unique(line["articleNumber"] for line in body.get("orderLines") or [])
        articles = LinkLookup(integration=self.context.integration, object_type=ARTICLE_TYPE)
        articles.load(numbers)
        return [number for number in numbers if articles.get(number) is None]

    def _cancel(self, number: str, link) -> None:
        if link is None or link.fingerprint == CANCELLED or not link.ongoing_key:
            self._skip(number)
            return
        if self.refused.get(number) == CANCELLED:
            self.context.count("skipped")
            return
        try:
            self.wms.order_cancel(order_id=int(link.ongoing_key))
        except OngoingWorkStarted as error:
            self._refuse(
                number,
                CANCELLED,
                f"Order {number} was cancelled in Fortnox after the warehouse started working on "
                f"it; cancel it in the WMS. ({error})",
            )
            return
        except OngoingNotFound:
            pass  # already gone from the warehouse: the cancellation holds
        object_written(
            self.context,
            self.links,
            object_type=OBJECT_TYPE,
            fortnox_key=number,
            ongoing_key=link.ongoing_key,
            fingerprint=CANCELLED,
        )

    def _customer(self, customer_number) -> dict | None:
        if not customer_number:
            return None
        key = str(customer_number)
        if key not in self.customers:
            self.customers[key] = self.fortnox.customer_get(key)
        return self.customers[key]

    def _order_type(self, customer: dict | None) -> dict | None:
        """B2B/B2C from the customer's type when the option is on: the warehouse's existing type
        (the oldest when there are several), created when missing."""
        if not self.options["order_type_from_customer"] or not customer:
            return None
        wanted = ORDER_TYPES.get(str(customer.get("Type") or "").upper())
        if wanted is None:
            return None
        code, name = wanted
        if self.order_types is None:
            self.order_types = {}
            for order_type in self.wms.order_types():  # oldest first
                key = str(order_type.get("code") or "").upper()
                self.order_types.setdefault(key, order_type)
        if code not in self.order_types:
            self.wms.order_type_create(code=code, name=name)
            self.order_types[code] = {"code": code, "name": name}
        existing = self.order_types[code]
        return {"code": existing.get("code") or code, "name": existing.get("name") or name}

    def _skip(self, number: str) -> None:
        self.context.synced(object_type=OBJECT_TYPE, object_ref=number, outcome="skipped")

    def _refuse(self, number: str, content: str, message: str) -> None:
        self.context.fail(
            object_type=OBJECT_TYPE,
            object_ref=number,
            kind=SyncFailure.Kind.VALIDATION,
            message=message,
            details={"refused": content},
        )


def sales_orders_sync(context: ProcessContext) -> None:
    integration = context.integration
    fortnox = fortnox_client_for(integration=integration)
    sender = OrderSender(context, fortnox, ongoing_client_for(integration=integration))
    started = timezone.now()
    since = pull_since(context)
    if since is None:
        # The first pull takes only the orders the warehouse may get, not the order history.
        if context.options["pull_filter"] == "notcompleted":
            listed = fortnox.orders_list(notcompleted=True)
        else:
            listed = fortnox.orders_list(filter="invoicenotcreated")
    else:
        # Later pulls take every change (one request when nothing changed), cancellations too.
        listed = fortnox.orders_list(lastmodified=since)
    retry = (
        failed_refs_to_retry(integration=integration, process=SALES_ORDERS, object_type=OBJECT_TYPE)
        if context.may_have_failures(OBJECT_TYPE)
        else []
    )
    items = {str(item["DocumentNumber"]): item for item in listed}
    numbers = unique([*items, *retry])
    # Orders an event already brought are skipped unread while the list still shows them as the
    # targeted run saw them (realtime/services/event_synced.py).
    synced = EventSyncedSkips(context, since=since, fields=ORDER_LIST_FIELDS)
    synced.load(items)
    sender.links.load(numbers)
    try:
        for number in numbers:
            if number in items and synced.handled(number, listed=items[number]):
                context.count("skipped")
                continue
            if not sender.handle(items.get(number) or {"DocumentNumber": number}):
                return  # rate limited or an outage: the cursor stays, the next run goes on
    finally:
        synced.forget_unhonoured()
    context.save_cursor(started.isoformat())


def sales_orders_sync_objects(context: ProcessContext, refs: list[str]) -> None:
    """The orders an event named, each through the same handling as a listed one; the cursor
    stays where the scheduled pull left it."""
    integration = context.integration
    sender = OrderSender(
        context,
        fortnox_client_for(integration=integration),
        ongoing_client_for(integration=integration),
    )
    numbers = unique(refs)
    sender.links.load(numbers)
    recorder = EventSyncedRecorder(context, fields=ORDER_LIST_FIELDS)
    for number in numbers:
        if not recorder.through(
            number, lambda n=number: sender.handle({"DocumentNumber": n}), read=sender.read
        ):
            break
    recorder.save()
