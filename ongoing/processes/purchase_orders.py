"""Purchase orders, Fortnox → warehouse → Fortnox (needs the warehouse module).

Out: Fortnox Lager purchase orders in state SENT with purchase type WAREHOUSE are upserted in
Ongoing by number (the Fortnox id), unless what we would send equals what we last sent.

Back: each receival the warehouse reports becomes one incoming-goods document in Fortnox, created,
released and completed; the purchase order is completed when the warehouse marks it Deflection or
Received; then the receipt is acknowledged in Ongoing. Every receival is an IncomingGoodsReceipt
row recorded before anything is sent and moved on after each step; the quantities still to book
are what the warehouse received minus every receipt recorded, so neither a crash nor a receipt
that arrives between reading and acknowledging books goods twice or loses them.

The create is the one step that is not safe to repeat blindly: when its answer is lost (or the
worker dies before recording the id), Fortnox may hold the document already. So a receipt left
"creating" by an earlier attempt first looks for incoming goods with its deliveryNoteId, which
names the receival ("Ongoing <purchase order>-<receival>"), and carries on with the one it finds;
only when there is none does it create them."""

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from fortnox.client import FortnoxClient
from fortnox.errors import FortnoxAuthError, FortnoxValidationError
from integrations.errors import SyncError
from integrations.fingerprints import fingerprint
from integrations.models import IncomingGoodsReceipt, SyncFailure
from integrations.selectors import LinkLookup
from integrations.services.links import record_link_save
from integrations.services.sync import ProcessContext
from ongoing.client import OngoingClient, OngoingWorkStarted
from ongoing.mappers import (
    decimal_or_none,
    incoming_goods_document,
    purchase_order_to_ongoing,
    receival_quantities,
)
from ongoing.statuses import PurchaseOrderStatus

from .common import (
    CURSOR_OVERLAP,
    OutageBreaker,
    fortnox_client_for,
    object_failed,
    object_written,
    ongoing_client_for,
    warehouse_quiet,
)

OBJECT_TYPE = "purchase_order"
# The purchase orders this integration has completed in Fortnox, by Fortnox id.
COMPLETED_TYPE = "purchase_order_completed"
FINISHED = (PurchaseOrderStatus.DEFLECTION, PurchaseOrderStatus.RECEIVED)
Step = IncomingGoodsReceipt.Step

NO_PERMISSION = (
    "Fortnox refused to show the purchase orders: the keys have no permission for the warehouse "
    "module. Keys generated before Fortnox Lager was activated lack it: connect Fortnox again to "
    "generate new keys, with a Fortnox user who has access to the warehouse module, and check "
    "that Fortnox Lager is activated. ({error})"
)
INCOMING_GOODS_REFUSED = (
    "Fortnox refused the incoming goods for purchase order {number}: {error}. Make sure incoming "
    "goods is activated in Fortnox (Settings → Warehouse → Incoming goods) and that the keys were "
    "generated after Fortnox Lager was activated."
)


class PurchaseOrdersRefused(SyncError):
    failure_kind = SyncFailure.Kind.VALIDATION


class IncomingGoodsRefused(SyncError):
    failure_kind = SyncFailure.Kind.VALIDATION


def _pull(context: ProcessContext, fortnox: FortnoxClient, wms: OngoingClient) -> None:
    links = LinkLookup(integration=context.integration, object_type=OBJECT_TYPE)
    try:
        listed = fortnox.purchase_orders_list(state="SENT", purchase_type="WAREHOUSE")
    except FortnoxAuthError as error:
        if error.status != 403:
            raise
        raise PurchaseOrdersRefused(NO_PERMISSION.format(error=error)) from error
    breaker = OutageBreaker()
    listed = list(listed)
    links.load(str(item["id"]) for item in listed)
    for item in listed:
        number = str(item["id"])
        try:
            purchase_order = item if item.get("rows") else fortnox.purchase_order_get(number)
            body = purchase_order_to_ongoing(purchase_order, goods_owner_id=wms.goods_owner_id)
            content = fingerprint(body)
            link = links.get(number)
            if link is not None and link.fingerprint == content:
                context.synced(object_type=OBJECT_TYPE, object_ref=number, outcome="skipped")
                continue
            try:
                answer = wms.purchase_order_upsert(purchase_order=body)
            except OngoingWorkStarted:
                # The warehouse has started receiving it: the advice is no longer ours to change.
                context.synced(object_type=OBJECT_TYPE, object_ref=number, outcome="skipped")
                continue
            object_written(
                context,
                links,
                object_type=OBJECT_TYPE,
                fortnox_key=number,
                ongoing_key=str(answer.get("purchaseOrderId") or ""),
                fingerprint=content,
            )
        except SyncError as error:
            if not object_failed(
                context, breaker, error, object_type=OBJECT_TYPE, object_ref=number
            ):
                return
            continue
        breaker.succeeded()


