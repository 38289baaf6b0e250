"""The warehouse module (Fortnox Lager), warehouse → Fortnox: returns on sales orders, inventory
adjustments and receipts of purchase orders that did not come from Fortnox become custom
warehouse documents in Fortnox (OngoingInboundReturn, OngoingInboundInventory,
OngoingOutboundInventory, OngoingInboundOrder), each saved under an id derived from the Ongoing
transaction, released once, then acknowledged in Ongoing. (Receipts of Fortnox purchase orders
are the purchase-order process's: they become incoming goods.)

Exactly once: a document's progress is a RecordLink ("warehouse_document", "<type>:<id>") moved
through saved → releasing → released → acknowledged. Saving is a PUT under our own id, harmless to
repeat until the document is released; "releasing" is recorded before the release call and put
back to "saved" when Fortnox refuses it, so a document left "releasing" by a crash was released
(or the release never left) — Fortnox refuses a second release, which is then taken as done.
(UNVERIFIED: that Fortnox refuses rather than ignores a second release; either way nothing moves
twice.)"""

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from fortnox.client import FortnoxClient
from fortnox.errors import FortnoxValidationError
from integrations.errors import SyncError
from integrations.models import IncomingGoodsReceipt
from integrations.processes import PURCHASE_ORDERS
from integrations.selectors import LinkLookup
from integrations.services.links import record_link_save
from integrations.services.sync import ProcessContext
from ongoing.client import OngoingClient, Page
from ongoing.mappers import (
    adjustment_document,
    purchase_order_receipt_document,
    purchase_order_receipt_quantities,
    return_document,
    whole_number,
)

from .common import (
    CURSOR_OVERLAP,
    OutageBreaker,
    fortnox_client_for,
    object_failed,
    ongoing_client_for,
    warehouse_quiet,
)
from .fulfilment import WarehouseModuleMismatch, warehouse_module_in_fortnox
from .purchase_orders import OBJECT_TYPE as PO_OBJECT
from .purchase_orders import received_since, unreported

PROGRESS_TYPE = "warehouse_document"
SAVED = "saved"
RELEASING = "releasing"
RELEASED = "released"
ACKNOWLEDGED = "acknowledged"


class DocumentReporter:
    def __init__(self, context: ProcessContext, fortnox: FortnoxClient, wms: OngoingClient):
        self.context = context
        self.fortnox = fortnox
        self.wms = wms
        self.progress = LinkLookup(integration=context.integration, object_type=PROGRESS_TYPE)
        self.breaker = OutageBreaker()
        self.module_checked = False

    def check_module(self) -> None:
        if self.module_checked:
            return
        in_fortnox = warehouse_module_in_fortnox(self.fortnox)
        if in_fortnox is None:
            raise WarehouseModuleMismatch(
                "The Fortnox keys have no permission for the warehouse module. Keys generated "
                "before Fortnox Lager was activated lack it: connect Fortnox again to generate "
                "new keys."
            )
        if not in_fortnox:
            raise WarehouseModuleMismatch(
                "The warehouse module is switched on in this integration but Fortnox Lager is "
                "not activated in Fortnox. Activate it in Fortnox, or switch it off in the "
                "integration's settings."
            )
        self.module_checked = True

    def report(self, *, direction, document_type, document_id, body, acknowledge) -> bool:
        """Save, release and acknowledge one document; False when the process should stop."""
        key = f"{document_type}:{document_id}"
        link = self.progress.get(key)
        step = link.fingerprint if link is not None else ""
        if step == ACKNOWLEDGED:
            # Acknowledged before, listed again (e.g. an overlapping cursor): nothing to do.
            self.context.count("skipped")
            return True
        try:
            self.check_module()
            target = {
                "direction": direction,
                "document_type": document_type,
                "document_id": document_id,
            }
            if step in ("", SAVED):
                self.fortnox.custom_document_save(**target, document=body)
                self._step(key, SAVED)
                step = SAVED
            if step in (SAVED, RELEASING):
                was_releasing = step == RELEASING
                self._step(key, RELEASING)
                try:
                    self.fortnox.custom_document_release(**target)
                except FortnoxValidationError:
                    if not was_releasing:
                        self._step(key, SAVED)
                        raise
                    # Released by the attempt that crashed before recording it.
                self._step(key, RELEASED)
            acknowledge()
            self._step(key, ACKNOWLEDGED)
        except WarehouseModuleMismatch:
            raise
        except SyncError as error:
            return object_failed(
                self.context, self.breaker, error, object_type=PROGRESS_TYPE, object_ref=key
            )
        self.breaker.succeeded()
        self.context.synced(object_type=PROGRESS_TYPE, object_ref=key, outcome="created")
        return True

    def _step(self, key: str, step: str) -> None:
        self.progress[key] = record_link_save(
            integration=self.context.integration,
            object_type=PROGRESS_TYPE,
            fortnox_key=key,
            fingerprint=step,
        )


