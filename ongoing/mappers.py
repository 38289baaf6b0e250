"""Pure mappers from Fortnox records (as Fortnox answers them) to Ongoing WMS request bodies.

No I/O here: the processes fetch, these functions translate, the processes write. A record that
cannot be translated raises ObjectValidationError naming the record and the field, so the run
records one SyncFailure for it and carries on with the others.
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from integrations.errors import ObjectValidationError
from integrations.text import printable

# Units, decided (UNVERIFIED on both sides): Fortnox stores article Width/Height/Depth as whole
# millimetres and Weight as whole grams (its UI's units); Ongoing's article model takes metres and
# kilograms. Change these two factors if either vendor says otherwise.
MILLIMETRES_PER_METRE = Decimal(1000)
GRAMS_PER_KILOGRAM = Decimal(1000)

# Ongoing has no documented order fields for Fortnox's terms of payment and order language
# (UNVERIFIED); they travel in free-text fields the warehouse sees on the order.
TERMS_OF_PAYMENT_FIELD = "freeText1"
LANGUAGE_FIELD = "freeText2"

# Fortnox orders carry the delivery country as a name (Swedish or English, as typed); the customer's
# CountryCode is preferred and this table is the fallback for the names customers actually use.
COUNTRY_CODES = {
    "sverige": "SE",
    "sweden": "SE",
    "norge": "NO",
    "norway": "NO",
    "danmark": "DK",
    "denmark": "DK",
    "finland": "FI",
    "island": "IS",
    "iceland": "IS",
    "tyskland": "DE",
    "germany": "DE",
    "deutschland": "DE",
    "nederländerna": "NL",
    "netherlands": "NL",
    "holland": "NL",
    "belgien": "BE",
    "belgium": "BE",
    "frankrike": "FR",
    "france": "FR",
    "spanien": "ES",
    "spain": "ES",
    "italien": "IT",
    "italy": "IT",
    "polen": "PL",
    "poland": "PL",
    "estland": "EE",
    "estonia": "EE",
    "lettland": "LV",
    "latvia": "LV",
    "litauen": "LT",
    "lithuania": "LT",
    "österrike": "AT",
    "austria": "AT",
    "schweiz": "CH",
    "switzerland": "CH",
    "storbritannien": "GB",
    "england": "GB",
    "united kingdom": "GB",
    "great britain": "GB",
    "irland": "IE",
    "ireland": "IE",
    "usa": "US",
    "united states": "US",
}
HOME_COUNTRY = "SE"


def decimal_or_none(value: Any, *, what: str) -> Decimal | None:
    """Fortnox sends numbers as numbers, as strings ("12.50"), and in places with a decimal comma;
    an empty value is None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ObjectValidationError(f"{what}: {value!r} is not a number")
    text = str(value).strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ObjectValidationError(f"{what}: {value!r} is not a number") from None
    if not number.is_finite():
        raise ObjectValidationError(f"{what}: {value!r} is not a number")
    return number


def _number(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _text(value: Any) -> str | None:
    """A scalar as text, without control characters; None for nothing, and for lists or objects
    where text belongs."""
    if value is None or isinstance(value, dict | list):
        return None
    text = printable(str(value)).strip()
    return text or None


def _mapping(value: Any) -> dict:
    """A nested object, or an empty one where the API sent something else."""
    return value if isinstance(value, dict) else {}


def _rows(value: Any, *, what: str) -> list[dict]:
    """A document's rows; anything but a list of objects is refused, naming the document."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ObjectValidationError(f"{what}: its rows are not a list")
    for position, row in enumerate(value, start=1):
        if not isinstance(row, dict):
            raise ObjectValidationError(f"{what}, row {position}: not a row")
    return value


def whole_number(value: Any, *, what: str) -> int | None:
    """An id the warehouse sent (a whole number, or its digits as text); None when absent.
    Anything else is refused, naming the record: it would end up in a path or a document id."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = value.strip() if isinstance(value, str) else ""
    # 18 digits fit a bigint; a longer "id" is not one (and would not even convert).
    if text.isdigit() and text.isascii() and len(text) <= 18:
        return int(text)
    raise ObjectValidationError(f"{what}: {value!r:.40} is not an id")


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "ja")
    return bool(value)