class ReceiptReporter:
    def __init__(self, context: ProcessContext, fortnox: FortnoxClient, wms: OngoingClient):
        self.context = context
        self.fortnox = fortnox
        self.wms = wms
        self.by_ongoing_id = LinkLookup(
            integration=context.integration, object_type=OBJECT_TYPE, by="ongoing_key"
        )
        self.completed = LinkLookup(integration=context.integration, object_type=COMPLETED_TYPE)

    def handle(self, wms_purchase_order: dict) -> None:
        info = wms_purchase_order["purchaseOrderInfo"]
        link = self.by_ongoing_id.get(info["purchaseOrderId"])
        number = link.fortnox_key if link else None
        if number is None:
            self.context.count("skipped")  # not a purchase order this integration sent
            return
        receipts = list(
            IncomingGoodsReceipt.objects.filter(
                integration=self.context.integration, purchase_order=number
            ).order_by("sequence")
        )
        fortnox_po = None
        unfinished = [receipt for receipt in receipts if receipt.step != Step.COMPLETED]
        for receipt in unfinished:
            fortnox_po = fortnox_po or self.fortnox.purchase_order_get(number)
            self._finish(receipt, fortnox_po)
        booked: dict[str, Decimal] = {}
        for receipt in receipts:
            for row_id, quantity in receipt.quantities.items():
                booked[row_id] = booked.get(row_id, Decimal(0)) + (
                    decimal_or_none(quantity, what="booked") or Decimal(0)
                )
        quantities = receival_quantities(wms_purchase_order, booked)
        if quantities:
            receipt = IncomingGoodsReceipt.objects.create(
                integration=self.context.integration,
                purchase_order=number,
                sequence=len(receipts) + 1,
                quantities=quantities,
            )
            fortnox_po = fortnox_po or self.fortnox.purchase_order_get(number)
            self._finish(receipt, fortnox_po)
            self.context.count("created")
        status = _status(info)
        completing = status in FINISHED and number not in self.completed
        if not (quantities or unfinished or completing or unreported(wms_purchase_order)):
            # Listed because goods arrived lately, all of them booked already: nothing to do.
            self.context.synced(object_type=OBJECT_TYPE, object_ref=number, outcome="skipped")
            return
        if completing:
            self.fortnox.purchase_order_complete(number)
            self.completed[number] = record_link_save(
                integration=self.context.integration,
                object_type=COMPLETED_TYPE,
                fortnox_key=number,
                ongoing_key=str(info["purchaseOrderId"]),
            )
        # Housekeeping only: what is booked is counted from the receipts above, not from this.
        self.wms.purchase_order_set_reported_received(
            purchase_order_id=int(info["purchaseOrderId"])
        )
        self.context.synced(object_type=OBJECT_TYPE, object_ref=number, outcome="updated")

    def _finish(self, receipt: IncomingGoodsReceipt, fortnox_po: dict) -> None:
        number = receipt.purchase_order
        if receipt.step in (Step.RECORDED, Step.CREATING):
            delivery_note_id = f"Ongoing {number}-{receipt.sequence}"
            # An earlier attempt may have created them and lost the answer (or died after).
            created = (
                self._created_before(delivery_note_id) if receipt.step == Step.CREATING else None
            )
            self._step(receipt, Step.CREATING)
            if created is None:
                document = incoming_goods_document(
                    fortnox_po,
                    receipt.quantities,
                    delivery_note_id=delivery_note_id,
                    date=timezone.localdate().isoformat(),
                )
                try:
                    created = self.fortnox.incoming_goods_create(document)
                except (FortnoxValidationError, FortnoxAuthError) as error:
                    raise IncomingGoodsRefused(
                        INCOMING_GOODS_REFUSED.format(number=number, error=error)
                    ) from error
            receipt.incoming_goods_id = str(created["id"])
            self._step(receipt, Step.CREATED)
        if receipt.step in (Step.CREATED, Step.RELEASING):
            was_releasing = receipt.step == Step.RELEASING
            self._step(receipt, Step.RELEASING)
            try:
                self.fortnox.incoming_goods_release(receipt.incoming_goods_id)
            except FortnoxValidationError:
                if not was_releasing:
                    self._step(receipt, Step.CREATED)
                    raise
                # Released by the attempt that crashed before recording it (Fortnox refuses a
                # second release).
            self._step(receipt, Step.RELEASED)
        if receipt.step == Step.RELEASED:
            self.fortnox.incoming_goods_complete(
                receipt.incoming_goods_id, booking_date=timezone.localdate().isoformat()
            )
            self._step(receipt, Step.COMPLETED)

    def _created_before(self, delivery_note_id: str) -> dict | None:
        """The incoming goods an earlier attempt created for this receival, if Fortnox has them
        (the oldest, should there be more)."""
        found = [
            goods
            for goods in self.fortnox.incoming_goods_list(delivery_note=delivery_note_id)
            if goods.get("deliveryNoteId") == delivery_note_id and not goods.get("voided")
        ]
        return min(found, key=lambda goods: int(goods["id"])) if found else None

    @staticmethod
    def _step(receipt: IncomingGoodsReceipt, step: str) -> None:
        receipt.step = step
        receipt.save(update_fields=["step", "incoming_goods_id", "updated_at"])


