"""The final state of both sandboxes, made comparable between two runs, and the invariants that
must hold in any one run.

`canonical_state()` reads one Fortnox company and one Ongoing goods owner straight from the
sandboxes' tables and returns plain JSON-able data without what legitimately differs between two
runs of the same business: database ids, document numbers Fortnox hands out in the order calls
arrive (invoices, back orders, incoming goods), timestamps and dates. Orders are named by what
the business gave them: the YourOrderNumber the scenario set, plus "/B" for each back order in
the chain (Fortnox copies the order into its back order and prefixes the remarks with
"Restorder från order N."). Warehouse ids inside custom document ids are translated to the
warehouse objects they stand for.

`differences(a, b)` lists every path where two states differ. `audit()` counts duplicates and
losses in one run from first principles (documents per source, quantities on both sides), so a
zero in the report is computed, not assumed."""

import re
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from fortnox.sandbox.models import SandboxCompany, SandboxRecord
from ongoing.mappers import (
    ARTICLE_ID_DIGITS,
    INBOUND_INVENTORY,
    INBOUND_ORDER,
    INBOUND_RETURN,
    OUTBOUND_INVENTORY,
    RECEIPT_SEQUENCE_DIGITS,
)
from ongoing.sandbox.models import (
    Article,
    GoodsOwner,
    InventoryAdjustment,
    Order,
    PurchaseOrder,
    ReturnOrder,
)
from ongoing.statuses import ORDER_WORK_STARTED, OrderStatus, PurchaseOrderStatus

Kind = SandboxRecord.Kind
BACK_ORDER = re.compile(r"Restorder från order (\w+)\.")
ORDER_MENTION = re.compile(r"(Restorder från order |Retur på order )(\w+)")
# Fields that record when something happened, or a number handed out in arrival order.
VOLATILE = {
    "@url",
    "DocumentNumber",
    "OrderDate",
    "InvoiceDate",
    "DueDate",
    "InvoiceReference",
    "date",
    "bookingDate",
    "id",
}
QUANTITY_WORDS = re.compile(
    r"quantity|numberofitems|ordered|picked|packed|reported|returned|"
    r"received|advised|stock",
    re.IGNORECASE,
)


def _number(value) -> Decimal:
    return Decimal(str(value or 0))


def _plain(value):
    """JSON-able: Decimals as normalised strings so 5 and 5.000 compare equal."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class Names:
    """Canonical names of one run's Fortnox orders, by document number."""

    def __init__(self, orders: dict[str, dict]):
        self.orders = orders
        self.by_number: dict[str, str] = {}
        for number in orders:
            self.by_number[number] = self._name(number, depth=0)

    def _name(self, number: str, *, depth: int) -> str:
        order = self.orders.get(number)
        if order is None or depth > 50:
            return f"?{number}"
        origin = BACK_ORDER.match(str(order.get("Remarks") or ""))
        if order.get("OrderType") == "Backorder" and origin:
            return self._name(origin.group(1), depth=depth + 1) + "/B"
        return str(order.get("YourOrderNumber") or f"#{number}")

    def of(self, number) -> str:
        return self.by_number.get(str(number), f"?{number}")

    def text(self, value: str) -> str:
        return ORDER_MENTION.sub(lambda m: m.group(1) + self.of(m.group(2)), value)


def _scrub(value: Any, names: Names, *, drop=VOLATILE) -> Any:
    if isinstance(value, dict):
        return {
            key: _scrub(item, names, drop=drop) for key, item in value.items() if key not in drop
        }
    if isinstance(value, list):
        return [_scrub(item, names, drop=drop) for item in value]
    if isinstance(value, str):
        return names.text(value)
    return _plain(value)


def _records(company: SandboxCompany, kind: str) -> dict[str, dict]:
    return dict(SandboxRecord.objects.filter(company=company, kind=kind).values_list("key", "data"))


def _grouped(items) -> dict[str, list]:
    groups: dict[str, list] = defaultdict(list)
    for key, item in items:
        groups[key].append(item)
    return {key: sorted(group, key=repr) for key, group in sorted(groups.items())}