def _drop_empty(data: dict) -> dict:
    """Absent values are left out rather than sent as null, so the warehouse keeps what it has."""
    return {key: value for key, value in data.items() if value not in (None, "", {}, [])}


def supplier_info(supplier_number: Any, supplier: dict | None = None) -> dict | None:
    """Ongoing has no supplier endpoint: the Fortnox supplier an article or purchase order names
    travels inside it as supplierInfo, with the name from our copy of the supplier registry."""
    number = _text(supplier_number)
    if number is None:
        return None
    return _drop_empty(
        {"supplierNumber": number, "supplierName": _text((supplier or {}).get("Name"))}
    )


def article_to_ongoing(article: dict, *, goods_owner_id: int, supplier: dict | None = None) -> dict:
    """A Fortnox Article (full record, not a list item) as Ongoing's PUT /articles body."""
    number = _text(article.get("ArticleNumber"))
    if number is None:
        raise ObjectValidationError("Article without an article number")
    what = f"Article {number}"

    def measure(field: str, per_unit: Decimal) -> float | int | None:
        value = decimal_or_none(article.get(field), what=f"{what}, {field}")
        if value is None or value <= 0:
            return None
        return _number((value / per_unit).quantize(Decimal("0.000001")).normalize())

    length = measure("Depth", MILLIMETRES_PER_METRE)
    width = measure("Width", MILLIMETRES_PER_METRE)
    height = measure("Height", MILLIMETRES_PER_METRE)
    volume = None
    if length and width and height:
        volume = _number(
            (Decimal(str(length)) * Decimal(str(width)) * Decimal(str(height)))
            .quantize(Decimal("0.000000001"))
            .normalize()
        )
    if "StockGoods" in article and article["StockGoods"] is not None:
        is_stock = _flag(article["StockGoods"])
    else:
        is_stock = str(article.get("Type", "")).upper() == "STOCK"
    active = article.get("Active")
    ean = _text(article.get("EAN"))
    return _drop_empty(
        {
            "goodsOwnerId": goods_owner_id,
            "articleNumber": number,
            "articleName": _text(article.get("Description")) or number,
            "description": _text(article.get("Note")),
            "unitCode": _text(article.get("Unit")),
            "isStockArticle": is_stock,
            "isActive": (active is None or _flag(active)) and not _flag(article.get("Expired")),
            "barCodeInfo": {"barCode": ean} if ean else None,
            "length": length,
            "width": width,
            "height": height,
            "volume": volume,
            "weight": measure("Weight", GRAMS_PER_KILOGRAM),
            "purchasePrice": _number(
                decimal_or_none(article.get("PurchasePrice"), what=f"{what}, PurchasePrice")
            ),
            "supplierInfo": supplier_info(article.get("SupplierNumber"), supplier),
        }
    )


def country_code(*candidates: Any, what: str) -> str:
    """The first usable country: a two-letter code, or a country name we know."""
    names = [text for text in (_text(value) for value in candidates) if text]
    for name in names:
        if len(name) == 2 and name.isalpha() and name.isascii():
            return name.upper()
        code = COUNTRY_CODES.get(name.casefold())
        if code:
            return code
    if not names:
        return HOME_COUNTRY
    raise ObjectValidationError(
        f"{what}: unknown delivery country {names[0]!r}; set the country code on the customer in "
        "Fortnox"
    )


