"""The business the chaos runs go through: a company, its warehouse and what their people do.

`Scenario.setup()` replaces the sandboxes' demo data with a book of the asked size: suppliers,
customers, articles (most of them stock articles with an opening balance on the warehouse's
shelves), confirmed sales orders and purchase orders to the warehouse, and switches on every
process that can run together (stock balance cannot: it is refused while the warehouse module is
on). Then `PHASES` are played one after the other; between two phases the engine is left to run
until it is quiet.

Every event is drawn from a generator seeded with the scenario's seed, and always from a list the
event computes from the sandboxes' current state, sorted by canonical names (state.Names), never by
database ids or document numbers. So two runs of the same seed whose engine brought the sandboxes
to the same state get the same events — the clean run and the faulty one — and a run whose engine
lost or duplicated something sees different candidates, which the final comparison shows."""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.utils import timezone

from fortnox.sandbox import store
from fortnox.sandbox.models import SandboxRecord
from integrations.models import ProcessSetting
from integrations.processes import (
    ARTICLES,
    FULFILMENT,
    PURCHASE_ORDERS,
    SALES_ORDERS,
    STOCK_BALANCE,
    SUPPLIERS,
    WAREHOUSE_MODULE,
)
from ongoing.sandbox import services as warehouse
from ongoing.sandbox.models import Article, Order, PurchaseOrder, ReturnOrder
from ongoing.statuses import OrderStatus, PurchaseOrderStatus

from .state import Names

Kind = SandboxRecord.Kind
ENABLED = {
    SUPPLIERS: True,
    ARTICLES: True,
    SALES_ORDERS: True,
    PURCHASE_ORDERS: True,
    FULFILMENT: True,
    WAREHOUSE_MODULE: True,
    STOCK_BALANCE: False,
}
DELIVERY_DATE = "2026-03-16"
FIRST_ARTICLE = 20000
SERVICE_SHARE = 0.1


