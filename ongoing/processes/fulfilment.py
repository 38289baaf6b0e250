"""Fulfilment, warehouse → Fortnox: an order the warehouse has sent (or collected) gets its
delivered quantities in Fortnox, WarehouseReady when the warehouse module is on, its invoice unless
one exists, and is then acknowledged in Ongoing (reported = picked) so it is not reported again.

Exactly once: each step is recorded in a RecordLink ("fulfilment", the Fortnox order number) as
soon as it is done, and every step is safe to repeat after a crash before it was recorded —
quantities are absolute values, WarehouseReady is a flag, and the invoice is created only while
the Fortnox order's InvoiceReference is empty, which Fortnox sets in the same call that creates it.
Acknowledging comes last: until it is done the warehouse keeps offering the order."""

from fortnox.client import FortnoxClient
from fortnox.errors import FortnoxAuthError
from integrations.errors import SyncError
from integrations.models import SyncFailure
from integrations.processes import WAREHOUSE_MODULE
from integrations.selectors import LinkLookup
from integrations.services.links import record_link_save
from integrations.services.sync import ProcessContext
from ongoing.client import OngoingClient, OngoingNotFound
from ongoing.mappers import fulfilment_quantities
from ongoing.statuses import OrderStatus

from .common import (
    FORTNOX_STOCK_TOUCHED,
    OutageBreaker,
    fortnox_client_for,
    object_failed,
    ongoing_client_for,
    run_learned,
)

OBJECT_TYPE = "order"
# The steps a fulfilment has completed, in order, kept as the fingerprint of its progress link.
PROGRESS_TYPE = "fulfilment"
DELIVERED = "delivered"
WAREHOUSE_READY = "warehouse_ready"
INVOICED = "invoiced"
ACKNOWLEDGED = "acknowledged"
REPORT_AT = {"sent": OrderStatus.SENT, "collected": OrderStatus.COLLECTED}
MODULE_SETTING = "Fortnox warehouse module (Fortnox Lager)"


class WarehouseModuleMismatch(SyncError):
    """The integration's warehouse-module switch disagrees with Fortnox: no order can be reported
    until the customer changes it, so the process stops with the fix in its message."""

    failure_kind = SyncFailure.Kind.VALIDATION


class FulfilmentRefused(SyncError):
    """Fortnox cannot take this order's delivery as it is; it waits for a change there."""

    failure_kind = SyncFailure.Kind.VALIDATION


def warehouse_module_in_fortnox(fortnox: FortnoxClient) -> bool | None:
    """Whether Fortnox Lager is on for the company; None when our keys may not ask (no
    `warehouse` scope)."""
    try:
        return bool((fortnox.warehouse_tenant() or {}).get("activated"))
    except FortnoxAuthError as error:
        if error.status == 403:
            return None
        raise