def order_to_ongoing(
    order: dict,
    *,
    goods_owner_id: int,
    customer: dict | None = None,
    order_type: dict | None = None,
    sms_notification: bool = False,
    email_notification: bool = False,
) -> dict:
    """A Fortnox Order (full record) as Ongoing's PUT /orders body. `customer` is the Fortnox
    Customer when known (it has the country code the order lacks); `order_type` is the
    {code, name} to set, or None."""
    number = _text(order.get("DocumentNumber"))
    if number is None:
        raise ObjectValidationError("Order without a document number")
    what = f"Order {number}"
    customer = _mapping(customer)
    delivery_date = _text(order.get("DeliveryDate")) or _text(order.get("OrderDate"))
    if delivery_date is None:
        raise ObjectValidationError(f"{what}: no delivery date or order date")

    has_delivery_address = bool(_text(order.get("DeliveryAddress1")))
    prefix = "Delivery" if has_delivery_address else ""
    if has_delivery_address:
        countries = (
            customer.get("DeliveryCountryCode"),
            order.get("DeliveryCountry"),
            customer.get("CountryCode"),
        )
    else:
        countries = (customer.get("CountryCode"), order.get("Country"))
    phone1 = _text(order.get("Phone1")) or _text(customer.get("Phone1"))
    phone2 = _text(order.get("Phone2")) or _text(customer.get("Phone2"))
    email = _text(_mapping(order.get("EmailInformation")).get("EmailAddressTo")) or _text(
        customer.get("Email")
    )
    consignee = _drop_empty(
        {
            "customerNumber": _text(order.get("CustomerNumber")),
            "name": _text(order.get("DeliveryName")) or _text(order.get("CustomerName")),
            "address1": _text(order.get(f"{prefix}Address1")),
            "address2": _text(order.get(f"{prefix}Address2")),
            "postCode": _text(order.get(f"{prefix}ZipCode")),
            "city": _text(order.get(f"{prefix}City")),
            "countryCode": country_code(*countries, what=what),
            # Fortnox Phone1/Phone2 → Ongoing telephone/mobilePhone (UNVERIFIED field names).
            "telephone": phone1,
            "mobilePhone": phone2,
            "email": email,
            "organisationNumber": _text(order.get("OrganisationNumber"))
            or _text(customer.get("OrganisationNumber")),
        }
    )
    if not consignee.get("name"):
        raise ObjectValidationError(f"{what}: no customer or delivery name")

    lines = []
    for position, row in enumerate(_rows(order.get("OrderRows"), what=what), start=1):
        article_number = _text(row.get("ArticleNumber"))
        if article_number is None:
            continue  # a text row: nothing to pick
        row_what = f"{what}, row {position}"
        quantity = decimal_or_none(row.get("OrderedQuantity"), what=f"{row_what}, OrderedQuantity")
        if not quantity or quantity <= 0:
            continue
        row_id = _text(row.get("RowId"))
        line_total = decimal_or_none(row.get("Total"), what=f"{row_what}, Total")
        lines.append(
            _drop_empty(
                {
                    "rowNumber": row_id or str(position),
                    "articleNumber": article_number,
                    "numberOfItems": _number(quantity),
                    "comment": _text(row.get("Description")),
                    "prices": _drop_empty(
                        {
                            "linePrice": _number(line_total),
                            "currencyCode": _text(order.get("Currency")),
                        }
                    ),
                    "externalId": row_id,
                }
            )
        )

    if not lines:
        # An order the warehouse cannot pick anything of would arrive without lines.
        raise ObjectValidationError(
            f"{what}: no row with an article and a quantity, so nothing for the warehouse to pick"
        )
    way_of_delivery = _text(order.get("WayOfDelivery"))
    return _drop_empty(
        {
            "goodsOwnerId": goods_owner_id,
            "orderNumber": number,
            "deliveryDate": delivery_date,
            "goodsOwnerOrderId": _text(order.get("YourOrderNumber")),
            "referenceNumber": _text(order.get("YourReference")),
            "salesCode": _text(order.get("OurReference")),
            "orderRemark": _text(order.get("Remarks")),
            "termsOfDeliveryType": _text(order.get("TermsOfDelivery")),
            TERMS_OF_PAYMENT_FIELD: _text(order.get("TermsOfPayment")),
            LANGUAGE_FIELD: _text(order.get("Language")),
            "wayOfDelivery": {"code": way_of_delivery, "name": way_of_delivery}
            if way_of_delivery
            else None,
            "customerPrice": _number(decimal_or_none(order.get("Total"), what=f"{what}, Total")),
            "orderType": order_type,
            "consignee": consignee,
            "emailNotification": {"toBeNotified": email_notification, "value": email}
            if email_notification and email
            else {"toBeNotified": False},
            "smsNotification": {"toBeNotified": sms_notification, "value": phone2 or phone1}
            if sms_notification and (phone2 or phone1)
            else {"toBeNotified": False},
            "orderLines": lines,
        }
    )