def _status(info: dict):
    """The warehouse purchase order's status number, or None."""
    status = info.get("purchaseOrderStatus")
    return status.get("number") if isinstance(status, dict) else None


def unreported(wms_purchase_order: dict) -> bool:
    """Whether the warehouse shows received goods not yet acknowledged."""
    return any(
        decimal_or_none(line.get("receivedNumberOfItems"), what="received")
        != decimal_or_none(line.get("reportedNumberOfItems"), what="reported")
        for line in wms_purchase_order.get("purchaseOrderLines") or []
    )


def received_since(context: ProcessContext, wms: OngoingClient) -> list[dict]:
    """Purchase orders that received goods since this process last finished. Acknowledging sets
    the warehouse's reported quantity to what it has received by then: goods that arrive between
    a run's reading and its acknowledging are acknowledged without being booked, and the report
    flag never shows them again; this listing does."""
    cursor = context.cursor()
    if not cursor:
        return []
    since = datetime.fromisoformat(cursor) - CURSOR_OVERLAP
    return [item for page in wms.purchase_orders_list(received_from=since) for item in page.items]


def _to_report(
    context: ProcessContext, reporter: "ReceiptReporter", wms: OngoingClient, *, receipts: bool
) -> dict:
    """The warehouse purchase orders to handle: those with receipts not yet reported, those that
    received goods since the last run (received_since), and those of ours the warehouse closed
    (Deflection, Received) since the last run without receiving anything more, which the report
    flag alone would never show again. Without receipts (no stock moved, warehouse_quiet) only
    the closed ones are listed."""
    listed = {}
    if receipts:
        for page in wms.purchase_orders_list(only_lines_to_report=True):
            for item in page.items:
                listed[item["purchaseOrderInfo"]["purchaseOrderId"]] = item
        for item in received_since(context, wms):
            listed.setdefault(item["purchaseOrderInfo"]["purchaseOrderId"], item)
    cursor = context.cursor()
    since = datetime.fromisoformat(cursor) - CURSOR_OVERLAP if cursor else None
    for page in wms.purchase_orders_list(status_changed_from=since):
        reporter.by_ongoing_id.load(
            item["purchaseOrderInfo"]["purchaseOrderId"] for item in page.items
        )
        for item in page.items:
            info = item["purchaseOrderInfo"]
            link = reporter.by_ongoing_id.get(info["purchaseOrderId"])
            number = link.fortnox_key if link else None
            status = _status(info)
            if number is not None and number not in reporter.completed and status in FINISHED:
                listed.setdefault(info["purchaseOrderId"], item)
    return listed