class FulfilmentReporter:
    def __init__(self, context: ProcessContext, fortnox: FortnoxClient, wms: OngoingClient):
        self.context = context
        self.options = context.options
        self.fortnox = fortnox
        self.wms = wms
        integration = context.integration
        self.orders = LinkLookup(integration=integration, object_type=OBJECT_TYPE, by="ongoing_key")
        self.progress = LinkLookup(integration=integration, object_type=PROGRESS_TYPE)
        self.module_here = context.process_enabled(WAREHOUSE_MODULE)
        self.module_checked = False
        self.breaker = OutageBreaker()

    def check_module(self) -> None:
        """Once per run, before the first order: the seed's "if the warehouse module is activated
        in Fortnox and not in the integration the fulfilment will fail", said plainly."""
        if self.module_checked:
            return
        in_fortnox = warehouse_module_in_fortnox(self.fortnox)
        if in_fortnox and not self.module_here:
            raise WarehouseModuleMismatch(
                "Fortnox Lager (the warehouse module) is activated in Fortnox but not in this "
                "integration, so fulfilled orders cannot be reported. Switch on "
                f"“{MODULE_SETTING}” in the integration's settings; the orders waiting will "
                "then be reported."
            )
        if self.module_here and in_fortnox is False:
            raise WarehouseModuleMismatch(
                f"“{MODULE_SETTING}” is switched on in this integration but Fortnox Lager is not "
                "activated in Fortnox. Activate it in Fortnox, or switch it off in the "
                "integration's settings."
            )
        if self.module_here and in_fortnox is None:
            raise WarehouseModuleMismatch(
                "The Fortnox keys have no permission for the warehouse module. Keys generated "
                "before Fortnox Lager was activated lack it: connect Fortnox again to generate "
                "new keys."
            )
        self.module_checked = True

    def load(self, wms_orders: list[dict]) -> None:
        """Read the links and progress of a listed page in a few queries."""
        self.orders.load(str(order["orderInfo"]["orderId"]) for order in wms_orders)
        self.progress.load(
            link.fortnox_key
            for order in wms_orders
            if (link := self.orders.get(order["orderInfo"]["orderId"])) is not None
        )

    def handle(self, wms_order: dict) -> bool:
        """Report one order; False when the rate limit or an outage ends the process's run."""
        info = wms_order["orderInfo"]
        order_id = str(info["orderId"])
        link = self.orders.get(order_id)
        if link is None:
            # Not an order this integration sent (e.g. entered in the WMS): not ours to report.
            self.context.count("skipped")
            return True
        number = link.fortnox_key
        try:
            self.check_module()
            self._report(number, order_id, wms_order)
        except WarehouseModuleMismatch:
            raise
        except SyncError as error:
            return object_failed(
                self.context, self.breaker, error, object_type=OBJECT_TYPE, object_ref=number
            )
        self.breaker.succeeded()
        return True

    def _report(self, number: str, order_id: str, wms_order: dict) -> None:
        progress = self.progress.get(number)
        done = progress.fingerprint if progress is not None else ""
        if done != ACKNOWLEDGED:
            # Fortnox's own stock bookkeeping may move: the stock balance compares this run.
            run_learned(self.context)[FORTNOX_STOCK_TOUCHED] = True
            order = self.fortnox.order_get(number)
            if order.get("Cancelled"):
                raise FulfilmentRefused(
                    f"Order {number} was delivered by the warehouse but is cancelled in Fortnox; "
                    "sort it out in Fortnox and mark it reported in the WMS."
                )
            if not order.get("InvoiceReference"):
                delivered, ordered = fulfilment_quantities(
                    wms_order, order, lower_ordered=self.options["lower_ordered_quantity"]
                )
                if delivered or ordered:
                    order = self.fortnox.order_quantities_update(
                        number, delivered=delivered, ordered=ordered
                    )
                self._step(number, order_id, DELIVERED)
                if self.module_here and not order.get("WarehouseReady"):
                    self.fortnox.order_warehouse_ready(number)
                    self._step(number, order_id, WAREHOUSE_READY)
                if self.options["create_invoice"]:
                    # Fortnox sets InvoiceReference in the call that creates the invoice: an
                    # order whose answer was lost shows it on the next attempt and is not
                    # invoiced twice.
                    self.fortnox.order_invoice_create(number)
                    self._step(number, order_id, INVOICED)
        self.wms.order_set_reported_picked(order_id=int(order_id))
        self._step(number, order_id, ACKNOWLEDGED)
        self.context.synced(object_type=OBJECT_TYPE, object_ref=number, outcome="updated")

    def _step(self, number: str, order_id: str, step: str) -> None:
        self.progress[number] = record_link_save(
            integration=self.context.integration,
            object_type=PROGRESS_TYPE,
            fortnox_key=number,
            ongoing_key=order_id,
            fingerprint=step,
        )


def fulfilment_sync(context: ProcessContext) -> None:
    integration = context.integration
    wms = ongoing_client_for(integration=integration)
    reporter = FulfilmentReporter(context, fortnox_client_for(integration=integration), wms)
    # The warehouse's own report flag is the cursor: an order stays listed until acknowledged.
    pages = wms.orders_list(
        status_from=REPORT_AT[context.options["report_at"]],
        status_to=OrderStatus.RETURNED,
        only_lines_to_report=True,
    )
    for page in pages:
        reporter.load(page.items)
        for wms_order in page.items:
            if not reporter.handle(wms_order):
                return


def has_lines_to_report(wms_order: dict) -> bool:
    """What Ongoing's onlyOrdersWithOrderLinesToReport selects: a picked line whose reported
    quantity is not the picked one yet."""
    for line in wms_order.get("orderLines") or []:
        picked = line.get("pickedNumberOfItems") or 0
        if picked and line.get("reportedNumberOfItems") != picked:
            return True
    return False


def fulfilment_sync_objects(context: ProcessContext, refs: list[str]) -> None:
    """The warehouse orders a webhook named (Ongoing order ids), each reported exactly as a listed
    one once it has reached the reporting status and has lines to report; any other is skipped."""
    integration = context.integration
    wms = ongoing_client_for(integration=integration)
    reporter = FulfilmentReporter(context, fortnox_client_for(integration=integration), wms)
    low, high = REPORT_AT[context.options["report_at"]], OrderStatus.RETURNED
    for ref in dict.fromkeys(refs):
        try:
            wms_order = wms.order_get(order_id=int(ref))
        except OngoingNotFound:
            continue
        status = ((wms_order.get("orderInfo") or {}).get("orderStatus") or {}).get("number") or 0
        if not (low <= status <= high and has_lines_to_report(wms_order)):
            context.count("skipped")
            continue
        reporter.load([wms_order])
        if not reporter.handle(wms_order):
            return