# --- Warehouse → Fortnox ----------------------------------------------------------------------


def fulfilment_quantities(
    wms_order: dict, fortnox_order: dict, *, lower_ordered: bool = False
) -> tuple[dict[str, float | int], dict[str, float | int]]:
    """What to write on a Fortnox order for a fulfilled warehouse order: (delivered, ordered) by
    Fortnox RowId, only the rows whose value differs from what Fortnox has.

    The warehouse line's rowNumber is the Fortnox RowId (order_to_ongoing sends it so). A line the
    warehouse does not pick (not a stock article) is delivered in full; a Fortnox row the warehouse
    never got (a text row) is left as it is. With `lower_ordered`, a row delivered short has its
    ordered quantity lowered to the delivered one, so invoicing makes no back order."""
    number = _text(fortnox_order.get("DocumentNumber")) or "?"
    rows = {
        str(row.get("RowId")): row
        for row in _rows(fortnox_order.get("OrderRows"), what="The Fortnox order")
    }
    delivered: dict[str, float | int] = {}
    ordered: dict[str, float | int] = {}
    for line in _rows(wms_order.get("orderLines"), what="The warehouse order"):
        row_id = _text(line.get("rowNumber"))
        row = rows.get(row_id or "")
        if row is None:
            raise ObjectValidationError(
                f"Order {number}: the warehouse reports row {row_id}, which the Fortnox order "
                "does not have"
            )
        what = f"Order {number}, row {row_id}"
        ordered_now = decimal_or_none(row.get("OrderedQuantity"), what=f"{what}, OrderedQuantity")
        ordered_now = ordered_now or Decimal(0)
        if line.get("shouldBePicked") is False:
            quantity = ordered_now
        else:
            quantity = decimal_or_none(
                line.get("pickedNumberOfItems"), what=f"{what}, pickedNumberOfItems"
            ) or Decimal(0)
        current = decimal_or_none(row.get("DeliveredQuantity"), what=f"{what}, DeliveredQuantity")
        if current != quantity:
            delivered[row_id] = _number(quantity)
        if lower_ordered and quantity < ordered_now:
            ordered[row_id] = _number(quantity)
    return delivered, ordered


# Fortnox Lager custom document types of the Ongoing integration (the seed's table).
INBOUND_ORDER = "OngoingInboundOrder"
INBOUND_RETURN = "OngoingInboundReturn"
INBOUND_INVENTORY = "OngoingInboundInventory"
OUTBOUND_INVENTORY = "OngoingOutboundInventory"
# An inventory adjustment is acknowledged per (inventoryId, articleSystemId): its document id is
# both, the article id zero-padded to this width so that no two pairs give the same digits.
ARTICLE_ID_DIGITS = 12
MAX_DOCUMENT_ID_DIGITS = 25


def _document_id(digits: str) -> str:
    if not digits.isdigit() or len(digits) > MAX_DOCUMENT_ID_DIGITS:
        raise ObjectValidationError(f"Document id {digits} is not at most 25 digits")
    return digits


def _document_date(moment: Any) -> str | None:
    """The date part of an Ongoing UTC time ("2026-11-23T10:39:31.3Z" → "2026-11-23")."""
    text = _text(moment)
    return text[:10] if text else None