@dataclass(frozen=True)
class Size:
    articles: int
    orders: int
    purchase_orders: int

    @property
    def suppliers(self) -> int:
        return max(3, self.articles // 15)

    @property
    def customers(self) -> int:
        return max(5, self.orders // 20)


class Scenario:
    """`stream` names the generator: "book" for setup(), "events" for the phases, so that the
    events do not depend on how the book was drawn."""

    def __init__(self, world, *, size: Size, seed: int, stream: str = "events"):
        self.world = world
        self.company = world.company
        self.goods_owner = world.goods_owner
        self.size = size
        self.rng = random.Random(f"{stream}:{seed}")
        self.created_orders = sum(
            1
            for data in SandboxRecord.objects.filter(
                company=self.company, kind=Kind.ORDER
            ).values_list("data", flat=True)
            if data.get("OrderType") != "Backorder"
        )
        self.events: dict[str, int] = {}
        # Orders the Fortnox user changed or cancelled in this phase: the warehouse leaves them
        # alone during the run, or which of the two came first would decide the outcome.
        self.touched: set[str] = set()

    def count(self, event: str, number: int = 1) -> None:
        self.events[event] = self.events.get(event, 0) + number

    # --- the book ------------------------------------------------------------------------

    def setup(self) -> None:
        SandboxRecord.objects.filter(company=self.company).exclude(kind=Kind.DOCUMENT_TYPE).delete()
        Article.objects.filter(goods_owner=self.goods_owner).delete()
        self.created_orders = 0
        rng = self.rng
        for number in range(1, self.size.suppliers + 1):
            store.supplier_write(
                self.company,
                {
                    "SupplierNumber": str(number),
                    "Name": f"Leverantör {number} AB",
                    "Address1": f"Industrivägen {number}",
                    "ZipCode": "411 05",
                    "City": "Göteborg",
                    "Email": f"order@leverantor{number}.se",
                },
            )
        for number in range(1, self.size.customers + 1):
            store.customer_write(
                self.company,
                {
                    "CustomerNumber": str(number),
                    "Type": "PRIVATE" if number % 3 == 0 else "COMPANY",
                    "Name": f"Kund {number}",
                    "Address1": f"Storgatan {number}",
                    "ZipCode": "111 22",
                    "City": "Stockholm",
                    "CountryCode": "SE",
                },
            )
        opening = timezone.now() - timedelta(days=30)
        shelves = []
        for index in range(self.size.articles):
            number = str(FIRST_ARTICLE + index)
            stock_goods = index % round(1 / SERVICE_SHARE) != 0
            quantity = 0 if index % 11 == 0 else rng.randint(2, 40)
            store.article_write(
                self.company,
                {
                    "ArticleNumber": number,
                    "Description": f"Artikel {number}",
                    "EAN": f"7350000{FIRST_ARTICLE + index:06d}",
                    "StockGoods": stock_goods,
                    "QuantityInStock": quantity if stock_goods else 0,
                    "PurchasePrice": rng.randint(10, 400),
                    "Unit": "st",
                    "Weight": rng.randint(50, 5000),
                    "SupplierNumber": str(index % self.size.suppliers + 1),
                },
                person=True,
            )
            if stock_goods:
                shelves.append(
                    Article(
                        goods_owner=self.goods_owner,
                        article_number=number,
                        number_of_items=Decimal(quantity),
                        data_updated_at=opening,
                        stock_changed_at=opening,
                        last_in_at=opening if quantity else None,
                    )
                )
        Article.objects.bulk_create(shelves)
        for _ in range(self.size.orders):
            self.new_order(sent=rng.random() < 0.9)
        for number in range(1, self.size.purchase_orders + 1):
            self._purchase_order(number, state="NOT_SENT" if number % 10 == 0 else "SENT")
        self.company.warehouse_module = True
        self.company.save(update_fields=["warehouse_module"])
        for key, enabled in ENABLED.items():
            ProcessSetting.objects.filter(integration=self.world.integration, process=key).update(
                enabled=enabled
            )

    def _stock_articles(self) -> list[str]:
        return [
            str(FIRST_ARTICLE + index)
            for index in range(self.size.articles)
            if index % round(1 / SERVICE_SHARE) != 0
        ]

    def _supplier_stock(self, supplier: int) -> list[str]:
        return [
            article
            for article in self._stock_articles()
            if (int(article) - FIRST_ARTICLE) % self.size.suppliers + 1 == supplier
        ]

    def new_order(self, *, sent: bool) -> str:
        rng = self.rng
        self.created_orders += 1
        articles = rng.sample(self._stock_articles(), rng.randint(1, 4))
        rows = [
            {"ArticleNumber": number, "OrderedQuantity": rng.randint(1, 5)} for number in articles
        ]
        if rng.random() < 0.15:
            service = str(
                FIRST_ARTICLE
                + round(1 / SERVICE_SHARE)
                * rng.randrange(max(1, self.size.articles // round(1 / SERVICE_SHARE)))
            )
            rows.append({"ArticleNumber": service, "OrderedQuantity": 1})
        order = store.order_write(
            self.company,
            {
                "CustomerNumber": str(rng.randint(1, self.size.customers)),
                "DeliveryDate": DELIVERY_DATE,
                "YourOrderNumber": f"C{self.created_orders:05d}",
                "Remarks": "Ring innan leverans." if rng.random() < 0.1 else "",
                "OrderRows": rows,
            },
        )
        if sent:
            store.order_mark_sent(self.company, order["DocumentNumber"])
        return order["DocumentNumber"]

    def _purchase_order(self, number: int, *, state: str) -> None:
        rng = self.rng
        supplier = (number - 1) % self.size.suppliers + 1
        items = self._supplier_stock(supplier)
        if not items:
            # A supplier of service articles only (with 300 articles: 20 suppliers, and those
            # whose articles all fall on every tenth, the service ones): a purchase order
            # without a row is refused by the integration for good, as it should be, and a
            # run with a failure never comes out quiet. Such orders go to the next supplier
            # that has stock articles.
            supplier = next(
                candidate
                for step in range(1, self.size.suppliers + 1)
                for candidate in [(supplier - 1 + step) % self.size.suppliers + 1]
                if self._supplier_stock(candidate)
            )
            items = self._supplier_stock(supplier)
        chosen = rng.sample(items, min(len(items), rng.randint(1, 4)))
        now = timezone.localdate()
        rows = [
            {
                "id": number * 100 + row_number,
                "itemId": item,
                "itemDescription": f"Artikel {item}",
                "rowNum": row_number,
                "orderedQuantity": quantity,
                "remainingOrderedQuantity": quantity,
                "receivedQuantity": 0,
                "price": rng.randint(10, 400),
                "currencyCode": "SEK",
            }
            for row_number, item in enumerate(chosen, start=1)
            for quantity in [rng.randint(10, 60)]
        ]
        moment = store.clock.now_datetime()
        SandboxRecord.objects.create(
            company=self.company,
            kind=Kind.PURCHASE_ORDER,
            key=str(number),
            data={
                "id": number,
                "orderDate": now.isoformat(),
                "deliveryDate": DELIVERY_DATE,
                "note": "",
                "supplierNumber": str(supplier),
                "supplierName": f"Leverantör {supplier} AB",
                "supplierAddress": f"Industrivägen {supplier}",
                "supplierAddress2": "",
                "supplierPostCode": "411 05",
                "supplierCity": "Göteborg",
                "supplierCountryCode": "SE",
                "currencyCode": "SEK",
                "purchaseType": "WAREHOUSE",
                "rows": rows,
                "_state": state,
            },
            created_at=moment,
            modified_at=moment,
        )

    # --- what the sandboxes hold now, in canonical order ---------------------------------

    def _fortnox_orders(self) -> tuple[dict[str, dict], Names]:
        orders = dict(
            SandboxRecord.objects.filter(company=self.company, kind=Kind.ORDER).values_list(
                "key", "data"
            )
        )
        return orders, Names(orders)

    def _by_name(self, items, name) -> list:
        return sorted(items, key=name)

    def _sample(self, items: list, share: float) -> list:
        if not items or share <= 0:
            return []
        return self.rng.sample(items, min(len(items), max(1, round(len(items) * share))))

    def _wms_orders(self, status: int) -> list[Order]:
        _orders, names = self._fortnox_orders()
        found = Order.objects.filter(goods_owner=self.goods_owner, status=status)
        return self._by_name(found, lambda order: names.of(order.order_number))

    def _open_fortnox_orders(self, *, sent: bool | None = None) -> list[str]:
        orders, names = self._fortnox_orders()
        numbers = [
            number
            for number, order in orders.items()
            if not order.get("Cancelled")
            and not order.get("InvoiceReference")
            and (sent is None or bool(order.get("Sent")) == sent)
        ]
        return sorted(numbers, key=names.of)

    # --- the warehouse staff ----------------------------------------------------------------

    def pick_and_send(self, share: float, *, partial_share: float) -> set[str]:
        picked = set()
        for order in self._sample(self._wms_orders(OrderStatus.OPEN), share):
            partial = self.rng.random() < partial_share
            quantities = {}
            for line in order.lines.select_related("article").order_by("row_number"):
                if not line.should_be_picked:
                    continue
                wanted = line.to_pick
                if partial and wanted > 1:
                    wanted = Decimal(self.rng.randint(1, int(wanted) - 1))
                line.article.refresh_from_db()
                quantities[line.row_number] = min(wanted, line.article.number_of_items)
            if not any(quantities.values()):
                self.count("orders not picked: no stock")
                continue
            warehouse.order_pick(order=order, quantities=quantities)
            warehouse.order_send(order=order)
            picked.add(order.order_number)
            self.count("orders picked and sent")
            if partial or any(
                line.picked < line.ordered for line in order.lines.all() if line.should_be_picked
            ):
                self.count("  of which short (back order)")
        return picked

    def receive(self, share: float, *, partial: bool, close_share: float = 0.0) -> None:
        candidates = PurchaseOrder.objects.filter(
            goods_owner=self.goods_owner, status__lt=PurchaseOrderStatus.DEFLECTION
        ).order_by("purchase_order_number")
        candidates = sorted(candidates, key=lambda po: _number_key(po.purchase_order_number))
        for purchase_order in self._sample(candidates, share):
            quantities = {}
            for line in purchase_order.lines.order_by("row_number"):
                rest = int(line.to_receive)
                if rest <= 0:
                    continue
                quantities[line.row_number] = Decimal(
                    self.rng.randint(1, max(1, rest - 1)) if partial and rest > 1 else rest
                )
            if any(quantities.values()):
                warehouse.purchase_order_receive(
                    purchase_order=purchase_order, quantities=quantities
                )
                self.count("receivals")
            if self.rng.random() < close_share:
                purchase_order.refresh_from_db()
                complete = all(line.to_receive == 0 for line in purchase_order.lines.all())
                warehouse.purchase_order_close(
                    purchase_order=purchase_order,
                    status=PurchaseOrderStatus.RECEIVED
                    if complete
                    else PurchaseOrderStatus.DEFLECTION,
                )
                self.count("purchase orders closed")

    def warehouse_purchase_orders(self, count: int) -> None:
        """Purchase orders the warehouse enters itself, not from Fortnox: each receival of one is
        reported as an OngoingInboundOrder document."""
        entered = PurchaseOrder.objects.filter(
            goods_owner=self.goods_owner, purchase_order_number__startswith="W"
        ).count()
        for index in range(entered + 1, entered + count + 1):
            articles = self.rng.sample(self._stock_articles(), self.rng.randint(1, 3))
            warehouse.purchase_order_upsert(
                goods_owner=self.goods_owner,
                data={
                    "purchaseOrderNumber": f"W{index}",
                    "supplierInfo": {"supplierNumber": "1", "supplierName": "Leverantör 1 AB"},
                    "purchaseOrderLines": [
                        {
                            "rowNumber": str(row),
                            "articleNumber": article,
                            "numberOfItems": self.rng.randint(5, 30),
                        }
                        for row, article in enumerate(articles, start=1)
                    ],
                },
            )
            self.count("purchase orders entered in the warehouse")

    def returns(self, share: float) -> None:
        for order in self._sample(self._wms_orders(OrderStatus.SENT), share):
            quantities = {}
            for line in order.lines.order_by("row_number"):
                if line.returnable > 0 and self.rng.random() < 0.6:
                    quantities[line.row_number] = Decimal(self.rng.randint(1, int(line.returnable)))
            if quantities:
                warehouse.return_register(order=order, quantities=quantities, cause="Ångerrätt")
                self.count("returns")

    def adjust(self, share: float) -> None:
        articles = Article.objects.filter(goods_owner=self.goods_owner).order_by("article_number")
        for article in self._sample(list(articles), share):
            change = self.rng.choice([-3, -2, -1, 1, 2, 5])
            if article.number_of_items + change < 0:
                change = abs(change)
            warehouse.inventory_adjust(
                article=article, number_of_items=Decimal(change), comment="Inventering"
            )
            self.count("inventory adjustments")

    def meanwhile(self, *, receivals: int, shipments: int) -> list[tuple[str, object, Callable]]:
        """What the warehouse does while the next run is under way, chosen now, as (label, when,
        action): more goods on purchase orders whose last receival the run is about to report,
        right before the run acknowledges that purchase order (when: a piece of the path it
        sends; the worst moment), and orders picked and sent at a seeded point of the run (when:
        None, the runner draws a boundary). Each action returns whether it found anything to do.
        Shipments take only orders the shelves can fill whole, so that receivals done before or
        after them cannot change what they ship."""
        open_orders = PurchaseOrder.objects.filter(
            goods_owner=self.goods_owner, status__lt=PurchaseOrderStatus.DEFLECTION
        ).prefetch_related("lines")
        receiving = sorted(
            (po for po in open_orders if any(line.to_receive for line in po.lines.all())),
            key=lambda po: (
                all(line.reported == line.received for line in po.lines.all()),
                _number_key(po.purchase_order_number),
            ),
        )
        actions: list[tuple[str, object, Callable]] = []
        for purchase_order in receiving[:receivals]:
            quantities = {
                line.row_number: Decimal(self.rng.randint(1, max(1, int(line.to_receive) // 2)))
                for line in purchase_order.lines.all()
                if line.to_receive
            }
            number = purchase_order.purchase_order_number
            actions.append(
                (
                    "received during a run",
                    f"/purchaseOrders/{purchase_order.pk}/setReported",
                    partial(_receive, self.goods_owner.pk, number, quantities),
                )
            )
        shelves = {
            article.pk: article.number_of_items
            for article in Article.objects.filter(goods_owner=self.goods_owner)
        }
        fillable = []
        for order in self._wms_orders(OrderStatus.OPEN):
            wanted = [
                (line.article_id, line.to_pick)
                for line in order.lines.all()
                if line.should_be_picked
            ]
            if order.order_number in self.touched or not wanted:
                continue
            if all(shelves[article] >= quantity for article, quantity in wanted):
                fillable.append((order, wanted))
        self.touched = set()
        for order, wanted in self.rng.sample(fillable, min(shipments, len(fillable))):
            if not all(shelves[article] >= quantity for article, quantity in wanted):
                continue  # another shipment chosen before it takes the goods
            for article, quantity in wanted:
                shelves[article] -= quantity
            actions.append(
                ("sent during a run", None, partial(_ship, self.goods_owner.pk, order.order_number))
            )
        return actions

    # --- the Fortnox user -------------------------------------------------------------------

    def confirm(self, share: float, *, back_orders: bool) -> None:
        orders, _names = self._fortnox_orders()
        unsent = [
            number
            for number in self._open_fortnox_orders(sent=False)
            if (orders[number].get("OrderType") == "Backorder") == back_orders
        ]
        for number in self._sample(unsent, share):
            store.order_mark_sent(self.company, number)
            self.count("back orders confirmed" if back_orders else "orders confirmed")

    def edit(self, numbers: list[str]) -> None:
        orders, _names = self._fortnox_orders()
        for number in numbers:
            rows = [
                {
                    "RowId": row["RowId"],
                    "OrderedQuantity": row["OrderedQuantity"],
                    "DeliveredQuantity": row["OrderedQuantity"],
                }
                for row in orders[number]["OrderRows"]
            ]
            changed = self.rng.randrange(len(rows))
            quantity = max(
                1, int(Decimal(str(rows[changed]["OrderedQuantity"]))) + self.rng.choice([-1, 1, 2])
            )
            rows[changed]["OrderedQuantity"] = rows[changed]["DeliveredQuantity"] = quantity
            store.order_write(self.company, {"OrderRows": rows}, key=number)
            self.touched.add(number)
            self.count("orders changed in Fortnox")

    def fortnox_work(self, *, picked: set[str], cancel: float, edit: float, conflicts: int) -> None:
        """Cancel and change open orders the warehouse has not started on; change a few it has
        (the warehouse refuses those; the refusal must stay the same in every run)."""
        untouched = [n for n in self._open_fortnox_orders(sent=True) if n not in picked]
        cancelled = self._sample(untouched, cancel)
        for number in cancelled:
            store.order_cancel(self.company, number)
            self.touched.add(number)
            self.count("orders cancelled in Fortnox")
        rest = [number for number in untouched if number not in cancelled]
        self.edit(self._sample(rest, edit))
        started = sorted(
            (n for n in picked if n in self._open_fortnox_orders(sent=True)),
            key=self._fortnox_orders()[1].of,
        )
        self.edit(started[:conflicts])

    def master_data(self, *, articles: float, suppliers: int) -> None:
        """Articles changed in Fortnox, and suppliers renamed (their articles are sent again)."""
        for number in self._sample(self._stock_articles(), articles):
            store.article_write(
                self.company,
                {
                    "Description": f"Artikel {number}, ny",
                    "PurchasePrice": self.rng.randint(10, 400),
                },
                key=number,
            )
            self.count("articles changed in Fortnox")
        numbers = [str(number) for number in range(1, self.size.suppliers + 1)]
        for number in self._sample(numbers, suppliers / len(numbers)):
            store.supplier_write(self.company, {"Name": f"Leverantör {number} Nya AB"}, key=number)
            self.count("suppliers renamed in Fortnox")

    def new_orders(self, share: float) -> None:
        for _ in range(round(self.size.orders * share)):
            self.new_order(sent=True)
            self.count("new orders")

    def send_purchase_orders(self) -> None:
        for record in SandboxRecord.objects.filter(
            company=self.company, kind=Kind.PURCHASE_ORDER
        ).order_by("key"):
            if record.data.get("_state") == "NOT_SENT":
                record.data["_state"] = "SENT"
                record.modified_at = store.clock.now_datetime()
                record.save()
                self.count("purchase orders sent")

    # --- the phases -------------------------------------------------------------------------

    def phase_first_sync(self) -> None:
        """Nothing happens: the first runs send the whole book to the warehouse."""

    def _during(self) -> dict:
        return {
            "receivals": max(1, self.size.purchase_orders // 10),
            "shipments": max(1, self.size.orders // 100),
        }

    def phase_first_wave(self):
        picked = self.pick_and_send(0.4, partial_share=0.3)
        self.receive(0.6, partial=True)
        self.fortnox_work(picked=picked, cancel=0.03, edit=0.05, conflicts=2)
        self.confirm(0.5, back_orders=False)
        self.new_orders(0.05)
        self.send_purchase_orders()
        self.warehouse_purchase_orders(max(1, self.size.purchase_orders // 10))
        return self.meanwhile(**self._during())

    def phase_second_wave(self):
        self.confirm(0.6, back_orders=True)
        self.confirm(1.0, back_orders=False)
        picked = self.pick_and_send(0.4, partial_share=0.2)
        self.returns(0.1)
        self.adjust(0.05)
        self.receive(0.5, partial=True, close_share=0.3)
        self.fortnox_work(picked=picked, cancel=0.02, edit=0.03, conflicts=1)
        self.master_data(articles=0.05, suppliers=1)
        return self.meanwhile(**self._during())

    def phase_third_wave(self):
        self.confirm(1.0, back_orders=True)
        self.pick_and_send(0.7, partial_share=0.1)
        self.returns(0.05)
        self.adjust(0.03)
        self.receive(1.0, partial=True, close_share=0.5)
        self.new_orders(0.02)
        return self.meanwhile(**self._during())

    def phase_last_orders(self) -> None:
        self.pick_and_send(0.5, partial_share=0.0)
        self.returns(0.03)
        self.receive(1.0, partial=False, close_share=1.0)


def _receive(goods_owner_id: int, number: str, quantities: dict) -> bool:
    """The warehouse receives goods on a purchase order (as much of `quantities` as is still
    to come)."""
    purchase_order = PurchaseOrder.objects.get(
        goods_owner_id=goods_owner_id, purchase_order_number=number
    )
    if purchase_order.status >= PurchaseOrderStatus.DEFLECTION:
        return False
    rest = {line.row_number: line.to_receive for line in purchase_order.lines.all()}
    wanted = {row: min(quantity, rest.get(row, 0)) for row, quantity in quantities.items()}
    if not any(wanted.values()):
        return False
    warehouse.purchase_order_receive(purchase_order=purchase_order, quantities=wanted)
    return True


def _ship(goods_owner_id: int, number: str) -> bool:
    """The warehouse picks what it has of an open order and sends it."""
    order = Order.objects.get(goods_owner_id=goods_owner_id, order_number=number)
    if order.status != OrderStatus.OPEN:
        return False
    quantities = {
        line.row_number: min(line.to_pick, line.article.number_of_items)
        for line in order.lines.select_related("article")
        if line.should_be_picked
    }
    if not any(quantities.values()):
        return False
    warehouse.order_pick(order=order, quantities=quantities)
    warehouse.order_send(order=order)
    return True


def _number_key(number: str) -> tuple:
    """Fortnox's purchase orders (1, 2, … 10) in number order, then the warehouse's own (W1, …)."""
    return (0, int(number), "") if number.isdigit() else (1, 0, number)


PHASES = (
    ("first sync", Scenario.phase_first_sync),
    ("first wave", Scenario.phase_first_wave),
    ("second wave", Scenario.phase_second_wave),
    ("third wave", Scenario.phase_third_wave),
    ("last orders", Scenario.phase_last_orders),
)


def returns_registered(goods_owner) -> int:
    return ReturnOrder.objects.filter(goods_owner=goods_owner).count()
