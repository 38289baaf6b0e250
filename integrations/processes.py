"""The integration's processes, in the order a run executes them, with the defaults and options of
the seeds (seeds/ongoing-wms-fortnox-integration.txt, ongoing-warehouse-fortnox-defaults.txt).

Suppliers run before articles so that articles carry current supplier data; purchase orders before
fulfilment and the warehouse module's documents; the classic stock balance last, because the seed
writes it "at the end of each synchronization interval".
"""

from django.utils.translation import gettext_lazy as _

from .registry import Direction, Option, Process, Registry

SUPPLIERS = "suppliers"
ARTICLES = "articles"
SALES_ORDERS = "sales_orders"
PURCHASE_ORDERS = "purchase_orders"
FULFILMENT = "fulfilment"
WAREHOUSE_MODULE = "warehouse_module"
STOCK_BALANCE = "stock_balance"

registry = Registry(
    [
        Process(
            key=SUPPLIERS,
            body="ongoing.processes.suppliers.suppliers_sync",
            targeted="ongoing.processes.suppliers.suppliers_sync_objects",
            label=_("Supplier registry"),
            help_text=_(
                "New and changed suppliers are fetched from Fortnox, so that articles and purchase "
                "orders in the warehouse carry the right supplier."
            ),
            direction=Direction.TO_WAREHOUSE,
            default_enabled=True,
        ),
        Process(
            key=ARTICLES,
            body="ongoing.processes.articles.articles_sync",
            targeted="ongoing.processes.articles.articles_sync_objects",
            label=_("Article registry"),
            help_text=_(
                "Fortnox holds the master data. Name, number, EAN, dimensions, weight, stock "
                "article (Lagervara), purchase price, unit, description and supplier are sent to "
                "the warehouse. An article that is not a stock article is never picked."
            ),
            direction=Direction.TO_WAREHOUSE,
            default_enabled=True,
        ),
        Process(
            key=SALES_ORDERS,
            body="ongoing.processes.sales_orders.sales_orders_sync",
            targeted="ongoing.processes.sales_orders.sales_orders_sync_objects",
            label=_("Sales orders"),
            help_text=_(
                "New and updated orders that are not yet handled are sent to the warehouse. "
                "Changes and cancellations are transferred unless the warehouse has started "
                "working on the order."
            ),
            direction=Direction.TO_WAREHOUSE,
            default_enabled=True,
            options=(
                Option(
                    key="pull_filter",
                    label=_("Which orders the warehouse fulfils"),
                    type=str,
                    default="invoicenotcreated",
                    choices=(
                        ("invoicenotcreated", _("Placed orders without an invoice")),
                        ("notcompleted", _("Placed orders not marked as completed")),
                    ),
                ),
                Option(
                    key="required_state",
                    label=_("Status an order must have to be sent"),
                    type=str,
                    default="confirmed",
                    choices=(
                        ("confirmed", _("Confirmed (the order confirmation has been sent)")),
                        ("any", _("Any placed order")),
                    ),
                    help_text=_(
                        "Fortnox marks an order as confirmed when its order confirmation is sent."
                    ),
                ),
                Option(
                    key="order_type_from_customer",
                    label=_("Set order type B2B/B2C from the Fortnox customer type"),
                    type=bool,
                    default=False,
                    help_text=_(
                        "Companies become B2B and private persons B2C. Existing B2B/B2C order "
                        "types in the warehouse are used (the oldest if there are several); "
                        "otherwise they are created."
                    ),
                ),
                Option(
                    key="sms_notification",
                    label=_("Notify the recipient by SMS"),
                    type=bool,
                    default=False,
                ),
                Option(
                    key="email_notification",
                    label=_("Notify the recipient by e-mail"),
                    type=bool,
                    default=False,
                ),
            ),
        ),
        Process(
            key=PURCHASE_ORDERS,
            body="ongoing.processes.purchase_orders.purchase_orders_sync",
            targeted="ongoing.processes.purchase_orders.purchase_orders_sync_objects",
            label=_("Purchase orders"),
            help_text=_(
                "Purchase orders in state Sent with purchase type Warehouse are sent to the "
                "warehouse. Each receipt becomes incoming goods in Fortnox; the purchase order is "
                "completed when the warehouse marks it Deflection or Received. Incoming goods "
                "must be activated in Fortnox (Settings → Warehouse → Incoming goods)."
            ),
            direction=Direction.BOTH,
            default_enabled=False,
            requires=(WAREHOUSE_MODULE,),
        ),
        Process(
            key=FULFILMENT,
            body="ongoing.processes.fulfilment.fulfilment_sync",
            targeted="ongoing.processes.fulfilment.fulfilment_sync_objects",
            label=_("Fulfilled orders to Fortnox"),
            help_text=_(
                "When the warehouse has fulfilled an order, the delivered quantities are set in "
                "Fortnox and an invoice is created unless one exists. Delivering less than "
                "ordered creates a back order for the rest."
            ),
            direction=Direction.TO_FORTNOX,
            default_enabled=True,
            options=(
                Option(
                    key="report_at",
                    label=_("When an order counts as fulfilled"),
                    type=str,
                    default="sent",
                    choices=(
                        ("sent", _("When it is sent (the transport is booked)")),
                        ("collected", _("When it is collected")),
                    ),
                ),
                Option(
                    key="create_invoice",
                    label=_("Create the invoice"),
                    type=bool,
                    default=True,
                ),
                Option(
                    key="lower_ordered_quantity",
                    label=_("Lower the ordered quantity instead of creating a back order"),
                    type=bool,
                    default=False,
                    warning=_(
                        "This changes the ordered quantity in Fortnox to what was delivered, so "
                        "the order no longer shows what the customer originally ordered."
                    ),
                ),
            ),
        ),
        Process(
            key=WAREHOUSE_MODULE,
            body="ongoing.processes.warehouse_module.warehouse_module_sync",
            label=_("Fortnox warehouse module (Fortnox Lager)"),
            help_text=_(
                "Fulfilled orders are marked warehouse-ready, and returns and inventory "
                "adjustments are reported as warehouse documents. If the module is on in Fortnox "
                "it must be on here too, or fulfilment fails."
            ),
            direction=Direction.BOTH,
            default_enabled=False,
            conflicts_with=(STOCK_BALANCE,),
        ),
        Process(
            key=STOCK_BALANCE,
            body="ongoing.processes.stock_balance.stock_balance_sync",
            label=_("Stock balance to Fortnox"),
            help_text=_(
                "At the end of each run the warehouse's sellable quantity is written to each "
                "stock article in Fortnox. Cannot be used with the warehouse module, which only "
                "accepts stock transactions."
            ),
            direction=Direction.TO_FORTNOX,
            default_enabled=False,
            conflicts_with=(WAREHOUSE_MODULE,),
        ),
    ]
)