def adjustment_document(article: dict, adjustment: dict) -> tuple[str, str, str, dict]:
    """An Ongoing inventory adjustment as a Fortnox Lager custom document: (direction, type, id,
    body). Found goods are an inbound OngoingInboundInventory, lost goods an outbound
    OngoingOutboundInventory; the id is the adjustment's inventoryId and articleSystemId, so a
    retry saves the same document."""
    article, adjustment = _mapping(article), _mapping(adjustment)
    number = _text(article.get("articleNumber"))
    what = f"Inventory adjustment {_text(adjustment.get('inventoryId'))} of article {number}"
    inventory_id = whole_number(adjustment.get("inventoryId"), what=f"{what}, inventoryId")
    article_id = whole_number(article.get("articleSystemId"), what=f"{what}, articleSystemId")
    change = decimal_or_none(adjustment.get("numberOfItems"), what=f"{what}, numberOfItems")
    if number is None or inventory_id is None or article_id is None or not change:
        raise ObjectValidationError(f"{what}: no article or no change")
    if article_id >= 10**ARTICLE_ID_DIGITS:
        raise ObjectValidationError(f"{what}: articleSystemId {article_id} is too long")
    document_id = _document_id(f"{inventory_id}{article_id:0{ARTICLE_ID_DIGITS}d}")
    note = _text(adjustment.get("inventoryItemComment")) or f"Ongoing WMS inventory {inventory_id}"
    row = {"rowId": 1, "itemId": number, "quantity": _number(abs(change))}
    body = {
        "id": document_id,
        "type": INBOUND_INVENTORY if change > 0 else OUTBOUND_INVENTORY,
        "date": _document_date(adjustment.get("inventoryTime")),
        "note": note,
        "rows": [row],
    }
    if change > 0:
        return "inbound", INBOUND_INVENTORY, document_id, _drop_empty(body)
    row["deliveredQuantity"] = row["quantity"]
    body["deliveryState"] = "delivery"
    return "outbound", OUTBOUND_INVENTORY, document_id, _drop_empty(body)


def return_document(return_order: dict) -> tuple[str, dict]:
    """An Ongoing return order (goods back on a sales order) as an inbound OngoingInboundReturn
    document: (id, body); the id is the returnOrderId."""
    info = _mapping(return_order.get("returnOrderInfo"))
    return_id = whole_number(info.get("returnOrderId"), what="Return order, returnOrderId")
    if return_id is None:
        raise ObjectValidationError("Return order without an id")
    what = f"Return {_text(info.get('returnOrderNumber')) or return_id}"
    rows = []
    for line in _rows(return_order.get("returnOrderLines"), what=what):
        quantity = decimal_or_none(
            line.get("returnedNumberOfItems"), what=f"{what}, returnedNumberOfItems"
        )
        number = _text(_mapping(line.get("article")).get("articleNumber"))
        if not quantity or number is None:
            continue
        rows.append({"rowId": len(rows) + 1, "itemId": number, "quantity": _number(quantity)})
    if not rows:
        raise ObjectValidationError(f"{what}: nothing returned")
    order_number = _text(_mapping(return_order.get("customerOrderInfo")).get("orderNumber"))
    document_id = _document_id(str(return_id))
    body = {
        "id": document_id,
        "type": INBOUND_RETURN,
        "date": _document_date(info.get("inDate")),
        "note": f"Retur på order {order_number}" if order_number else None,
        "rows": rows,
    }
    return document_id, _drop_empty(body)


def stock_balance_changes(wms_articles: list[dict], fortnox_articles: list[dict]) -> dict:
    """The classic stock balance: {article number: quantity} to write as QuantityInStock, for
    each stock article both sides know whose Fortnox quantity differs from the warehouse's
    sellable quantity."""
    in_fortnox = {
        _text(article.get("ArticleNumber")): article
        for article in map(_mapping, fortnox_articles)
        if _text(article.get("ArticleNumber"))
    }
    changes = {}
    for article in map(_mapping, wms_articles):
        number = _text(article.get("articleNumber"))
        if number not in in_fortnox or not _flag(article.get("isStockArticle")):
            continue
        sellable = decimal_or_none(
            _mapping(article.get("inventoryInfo")).get("sellableNumberOfItems"),
            what=f"Article {number}, sellableNumberOfItems",
        ) or Decimal(0)
        current = decimal_or_none(
            in_fortnox[number].get("QuantityInStock"), what=f"Article {number}, QuantityInStock"
        )
        if current != sellable:
            changes[number] = _number(sellable)
    return changes