def _receipts(context: ProcessContext, fortnox: FortnoxClient, wms: OngoingClient) -> None:
    reporter = ReceiptReporter(context, fortnox, wms)
    breaker = OutageBreaker()
    started = timezone.now()
    # A quiet run lists only closures and keeps the cursor: the next full pass lists from it.
    full_pass = not warehouse_quiet(context, wms)
    for wms_purchase_order in _to_report(context, reporter, wms, receipts=full_pass).values():
        info = wms_purchase_order["purchaseOrderInfo"]
        number = str(info.get("purchaseOrderNumber") or info["purchaseOrderId"])
        try:
            reporter.handle(wms_purchase_order)
        except SyncError as error:
            if not object_failed(
                context, breaker, error, object_type=OBJECT_TYPE, object_ref=number
            ):
                return
            continue
        breaker.succeeded()
    if full_pass and not context.counts["failed"]:
        context.save_cursor(started.isoformat())


def purchase_orders_sync(context: ProcessContext) -> None:
    integration = context.integration
    fortnox = fortnox_client_for(integration=integration)
    wms = ongoing_client_for(integration=integration)
    _pull(context, fortnox, wms)
    _receipts(context, fortnox, wms)


def _to_report_one(wms_purchase_order: dict, reporter: ReceiptReporter) -> bool:
    """Whether a warehouse purchase order needs its receipts booked or its completion made: the
    same two reasons _to_report lists one for."""
    for line in wms_purchase_order.get("purchaseOrderLines") or []:
        received = line.get("receivedNumberOfItems") or 0
        if received and line.get("reportedNumberOfItems") != received:
            return True
    info = wms_purchase_order["purchaseOrderInfo"]
    link = reporter.by_ongoing_id.get(info["purchaseOrderId"])
    status = (info.get("purchaseOrderStatus") or {}).get("number")
    return link is not None and link.fortnox_key not in reporter.completed and status in FINISHED


def purchase_orders_sync_objects(context: ProcessContext, refs: list[str]) -> None:
    """The warehouse purchase orders an inbound webhook named (Ongoing ids): their receipts are
    booked in Fortnox exactly as in a scheduled run. Fortnox publishes no purchase-order events,
    so the way out (Fortnox → warehouse) stays with the scheduled run."""
    integration = context.integration
    fortnox = fortnox_client_for(integration=integration)
    wms = ongoing_client_for(integration=integration)
    reporter = ReceiptReporter(context, fortnox, wms)
    breaker = OutageBreaker()
    for ref in dict.fromkeys(refs):
        # Ongoing documents no single purchase-order read; the id cursor's first page starts at it.
        page = next(iter(wms.purchase_orders_list(id_from=int(ref))), None)
        found = [
            item
            for item in (page.items if page else [])
            if str(item["purchaseOrderInfo"]["purchaseOrderId"]) == str(ref)
        ]
        if not found:
            continue
        wms_purchase_order = found[0]
        reporter.by_ongoing_id.load([wms_purchase_order["purchaseOrderInfo"]["purchaseOrderId"]])
        if not _to_report_one(wms_purchase_order, reporter):
            context.count("skipped")
            continue
        number = wms_purchase_order["purchaseOrderInfo"]["purchaseOrderNumber"]
        try:
            reporter.handle(wms_purchase_order)
        except SyncError as error:
            if not object_failed(
                context, breaker, error, object_type=OBJECT_TYPE, object_ref=number
            ):
                return
            continue
        breaker.succeeded()