def _adjustments(reporter: DocumentReporter, wms: OngoingClient) -> bool:
    for group in wms.inventory_adjustments_list(only_unreported=True):
        article = group.get("article") or {}
        adjustments = group.get("inventoryAdjustments")
        if not isinstance(adjustments, list):
            # Not a list: one record the mapper refuses, by name, rather than a crash.
            adjustments = [] if adjustments is None else [adjustments]
        for adjustment in adjustments:
            try:
                direction, document_type, document_id, body = adjustment_document(
                    article, adjustment
                )
            except SyncError as error:  # the warehouse's record cannot be mapped
                record = adjustment if isinstance(adjustment, dict) else {}
                ref = f"inventory:{record.get('inventoryId')}"
                if not object_failed(
                    reporter.context,
                    reporter.breaker,
                    error,
                    object_type=PROGRESS_TYPE,
                    object_ref=ref,
                ):
                    return False
                continue

            def acknowledge(adjustment=adjustment, article=article):
                wms.inventory_adjustment_set_reported(
                    inventory_id=int(adjustment["inventoryId"]),
                    article_system_id=int(article["articleSystemId"]),
                )

            if not reporter.report(
                direction=direction,
                document_type=document_type,
                document_id=document_id,
                body=body,
                acknowledge=acknowledge,
            ):
                return False
    return True


def _returns(reporter: DocumentReporter, wms: OngoingClient, since: datetime | None) -> bool:
    # Return orders carry no "reported" flag of their own: they are listed from the cursor, each
    # is reported once by its id, and the customer order's returned quantities are acknowledged.
    # The first run reports every return the warehouse lists.
    for return_order in wms.return_orders_list(returned_from=since):
        info = return_order.get("returnOrderInfo")
        customer_order = return_order.get("customerOrderInfo")
        try:
            document_id, body = return_document(return_order)
            order_id = whole_number(
                customer_order.get("orderId") if isinstance(customer_order, dict) else None,
                what=f"Return {document_id}, customerOrderInfo.orderId",
            )
        except SyncError as error:  # the warehouse's record cannot be mapped
            info = info if isinstance(info, dict) else {}
            ref = f"return:{info.get('returnOrderId')}"
            if not object_failed(
                reporter.context, reporter.breaker, error, object_type=PROGRESS_TYPE, object_ref=ref
            ):
                return False
            continue

        def acknowledge(order_id=order_id):
            if order_id:
                wms.order_set_reported_returned(order_id=int(order_id))

        if not reporter.report(
            direction="inbound",
            document_type=body["type"],
            document_id=document_id,
            body=body,
            acknowledge=acknowledge,
        ):
            return False
    return True