def purchase_order_to_ongoing(purchase_order: dict, *, goods_owner_id: int) -> dict:
    """A Fortnox Lager purchase order as Ongoing's PUT /purchaseOrders body. The line's rowNumber
    is Fortnox's row number and externalOrderLineId its row id, by which receipts come back.
    Ongoing documents supplierInfo.supplierNumber/supplierName only; the address fields are named
    after Fortnox's (UNVERIFIED in Ongoing: rename them here if Ongoing says otherwise)."""
    purchase_order_id = _text(purchase_order.get("id"))
    if purchase_order_id is None:
        raise ObjectValidationError("Purchase order without an id")
    what = f"Purchase order {purchase_order_id}"
    lines = []
    for position, row in enumerate(_rows(purchase_order.get("rows"), what=what), start=1):
        article_number = _text(row.get("itemId"))
        quantity = decimal_or_none(row.get("orderedQuantity"), what=f"{what}, orderedQuantity")
        if article_number is None or not quantity or quantity <= 0:
            continue
        lines.append(
            _drop_empty(
                {
                    "rowNumber": _text(row.get("rowNum")) or str(position),
                    "articleNumber": article_number,
                    "numberOfItems": _number(quantity),
                    "comment": _text(row.get("itemDescription")),
                    "rowPrice": _number(decimal_or_none(row.get("price"), what=f"{what}, price")),
                    "currencyCode": _text(row.get("currencyCode"))
                    or _text(purchase_order.get("currencyCode")),
                    "externalOrderLineId": _text(row.get("id")),
                }
            )
        )
    if not lines:
        raise ObjectValidationError(
            f"{what}: no row with an article and a quantity, so nothing for the warehouse to "
            "receive"
        )
    supplier = _drop_empty(
        {
            "supplierNumber": _text(purchase_order.get("supplierNumber")),
            "supplierName": _text(purchase_order.get("supplierName")),
            "supplierAddress": _text(purchase_order.get("supplierAddress")),
            "supplierAddress2": _text(purchase_order.get("supplierAddress2")),
            "supplierPostCode": _text(purchase_order.get("supplierPostCode")),
            "supplierCity": _text(purchase_order.get("supplierCity")),
            "supplierCountryCode": _text(purchase_order.get("supplierCountryCode")),
        }
    )
    return _drop_empty(
        {
            "goodsOwnerId": goods_owner_id,
            "purchaseOrderNumber": purchase_order_id,
            "inDate": _text(purchase_order.get("deliveryDate")),
            "purchaseOrderRemark": _text(purchase_order.get("note")),
            "supplierInfo": supplier,
            "purchaseOrderLines": lines,
        }
    )


def receival_quantities(wms_purchase_order: dict, booked: dict[str, Decimal]) -> dict:
    """What the warehouse has received beyond what is already booked in Fortnox, by Fortnox row
    id: the next receival's quantities."""
    number = _text(_mapping(wms_purchase_order.get("purchaseOrderInfo")).get("purchaseOrderNumber"))
    quantities = {}
    for line in _rows(
        wms_purchase_order.get("purchaseOrderLines"), what="The warehouse purchase order"
    ):
        row_id = _text(line.get("externalOrderLineId"))
        if row_id is None:
            continue
        received = decimal_or_none(
            line.get("receivedNumberOfItems"),
            what=f"Purchase order {number}, row {row_id}, receivedNumberOfItems",
        ) or Decimal(0)
        rest = received - booked.get(row_id, Decimal(0))
        if rest > 0:
            quantities[row_id] = _number(rest)
    return quantities