class Snapshot:
    """Both sandboxes' tables for one company, read once."""

    def __init__(self, *, company: SandboxCompany, goods_owner: GoodsOwner):
        self.company = company
        self.goods_owner = goods_owner
        self.orders = _records(company, Kind.ORDER)
        self.names = Names(self.orders)
        self.invoices = _records(company, Kind.INVOICE)
        self.articles = _records(company, Kind.ARTICLE)
        self.purchase_orders = _records(company, Kind.PURCHASE_ORDER)
        self.incoming_goods = _records(company, Kind.INCOMING_GOODS)
        self.documents = _records(company, Kind.CUSTOM_DOCUMENT)
        self.wms_orders = list(
            Order.objects.filter(goods_owner=goods_owner).prefetch_related("lines__article")
        )
        self.wms_purchase_orders = list(
            PurchaseOrder.objects.filter(goods_owner=goods_owner).prefetch_related("lines__article")
        )
        self.returns = list(
            ReturnOrder.objects.filter(goods_owner=goods_owner).prefetch_related(
                "lines__order_line__article"
            )
        )
        self.adjustments = list(
            InventoryAdjustment.objects.filter(goods_owner=goods_owner).select_related("article")
        )
        self.wms_articles = list(Article.objects.filter(goods_owner=goods_owner))

    def order_name(self, number) -> str:
        return self.names.of(number)

    def return_name(self, return_order: ReturnOrder) -> str:
        order_number, _dash, sequence = return_order.return_order_number.rpartition("-")
        return f"{self.order_name(order_number)}-{sequence}"

    def document_source(self, key: str) -> str:
        """What a custom document reports, named without warehouse ids: "<category>:<type>:…"."""
        category, document_type, document_id = key.split(":", 2)
        if document_type == INBOUND_RETURN:
            found = next((r for r in self.returns if str(r.pk) == document_id), None)
            source = f"return {self.return_name(found)}" if found else f"return ?{document_id}"
        elif document_type in (INBOUND_INVENTORY, OUTBOUND_INVENTORY):
            inventory_id = document_id[:-ARTICLE_ID_DIGITS]
            article_id = int(document_id[-ARTICLE_ID_DIGITS:])
            article = next((a for a in self.wms_articles if a.pk == article_id), None)
            number = article.article_number if article else f"?{article_id}"
            source = f"adjustment {inventory_id} of {number}"
        elif document_type == INBOUND_ORDER:
            purchase_order_id = int(document_id[:-RECEIPT_SEQUENCE_DIGITS])
            found = next((p for p in self.wms_purchase_orders if p.pk == purchase_order_id), None)
            number = found.purchase_order_number if found else f"?{purchase_order_id}"
            source = f"receival {int(document_id[-RECEIPT_SEQUENCE_DIGITS:])} of {number}"
        else:
            source = document_id
        return f"{category}:{document_type}:{source}"


def _receipts(rows) -> dict:
    """Receipt documents as what they booked: per (purchase order, row) the quantity of the
    released documents, and the rows of documents not released. How a purchase order's goods are
    split into documents is left out: goods received while a run reports the last receival join
    the next document, so the split depends on timing; the total may not."""
    booked: dict[str, Decimal] = defaultdict(Decimal)
    unreleased: Counter = Counter()
    for (purchase_order, row), quantity, document in rows:
        key = f"{purchase_order} row {row}"
        if document.get("released") and document.get("completed", True):
            booked[key] += _number(quantity)
        else:
            unreleased[key] += 1
    return {
        "booked": {key: _plain(value) for key, value in sorted(booked.items())},
        "rows of documents not released": dict(sorted(unreleased.items())),
    }