def _purchase_order_receipts(reporter: DocumentReporter, wms: OngoingClient) -> bool:
    """Each receival of a purchase order entered in the warehouse is one document. Its receipt is
    recorded (IncomingGoodsReceipt, keyed "ongoing:<purchaseOrderId>") before the document is
    saved, so the receival keeps its number, and so its document id, across retries."""
    integration = reporter.context.integration
    # Purchase orders that came from Fortnox are reported by the purchase-order process.
    from_fortnox = (
        LinkLookup(integration=integration, object_type=PO_OBJECT, by="ongoing_key")
        if reporter.context.process_enabled(PURCHASE_ORDERS)
        else {}
    )
    pages = list(wms.purchase_orders_list(only_lines_to_report=True))
    seen = {item["purchaseOrderInfo"]["purchaseOrderId"] for page in pages for item in page.items}
    late = [
        item
        for item in received_since(reporter.context, wms)
        if item["purchaseOrderInfo"]["purchaseOrderId"] not in seen
    ]
    for page in [*pages, Page(items=late, next_id_from=0)]:
        for wms_purchase_order in page.items:
            info = wms_purchase_order["purchaseOrderInfo"]
            purchase_order_id = str(info["purchaseOrderId"])
            if purchase_order_id in from_fortnox:
                continue
            receipts = list(
                IncomingGoodsReceipt.objects.filter(
                    integration=integration, purchase_order=f"ongoing:{purchase_order_id}"
                ).order_by("sequence")
            )
            booked: dict[str, Decimal] = {}
            for receipt in receipts:
                for line_id, quantity in receipt.quantities.items():
                    booked[line_id] = booked.get(line_id, Decimal(0)) + Decimal(str(quantity))
            try:
                quantities = purchase_order_receipt_quantities(wms_purchase_order, booked)
                for receipt in receipts:
                    purchase_order_receipt_document(
                        wms_purchase_order, receipt.quantities, sequence=receipt.sequence
                    )
            except SyncError as error:  # the warehouse's record cannot be mapped
                if not object_failed(
                    reporter.context,
                    reporter.breaker,
                    error,
                    object_type=PROGRESS_TYPE,
                    object_ref=f"purchase_order:{purchase_order_id}",
                ):
                    return False
                continue
            if quantities:
                receipts.append(
                    IncomingGoodsReceipt.objects.create(
                        integration=integration,
                        purchase_order=f"ongoing:{purchase_order_id}",
                        sequence=len(receipts) + 1,
                        quantities=quantities,
                    )
                )

            def acknowledge(purchase_order_id=purchase_order_id):
                wms.purchase_order_set_reported_received(purchase_order_id=int(purchase_order_id))

            for receipt in receipts:
                if receipt.step == IncomingGoodsReceipt.Step.COMPLETED:
                    continue
                document_id, body = purchase_order_receipt_document(
                    wms_purchase_order, receipt.quantities, sequence=receipt.sequence
                )
                if not reporter.report(
                    direction="inbound",
                    document_type=body["type"],
                    document_id=document_id,
                    body=body,
                    acknowledge=acknowledge,
                ):
                    return False
                progress = reporter.progress.get(f"{body['type']}:{document_id}")
                if progress is not None and progress.fingerprint == ACKNOWLEDGED:
                    receipt.step = IncomingGoodsReceipt.Step.COMPLETED
                    receipt.save(update_fields=["step", "updated_at"])
            if (
                not quantities
                and all(receipt.step == IncomingGoodsReceipt.Step.COMPLETED for receipt in receipts)
                and unreported(wms_purchase_order)
            ):
                acknowledge()  # nothing new received (e.g. only a status change): housekeeping
    return True


def warehouse_module_sync(context: ProcessContext) -> None:
    integration = context.integration
    wms = ongoing_client_for(integration=integration)
    reporter = DocumentReporter(context, fortnox_client_for(integration=integration), wms)
    started = timezone.now()
    if warehouse_quiet(context, wms):
        return  # no stock moved since the last full pass: nothing received, returned or adjusted
    cursor = context.cursor()
    since = datetime.fromisoformat(cursor) - CURSOR_OVERLAP if cursor else None
    finished = (
        _adjustments(reporter, wms)
        and _returns(reporter, wms, since)
        and _purchase_order_receipts(reporter, wms)
    )
    if finished and not context.counts["failed"]:
        context.save_cursor(started.isoformat())