def incoming_goods_document(
    purchase_order: dict, quantities: dict, *, delivery_note_id: str, date: str
) -> dict:
    """Fortnox Lager incoming goods for one receival of a purchase order."""
    rows = []
    for row in _rows(purchase_order.get("rows"), what="The purchase order"):
        row_id = _text(row.get("id"))
        if row_id not in quantities:
            continue
        rows.append(
            {
                "itemId": _text(row.get("itemId")),
                "receivedQuantity": quantities[row_id],
                "orderedQuantity": row.get("orderedQuantity"),
                "purchaseOrderId": purchase_order.get("id"),
                "purchaseOrderRowId": row.get("id"),
            }
        )
    missing = set(quantities) - {
        _text(row.get("id")) for row in _rows(purchase_order.get("rows"), what="The purchase order")
    }
    if missing:
        raise ObjectValidationError(
            f"Purchase order {purchase_order.get('id')} has no row {', '.join(sorted(missing))}"
        )
    return _drop_empty(
        {
            "deliveryNoteId": delivery_note_id,
            "supplierNumber": _text(purchase_order.get("supplierNumber")),
            "date": date,
            "rows": rows,
        }
    )


def purchase_order_receipt_quantities(wms_purchase_order: dict, booked: dict[str, Decimal]) -> dict:
    """A warehouse purchase order's received quantities beyond what is already booked, by Ongoing
    line id."""
    number = _text(_mapping(wms_purchase_order.get("purchaseOrderInfo")).get("purchaseOrderNumber"))
    quantities = {}
    for line in _rows(
        wms_purchase_order.get("purchaseOrderLines"), what="The warehouse purchase order"
    ):
        line_id = _line_id(line, what=f"Purchase order {number}")
        received = decimal_or_none(
            line.get("receivedNumberOfItems"),
            what=f"Purchase order {number}, line {line_id}, receivedNumberOfItems",
        ) or Decimal(0)
        rest = received - booked.get(line_id, Decimal(0))
        if rest > 0:
            quantities[line_id] = _number(rest)
    return quantities


RECEIPT_SEQUENCE_DIGITS = 4


def _line_id(line: dict, *, what: str) -> str:
    """A warehouse purchase order line's id, the key its receipts are booked under."""
    line_id = whole_number(line.get("id"), what=f"{what}, line id")
    if line_id is None:
        raise ObjectValidationError(f"{what}: a line without an id")
    return str(line_id)


def purchase_order_receipt_document(
    wms_purchase_order: dict, quantities: dict, *, sequence: int
) -> tuple[str, dict]:
    """One receival of a warehouse purchase order as an inbound OngoingInboundOrder document:
    (id, body). The id is the Ongoing purchaseOrderId followed by the receival's number, four
    digits, so each receival has its own document and a retry saves the same one."""
    info = _mapping(wms_purchase_order.get("purchaseOrderInfo"))
    what = f"Purchase order {_text(info.get('purchaseOrderNumber'))}"
    purchase_order_id = whole_number(info.get("purchaseOrderId"), what=f"{what}, purchaseOrderId")
    if purchase_order_id is None:
        raise ObjectValidationError(f"{what}: no purchaseOrderId")
    document_id = _document_id(f"{purchase_order_id}{sequence:0{RECEIPT_SEQUENCE_DIGITS}d}")
    rows = []
    for line in _rows(
        wms_purchase_order.get("purchaseOrderLines"), what="The warehouse purchase order"
    ):
        line_id = _line_id(line, what=what)
        if line_id not in quantities:
            continue
        rows.append(
            {
                "rowId": len(rows) + 1,
                "itemId": _text(_mapping(line.get("article")).get("articleNumber")),
                "quantity": quantities[line_id],
            }
        )
    body = {
        "id": document_id,
        "type": INBOUND_ORDER,
        "date": _document_date(info.get("lastReceiveTime")),
        "note": f"Inleverans {info.get('purchaseOrderNumber')} ({sequence})",
        "rows": rows,
    }
    return document_id, _drop_empty(body)