def canonical_state(*, company: SandboxCompany, goods_owner: GoodsOwner) -> dict:
    snap = Snapshot(company=company, goods_owner=goods_owner)
    names = snap.names

    def fortnox_order(order: dict) -> dict:
        view = _scrub(order, names)
        view["invoiced"] = bool(order.get("InvoiceReference"))
        return view

    def invoice(data: dict) -> dict:
        view = _scrub(data, names, drop=VOLATILE | {"OrderReference"})
        return view

    def wms_order(order: Order) -> dict:
        return {
            "status": order.status,
            "header": _scrub(order.data, names),
            "lines": {
                line.row_number: {
                    "article": line.article.article_number,
                    "ordered": _plain(line.ordered),
                    "picked": _plain(line.picked),
                    "packed": _plain(line.packed),
                    "reported": _plain(line.reported),
                    "returned": _plain(line.returned),
                    "reported_returned": _plain(line.reported_returned),
                    "data": _scrub(line.data, names),
                }
                for line in order.lines.all()
            },
        }

    return {
        "fortnox.articles": _scrub(snap.articles, names),
        "fortnox.suppliers": _scrub(_records(company, Kind.SUPPLIER), names),
        "fortnox.customers": _scrub(_records(company, Kind.CUSTOMER), names),
        "fortnox.orders": _grouped(
            (snap.order_name(number), fortnox_order(order)) for number, order in snap.orders.items()
        ),
        "fortnox.invoices": _grouped(
            (snap.order_name(data.get("OrderReference")), invoice(data))
            for data in snap.invoices.values()
        ),
        "fortnox.purchase_orders": _scrub(snap.purchase_orders, names),
        "fortnox.incoming_goods": _receipts(
            (
                (str(row.get("purchaseOrderId")), str(row.get("purchaseOrderRowId"))),
                row.get("receivedQuantity"),
                data,
            )
            for data in snap.incoming_goods.values()
            for row in data.get("rows") or []
        ),
        "fortnox.custom_documents": _grouped(
            (snap.document_source(key), _scrub(data, names))
            for key, data in snap.documents.items()
            if data.get("type") != INBOUND_ORDER
        ),
        "fortnox.inbound_order_documents": _receipts(
            (
                (snap.document_source(key).rsplit(" of ", 1)[-1], str(row.get("itemId"))),
                row.get("quantity"),
                data,
            )
            for key, data in snap.documents.items()
            if data.get("type") == INBOUND_ORDER
            for row in data.get("rows") or []
        ),
        "fortnox.document_types": _scrub(_records(company, Kind.DOCUMENT_TYPE), names),
        "wms.articles": {
            article.article_number: {"stock": _plain(article.number_of_items), "data": article.data}
            for article in sorted(snap.wms_articles, key=lambda a: a.article_number)
        },
        "wms.orders": _grouped(
            (snap.order_name(order.order_number), wms_order(order)) for order in snap.wms_orders
        ),
        "wms.purchase_orders": _grouped(
            (
                purchase_order.purchase_order_number,
                {
                    "status": purchase_order.status,
                    "header": _scrub(purchase_order.data, names),
                    "lines": {
                        line.row_number: {
                            "article": line.article.article_number,
                            "advised": _plain(line.advised),
                            "received": _plain(line.received),
                            "reported": _plain(line.reported),
                        }
                        for line in purchase_order.lines.all()
                    },
                },
            )
            for purchase_order in snap.wms_purchase_orders
        ),
        "wms.returns": _grouped(
            (
                snap.return_name(return_order),
                sorted(
                    (line.order_line.row_number, _plain(line.returned))
                    for line in return_order.lines.all()
                ),
            )
            for return_order in snap.returns
        ),
        "wms.adjustments": {
            str(adjustment.pk): {
                "article": adjustment.article.article_number,
                "change": _plain(adjustment.number_of_items),
                "reported": adjustment.is_reported,
            }
            for adjustment in snap.adjustments
        },
    }


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Every path at which two canonical states differ, as readable lines."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in sorted(set(expected) | set(actual), key=str):
            where = f"{path}/{key}"
            if key not in actual:
                found.append(f"{where}: missing (expected {_short(expected[key])})")
            elif key not in expected:
                found.append(f"{where}: unexpected {_short(actual[key])}")
            else:
                found.extend(differences(expected[key], actual[key], where))
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} expected, {len(actual)} found"]
        found = []
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            found.extend(differences(left, right, f"{path}[{index}]"))
        return found
    if expected != actual:
        return [f"{path}: expected {_short(expected)}, found {_short(actual)}"]
    return []


def quantity_differences(lines: list[str]) -> list[str]:
    """The differences whose field is a quantity, or a quantity booked by receipt documents, or
    that are a whole missing, extra or doubled object (a different count of anything)."""
    found = []
    for line in lines:
        path, _colon, rest = line.partition(": ")
        if (
            QUANTITY_WORDS.search(path.rsplit("/", 1)[-1])
            or "/booked/" in path
            or rest.startswith(("missing", "unexpected"))
            or re.fullmatch(r"\d+ expected, \d+ found", rest)
        ):
            found.append(line)
    return found


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def _extra(counter: Counter) -> int:
    return sum(count - 1 for count in counter.values() if count > 1)


def audit(*, company: SandboxCompany, goods_owner: GoodsOwner) -> dict:
    """Duplicates and losses in one run's final state, each with the offending objects named.
    Returns {"duplicates": {what: [names]}, "losses": {what: [names]}}."""
    snap = Snapshot(company=company, goods_owner=goods_owner)
    duplicates: dict[str, list[str]] = {}
    losses: dict[str, list[str]] = defaultdict(list)

    def repeated(keys) -> list[str]:
        counts = Counter(keys)
        return sorted(f"{key} (x{count})" for key, count in counts.items() if count > 1)

    duplicates["warehouse orders"] = repeated(
        snap.order_name(order.order_number) for order in snap.wms_orders
    )
    duplicates["invoices"] = repeated(
        snap.order_name(data.get("OrderReference")) for data in snap.invoices.values()
    )
    duplicates["back orders"] = repeated(
        snap.order_name(number)
        for number, order in snap.orders.items()
        if order.get("OrderType") == "Backorder"
    )
    duplicates["incoming goods"] = repeated(
        str(data.get("deliveryNoteId")) for data in snap.incoming_goods.values()
    )
    duplicates["custom documents"] = repeated(
        snap.document_source(key).split(":", 1)[1] for key in snap.documents
    )
    duplicates["warehouse purchase orders"] = repeated(
        po.purchase_order_number for po in snap.wms_purchase_orders
    )

    # Orders: every confirmed order Fortnox has is in the warehouse; a cancellation or change
    # made before the warehouse started reached it.
    wms_by_number = {order.order_number: order for order in snap.wms_orders}
    for number, order in snap.orders.items():
        name = snap.order_name(number)
        wms = wms_by_number.get(number)
        if order.get("Sent") and not order.get("Cancelled") and wms is None:
            losses["orders"].append(name)
            continue
        if wms is None:
            continue
        if order.get("Cancelled"):
            if wms.status < ORDER_WORK_STARTED:
                losses["cancellations"].append(name)
            continue
        if wms.status < ORDER_WORK_STARTED:
            wanted = {
                str(row["RowId"]): _number(row.get("OrderedQuantity"))
                for row in order.get("OrderRows") or []
                if row.get("ArticleNumber")
            }
            have = {line.row_number: line.ordered for line in wms.lines.all()}
            if wanted != have:
                losses["order changes"].append(name)

    # Fulfilments: every order the warehouse sent has its delivered quantities and its invoice
    # in Fortnox, and is acknowledged in the warehouse.
    invoiced = {str(data.get("OrderReference")) for data in snap.invoices.values()}
    for wms in snap.wms_orders:
        if not OrderStatus.SENT <= wms.status < OrderStatus.CANCELLED:
            continue
        name = snap.order_name(wms.order_number)
        order = snap.orders.get(wms.order_number)
        if order is None:
            losses["fulfilments"].append(f"{name} (no Fortnox order)")
            continue
        rows = {str(row["RowId"]): row for row in order.get("OrderRows") or []}
        for line in wms.lines.all():
            row = rows.get(line.row_number)
            delivered = _number(row.get("DeliveredQuantity")) if row else None
            if line.article.is_stock_article and delivered != line.picked:
                losses["fulfilments"].append(f"{name} row {line.row_number} delivered")
            if line.reported != line.picked:
                losses["fulfilments"].append(f"{name} row {line.row_number} not acknowledged")
        if wms.order_number not in invoiced:
            losses["fulfilments"].append(f"{name} not invoiced")

    # Receipts: what the warehouse received is received in Fortnox, through released incoming
    # goods, and acknowledged; a purchase order the warehouse closed is completed in Fortnox.
    released_goods: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for data in snap.incoming_goods.values():
        if data.get("released"):
            for row in data.get("rows") or []:
                key = (str(row.get("purchaseOrderId")), str(row.get("purchaseOrderRowId")))
                released_goods[key] += _number(row.get("receivedQuantity"))
    released = {
        snap.document_source(key): data
        for key, data in snap.documents.items()
        if data.get("released")
    }
    for wms in snap.wms_purchase_orders:
        number = wms.purchase_order_number
        fortnox = snap.purchase_orders.get(number)
        if fortnox is None:
            # Entered in the warehouse: its receivals are OngoingInboundOrder documents.
            booked: dict[str, Decimal] = defaultdict(Decimal)
            for source, data in released.items():
                if source.startswith(f"inbound:{INBOUND_ORDER}:") and source.endswith(
                    f" of {number}"
                ):
                    for row in data.get("rows") or []:
                        booked[str(row.get("itemId"))] += _number(row.get("quantity"))
            received: dict[str, Decimal] = defaultdict(Decimal)
            for line in wms.lines.all():
                received[line.article.article_number] += line.received
                if (line.reported or 0) != line.received:
                    losses["receipts"].append(f"{number} row {line.row_number}: not acknowledged")
            if {k: v for k, v in booked.items() if v} != {k: v for k, v in received.items() if v}:
                losses["receipts"].append(f"{number}: inbound documents")
            continue
        rows = {str(row.get("rowNum")): row for row in fortnox.get("rows") or []}
        for line in wms.lines.all():
            row = rows.get(line.row_number) or {}
            where = f"{number} row {line.row_number}"
            if _number(row.get("receivedQuantity")) != line.received:
                losses["receipts"].append(f"{where}: Fortnox received")
            if released_goods[(number, str(row.get("id")))] != line.received:
                losses["receipts"].append(f"{where}: incoming goods")
            if (line.reported or 0) != line.received:
                losses["receipts"].append(f"{where}: not acknowledged")
        closed = wms.status in (PurchaseOrderStatus.DEFLECTION, PurchaseOrderStatus.RECEIVED)
        if closed and fortnox.get("_state") != "RECEIVED":
            losses["receipts"].append(f"{number}: not completed in Fortnox")

    # Returns and adjustments: each is one released document with its quantities, acknowledged.
    for return_order in snap.returns:
        name = snap.return_name(return_order)
        document = released.get(f"inbound:{INBOUND_RETURN}:return {name}")
        returned = sorted(
            (line.order_line.article.article_number, line.returned)
            for line in return_order.lines.all()
        )
        booked = sorted(
            (row["itemId"], _number(row["quantity"])) for row in (document or {}).get("rows") or []
        )
        if returned != booked:
            losses["returns"].append(name)
        for line in return_order.lines.all():
            if line.order_line.reported_returned != line.order_line.returned:
                losses["returns"].append(f"{name} row {line.order_line.row_number} unacknowledged")
    for adjustment in snap.adjustments:
        number = adjustment.article.article_number
        kind = INBOUND_INVENTORY if adjustment.number_of_items > 0 else OUTBOUND_INVENTORY
        category = "inbound" if adjustment.number_of_items > 0 else "outbound"
        document = released.get(f"{category}:{kind}:adjustment {adjustment.pk} of {number}")
        booked = [_number(row["quantity"]) for row in (document or {}).get("rows") or []]
        if booked != [abs(adjustment.number_of_items)] or not adjustment.is_reported:
            losses["adjustments"].append(f"{adjustment.pk} of {number}")

    return {
        "documents": {
            "incoming goods": len(snap.incoming_goods),
            "custom documents": len(snap.documents),
        },
        "duplicates": duplicates,
        "losses": {
            key: losses.get(key, [])
            for key in (
                "orders",
                "cancellations",
                "order changes",
                "fulfilments",
                "receipts",
                "returns",
                "adjustments",
            )
        },
    }


def problems(found: dict) -> dict[str, list[str]]:
    """An audit's findings by name ("duplicate invoices", "lost receipts"), only those found."""
    named = {f"duplicate {what}": names for what, names in found["duplicates"].items() if names}
    named.update({f"lost {what}": names for what, names in found["losses"].items() if names})
    return named
