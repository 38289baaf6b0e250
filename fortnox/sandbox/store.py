"""The emulated Fortnox's objects and their rules, shared by the API views and the pages where a
person plays the Fortnox user. Each function raises ApiError the way Fortnox would answer.

Where the reference marks a behaviour UNVERIFIED, the choice made here is stated in one comment."""

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.db.models import BigIntegerField, Max
from django.db.models.functions import Cast
from django.http import JsonResponse

from . import clock
from .models import SandboxCompany, SandboxEvent, SandboxRecord

Kind = SandboxRecord.Kind
STOCKHOLM = ZoneInfo("Europe/Stockholm")

# Fortnox error codes. The reference lists INVALID_PARAMETER and JSON_SYNTAX; the not-found and
# "cannot change" codes are UNVERIFIED: chosen from Fortnox's 2000xxx range.
INVALID_PARAMETER = 2000588
JSON_SYNTAX = 2002115
NO_LICENCE_FOR_SCOPE = 2001101
INVALID_TOKEN = 2000311
MISSING_SCOPE = 2000663
NOT_FOUND_CODE = 2000428
CANNOT_CHANGE = 2000600
REQUIRED_FIELD = 2000359
DUPLICATE_KEY = 2000637
SERVER_ERROR = 2000001

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
STOCK_POINT = "LAGER"
COUNTRIES = {"SE": "Sverige", "NO": "Norge", "DK": "Danmark", "FI": "Finland", "DE": "Tyskland"}


class ApiError(Exception):
    """An answer Fortnox gives instead of the object: the classic ErrorInformation shape, or the
    warehouse API's {"message": …}."""

    def __init__(self, status: int, message: str, *, code: int | None = None, classic=True):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.classic = classic

    def response(self) -> JsonResponse:
        if self.classic:
            body = {"ErrorInformation": {"error": 1, "message": self.message, "code": self.code}}
        else:
            body = {"message": self.message}
        return JsonResponse(body, status=self.status)


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "ja")
    return bool(value)


def _number(value, name: str, *, default=0):
    """A JSON number from a number or numeric string (Fortnox accepts both), else 400."""
    if value is None or value == "":
        return default
    try:
        number = Decimal(str(value).replace(",", "."))
    except InvalidOperation:
        raise ApiError(400, f"Ogiltigt värde för {name}: {value}", code=INVALID_PARAMETER) from None
    if not number.is_finite():
        raise ApiError(400, f"Ogiltigt värde för {name}: {value}", code=INVALID_PARAMETER)
    return int(number) if number == number.to_integral_value() else float(number)


def _today() -> str:
    return clock.now_datetime().astimezone(STOCKHOLM).date().isoformat()


def _parse_lastmodified(value: str) -> datetime:
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(value.strip(), pattern).replace(tzinfo=STOCKHOLM)
        except ValueError:
            continue
    raise ApiError(400, f"Ogiltigt datum i lastmodified: {value}", code=INVALID_PARAMETER)


# --- records ------------------------------------------------------------------------------


def _records(company: SandboxCompany, kind: str):
    return SandboxRecord.objects.filter(company=company, kind=kind)


def record_find(company: SandboxCompany, kind: str, key) -> SandboxRecord | None:
    return _records(company, kind).filter(key=str(key)).first()


# The event stream's topic and type prefix per kind of record; kinds Fortnox publishes no events
# for (customers, the warehouse module's documents and purchase orders) have none.
EVENT_TOPICS = {
    Kind.ARTICLE: ("articles", "article"),
    Kind.SUPPLIER: ("suppliers", "supplier"),
    Kind.ORDER: ("orders", "order"),
    Kind.INVOICE: ("invoices", "invoice"),
}


def _announce(record: SandboxRecord, change: str) -> None:
    """Write the event in the same transaction as the change, as a stream fed from the database's
    log would: a change that rolls back announces nothing."""
    if record.kind not in EVENT_TOPICS:
        return
    topic, name = EVENT_TOPICS[record.kind]
    if change == "updated" and record.kind == Kind.ORDER and record.data.get("Cancelled"):
        change = "cancelled"
    SandboxEvent.objects.create(
        company_id=record.company_id,
        topic=topic,
        type=f"{name}-{change}-v1",
        entity_id=record.key,
        created_at=record.modified_at,
    )


def _save(record: SandboxRecord) -> SandboxRecord:
    record.modified_at = clock.now_datetime()
    record.save()
    _announce(record, "updated")
    return record


def _create(company: SandboxCompany, kind: str, key, data: dict) -> SandboxRecord:
    now = clock.now_datetime()
    record = SandboxRecord.objects.create(
        company=company, kind=kind, key=str(key), data=data, created_at=now, modified_at=now
    )
    _announce(record, "created")
    return record


def _next_number(company: SandboxCompany, kind: str, *, start: int = 1) -> int:
    numeric = _records(company, kind).filter(key__regex=r"^[0-9]+$")
    highest = numeric.aggregate(top=Max(Cast("key", output_field=BigIntegerField())))["top"]
    return max(start, (highest or 0) + 1)


# --- resources of the classic API ---------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    kind: str
    path: str
    single: str
    plural: str
    key_field: str
    scope: str
    not_found: str
    list_fields: tuple[str, ...]
    # Numbers that list items give as strings, as Fortnox does.
    list_strings: tuple[str, ...] = ()
    filters: dict[str, Callable[[dict], bool]] = field(default_factory=dict)
    params: dict[str, Callable[[dict, str], bool]] = field(default_factory=dict)


def open_order(order: dict) -> bool:
    return not order.get("Cancelled") and not order.get("InvoiceReference")


ACTIVE_FILTERS = {
    "active": lambda item: bool(item.get("Active", True)),
    "inactive": lambda item: not item.get("Active", True),
}

ARTICLES = Resource(
    kind=Kind.ARTICLE,
    path="articles",
    single="Article",
    plural="Articles",
    key_field="ArticleNumber",
    scope="article",
    not_found="Kan inte hitta artikeln.",
    list_fields=(
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
    ),
    list_strings=(
        "DisposableQuantity",
        "PurchasePrice",
        "SalesPrice",
        "QuantityInStock",
        "ReservedQuantity",
    ),
    filters=ACTIVE_FILTERS,
    params={
        "suppliernumber": lambda item, value: str(item.get("SupplierNumber")) == value,
        "ean": lambda item, value: str(item.get("EAN")) == value,
    },
)
SUPPLIERS = Resource(
    kind=Kind.SUPPLIER,
    path="suppliers",
    single="Supplier",
    plural="Suppliers",
    key_field="SupplierNumber",
    scope="supplier",
    not_found="Kan inte hitta leverantören.",
    list_fields=(
        "Address1",
        "Address2",
        "City",
        "Email",
        "Name",
        "OrganisationNumber",
        "Phone1",
        "SupplierNumber",
        "ZipCode",
    ),
    filters=ACTIVE_FILTERS,
)
CUSTOMERS = Resource(
    kind=Kind.CUSTOMER,
    path="customers",
    single="Customer",
    plural="Customers",
    key_field="CustomerNumber",
    scope="customer",
    not_found="Kan inte hitta kunden.",
    list_fields=(
        "Address1",
        "Address2",
        "City",
        "CustomerNumber",
        "Email",
        "Name",
        "OrganisationNumber",
        "Phone1",
        "ZipCode",
    ),
    filters=ACTIVE_FILTERS,
)
ORDERS = Resource(
    kind=Kind.ORDER,
    path="orders",
    single="Order",
    plural="Orders",
    key_field="DocumentNumber",
    scope="order",
    not_found="Kan inte hitta ordern.",
    list_fields=(
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
    ),
    filters={
        "cancelled": lambda order: bool(order.get("Cancelled")),
        "expired": lambda order: (
            open_order(order)
            and bool(order.get("DeliveryDate"))
            and order["DeliveryDate"] < _today()
        ),
        "invoicecreated": lambda order: bool(order.get("InvoiceReference")),
        # UNVERIFIED whether Fortnox counts cancelled orders as "invoice not created": they are
        # left out, as nobody wants a cancelled order delivered.
        "invoicenotcreated": open_order,
    },
    params={
        "sent": lambda order, value: bool(order.get("Sent")) == _truthy(value),
        "notcompleted": lambda order, value: bool(order.get("NotCompleted")) == _truthy(value),
        "customernumber": lambda order, value: str(order.get("CustomerNumber")) == value,
    },
)
INVOICES = Resource(
    kind=Kind.INVOICE,
    path="invoices",
    single="Invoice",
    plural="Invoices",
    key_field="DocumentNumber",
    scope="invoice",
    not_found="Kan inte hitta fakturan.",
    list_fields=(
        "Booked",
        "Cancelled",
        "Currency",
        "CustomerName",
        "CustomerNumber",
        "DocumentNumber",
        "DueDate",
        "InvoiceDate",
        "Sent",
        "Total",
    ),
    filters={
        "cancelled": lambda invoice: bool(invoice.get("Cancelled")),
        "unbooked": lambda invoice: not invoice.get("Booked"),
    },
)
RESOURCES = {
    resource.path: resource for resource in (ARTICLES, SUPPLIERS, CUSTOMERS, ORDERS, INVOICES)
}


def _reserved_by_article(company: SandboxCompany) -> dict[str, float]:
    reserved: dict[str, float] = defaultdict(float)
    for order in _records(company, Kind.ORDER).values_list("data", flat=True):
        if open_order(order):
            for row in order.get("OrderRows") or []:
                if row.get("ArticleNumber"):
                    reserved[str(row["ArticleNumber"])] += float(row.get("OrderedQuantity") or 0)
    return reserved


def _present(resource: Resource, data: dict, *, reserved: dict | None) -> dict:
    """The object as Fortnox answers it: computed fields filled in, internal ones left out."""
    shown = _without_internal(data)
    if resource is ARTICLES and reserved is not None:
        booked = _number(reserved.get(str(data.get("ArticleNumber")), 0), "ReservedQuantity")
        shown["ReservedQuantity"] = booked
        shown["DisposableQuantity"] = _number(
            Decimal(str(data.get("QuantityInStock") or 0)) - Decimal(str(booked)),
            "DisposableQuantity",
        )
    return shown


def _sort_key(value):
    if isinstance(value, int | float):
        return (0, value, "")
    text = str(value or "")
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0, text.lower())


def _int_param(params, name: str, default: int, *, low: int, high: int | None = None) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Ogiltig parameter: {name}", code=INVALID_PARAMETER) from None
    if value < low or (high is not None and value > high):
        raise ApiError(400, f"Ogiltig parameter: {name}", code=INVALID_PARAMETER)
    return value


def resource_list(company: SandboxCompany, resource: Resource, params, *, url_base: str) -> dict:
    """A classic list: `limit` (≤ 500), `page`, `offset`, one `filter`, `lastmodified`, `sortby`,
    `sortorder`; items are a subset of the fields plus @url."""
    limit = _int_param(params, "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    page = _int_param(params, "page", 1, low=1)
    offset = _int_param(params, "offset", 0, low=0)
    records = _records(company, resource.kind)
    if params.get("lastmodified"):
        records = records.filter(modified_at__gte=_parse_lastmodified(params["lastmodified"]))
    items = [record.data for record in records]
    filters = params.getlist("filter") if hasattr(params, "getlist") else [params.get("filter")]
    filters = [value for value in filters if value]
    if len(filters) > 1:
        raise ApiError(400, "Endast ett filter kan anges.", code=INVALID_PARAMETER)
    if filters:
        test = resource.filters.get(filters[0].lower())
        if test is None:
            raise ApiError(400, f"Ogiltigt filter: {filters[0]}", code=INVALID_PARAMETER)
        items = [item for item in items if test(item)]
    for name, test in resource.params.items():
        if params.get(name) not in (None, ""):
            items = [item for item in items if test(item, params[name])]
    sort_field = resource.key_field
    if params.get("sortby"):
        wanted = params["sortby"].lower()
        sort_field = next(
            (name for name in resource.list_fields if name.lower() == wanted), sort_field
        )
    items.sort(
        key=lambda item: _sort_key(item.get(sort_field)),
        reverse=str(params.get("sortorder", "")).lower() == "descending",
    )
    total = len(items)
    pages = max(1, math.ceil(total / limit))
    start = (page - 1) * limit + offset
    reserved = _reserved_by_article(company) if resource is ARTICLES else None
    shown = []
    for item in items[start : start + limit]:
        full = _present(resource, item, reserved=reserved)
        subset = {"@url": f"{url_base}/3/{resource.path}/{item[resource.key_field]}"}
        for name in resource.list_fields:
            value = full.get(name)
            subset[name] = str(value) if name in resource.list_strings else value
        shown.append(subset)
    return {
        "MetaInformation": {
            "@TotalResources": total,
            "@TotalPages": pages,
            "@CurrentPage": page,
        },
        resource.plural: shown,
    }


def resource_get(company: SandboxCompany, resource: Resource, key, *, url_base: str) -> dict:
    record = record_find(company, resource.kind, key)
    if record is None:
        raise ApiError(404, resource.not_found, code=NOT_FOUND_CODE)
    reserved = _reserved_by_article(company) if resource is ARTICLES else None
    data = _present(resource, record.data, reserved=reserved)
    data["@url"] = f"{url_base}/3/{resource.path}/{record.key}"
    return {resource.single: data}


def payload(body, resource: Resource) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get(resource.single), dict):
        raise ApiError(400, f"Förväntade ett objekt {resource.single} i anropet.", code=JSON_SYNTAX)
    return body[resource.single]


def _required_text(fields: dict, name: str, current: dict) -> None:
    if not str(fields.get(name, current.get(name)) or "").strip():
        raise ApiError(400, f"{name} måste anges.", code=REQUIRED_FIELD)


# --- articles, suppliers, customers -------------------------------------------------------

ARTICLE_DEFAULTS = {
    "Active": True,
    "Description": "",
    "EAN": "",
    "StockGoods": False,
    "Type": "SERVICE",
    "QuantityInStock": 0,
    "PurchasePrice": 0,
    "SalesPrice": 0,
    "Unit": "st",
    "VAT": 25,
    "Width": 0,
    "Height": 0,
    "Depth": 0,
    "Weight": 0,
    "Note": "",
    "Manufacturer": "",
    "StockPlace": "",
    "SupplierNumber": "",
    "SupplierName": "",
    "Expired": False,
}
ARTICLE_READ_ONLY = ("SupplierName", "ReservedQuantity", "DisposableQuantity", "Type", "@url")
ARTICLE_INTEGERS = ("Width", "Height", "Depth", "Weight")
ARTICLE_NUMBERS = ("QuantityInStock", "PurchasePrice", "SalesPrice", "VAT")


def article_write(company: SandboxCompany, fields: dict, *, key=None, person: bool = False) -> dict:
    """Create (key None) or change an article. `person` is the Fortnox user in the UI, who may set
    what the API only reads (the sales price lives in Fortnox's price lists)."""
    record = record_find(company, Kind.ARTICLE, key) if key is not None else None
    if key is not None and record is None:
        raise ApiError(404, ARTICLES.not_found, code=NOT_FOUND_CODE)
    current = dict(record.data) if record else dict(ARTICLE_DEFAULTS)
    fields = {name: value for name, value in fields.items() if name not in ARTICLE_READ_ONLY}
    if not person:
        fields.pop("SalesPrice", None)
    if record and "ArticleNumber" in fields and str(fields["ArticleNumber"]) != record.key:
        raise ApiError(400, "Artikelnumret kan inte ändras.", code=CANNOT_CHANGE)
    if "QuantityInStock" in fields and company.warehouse_module and not person:
        raise ApiError(
            400,
            "Lagersaldot hanteras av Fortnox Lager och kan inte ändras på artikeln.",
            code=CANNOT_CHANGE,
        )
    _required_text(fields, "Description", current)
    for name in ARTICLE_INTEGERS:
        if name in fields:
            fields[name] = int(_number(fields[name], name))
    for name in ARTICLE_NUMBERS:
        if name in fields:
            fields[name] = _number(fields[name], name)
    for name in ("StockGoods", "Active", "Expired"):
        if name in fields:
            fields[name] = _truthy(fields[name])
    current.update(fields)
    current["Type"] = "STOCK" if current.get("StockGoods") else "SERVICE"
    supplier_number = str(current.get("SupplierNumber") or "")
    if supplier_number:
        supplier = record_find(company, Kind.SUPPLIER, supplier_number)
        if supplier is None:
            raise ApiError(400, f"Leverantör {supplier_number} finns inte.", code=INVALID_PARAMETER)
        current["SupplierName"] = supplier.data.get("Name", "")
    else:
        current["SupplierName"] = ""
    if record is None:
        number = str(
            current.get("ArticleNumber") or _next_number(company, Kind.ARTICLE, start=1000)
        )
        if record_find(company, Kind.ARTICLE, number):
            raise ApiError(400, f"Artikelnummer {number} används redan.", code=DUPLICATE_KEY)
        current["ArticleNumber"] = number
        record = _create(company, Kind.ARTICLE, number, current)
    else:
        record.data = current
        _save(record)
    return record.data


def _party_write(
    company: SandboxCompany,
    resource: Resource,
    fields: dict,
    *,
    key,
    defaults: dict,
    start: int,
) -> dict:
    record = record_find(company, resource.kind, key) if key is not None else None
    if key is not None and record is None:
        raise ApiError(404, resource.not_found, code=NOT_FOUND_CODE)
    current = dict(record.data) if record else dict(defaults)
    fields = {name: value for name, value in fields.items() if name not in ("@url", "Country")}
    if record and resource.key_field in fields and str(fields[resource.key_field]) != record.key:
        raise ApiError(400, f"{resource.key_field} kan inte ändras.", code=CANNOT_CHANGE)
    _required_text(fields, "Name", current)
    if "Active" in fields:
        fields["Active"] = _truthy(fields["Active"])
    current.update(fields)
    current["Country"] = COUNTRIES.get(str(current.get("CountryCode") or ""), "")
    if record is None:
        number = str(
            current.get(resource.key_field) or _next_number(company, resource.kind, start=start)
        )
        if record_find(company, resource.kind, number):
            raise ApiError(400, f"Nummer {number} används redan.", code=DUPLICATE_KEY)
        current[resource.key_field] = number
        record = _create(company, resource.kind, number, current)
    else:
        record.data = current
        _save(record)
    return record.data


PARTY_DEFAULTS = {
    "Active": True,
    "Name": "",
    "OrganisationNumber": "",
    "Address1": "",
    "Address2": "",
    "ZipCode": "",
    "City": "",
    "CountryCode": "SE",
    "Phone1": "",
    "Email": "",
}
SUPPLIER_DEFAULTS = {**PARTY_DEFAULTS, "Currency": "SEK", "TermsOfPayment": "30"}
CUSTOMER_DEFAULTS = {
    **PARTY_DEFAULTS,
    "Type": "COMPANY",
    "Phone2": "",
    "DeliveryName": "",
    "DeliveryAddress1": "",
    "DeliveryAddress2": "",
    "DeliveryZipCode": "",
    "DeliveryCity": "",
    "DeliveryCountryCode": "",
    "Currency": "SEK",
    "TermsOfPayment": "30",
    "TermsOfDelivery": "",
    "WayOfDelivery": "",
}


def supplier_write(company: SandboxCompany, fields: dict, *, key=None) -> dict:
    return _party_write(company, SUPPLIERS, fields, key=key, defaults=SUPPLIER_DEFAULTS, start=1)


def customer_write(company: SandboxCompany, fields: dict, *, key=None) -> dict:
    if "Type" in fields and fields["Type"] not in ("PRIVATE", "COMPANY"):
        raise ApiError(400, "Type måste vara PRIVATE eller COMPANY.", code=INVALID_PARAMETER)
    return _party_write(company, CUSTOMERS, fields, key=key, defaults=CUSTOMER_DEFAULTS, start=1)


# --- orders and invoices ------------------------------------------------------------------

ORDER_HEADER_FIELDS = (
    "CustomerNumber",
    "CustomerName",
    "Address1",
    "Address2",
    "ZipCode",
    "City",
    "Country",
    "OrderDate",
    "DeliveryDate",
    "Remarks",
    "TermsOfDelivery",
    "TermsOfPayment",
    "WayOfDelivery",
    "YourOrderNumber",
    "YourReference",
    "OurReference",
    "Language",
    "Currency",
    "DeliveryName",
    "DeliveryAddress1",
    "DeliveryAddress2",
    "DeliveryZipCode",
    "DeliveryCity",
    "DeliveryCountry",
    "Phone1",
    "Phone2",
    "NotCompleted",
)
ROW_FIELDS = (
    "ArticleNumber",
    "Description",
    "OrderedQuantity",
    "DeliveredQuantity",
    "Price",
    "Unit",
    "VAT",
    "Discount",
)


def _row_total(row: dict, quantity_field: str) -> Decimal:
    quantity = Decimal(str(row.get(quantity_field) or 0))
    price = Decimal(str(row.get("Price") or 0))
    discount = Decimal(str(row.get("Discount") or 0))
    return (quantity * price * (1 - discount / 100)).quantize(Decimal("0.01"))


def _totals(document: dict, rows_field: str, quantity_field: str) -> None:
    net = Decimal(0)
    vat = Decimal(0)
    for row in document.get(rows_field) or []:
        total = _row_total(row, quantity_field)
        row["Total"] = float(total)
        net += total
        vat += total * Decimal(str(row.get("VAT") or 0)) / 100
    document["Net"] = float(net)
    document["TotalVAT"] = float(vat.quantize(Decimal("0.01")))
    document["Total"] = float((net + vat).quantize(Decimal("1")))


def _order_rows(company: SandboxCompany, rows, existing: list[dict]) -> list[dict]:
    """Fortnox replaces the row list with the rows sent: a row with the RowId of an existing row
    changes that row (fields not sent are kept), a row without one is new, and rows not sent are
    removed (UNVERIFIED in detail; the client sends every row back)."""
    if not isinstance(rows, list):
        raise ApiError(400, "OrderRows måste vara en lista.", code=JSON_SYNTAX)
    by_id = {str(row.get("RowId")): row for row in existing}
    next_id = max((int(row_id) for row_id in by_id if str(row_id).isdigit()), default=0) + 1
    result = []
    for sent in rows:
        if not isinstance(sent, dict):
            raise ApiError(400, "En orderrad måste vara ett objekt.", code=JSON_SYNTAX)
        sent = {name: value for name, value in sent.items() if name in (*ROW_FIELDS, "RowId")}
        row_id = str(sent.get("RowId") or "")
        if row_id and row_id in by_id:
            row = dict(by_id[row_id])
        elif row_id:
            raise ApiError(400, f"Orderraden {row_id} finns inte.", code=INVALID_PARAMETER)
        else:
            row = {"RowId": next_id, "Discount": 0, "VAT": 25, "Unit": "st"}
            next_id += 1
        delivered_given = "DeliveredQuantity" in sent
        row.update({name: value for name, value in sent.items() if name != "RowId"})
        article_number = str(row.get("ArticleNumber") or "")
        if article_number:
            article = record_find(company, Kind.ARTICLE, article_number)
            if article is None:
                raise ApiError(400, f"Artikel {article_number} finns inte.", code=INVALID_PARAMETER)
            row.setdefault("Description", article.data.get("Description", ""))
            row.setdefault("Price", article.data.get("SalesPrice", 0))
            row.setdefault("Unit", article.data.get("Unit", "st"))
            row["ArticleNumber"] = article_number
        row["OrderedQuantity"] = _number(row.get("OrderedQuantity"), "OrderedQuantity")
        # Fortnox fills "levererat" with the ordered quantity unless told otherwise.
        if not delivered_given and row_id not in by_id:
            row["DeliveredQuantity"] = row["OrderedQuantity"]
        row["DeliveredQuantity"] = _number(row.get("DeliveredQuantity"), "DeliveredQuantity")
        for name in ("Price", "VAT", "Discount"):
            row[name] = _number(row.get(name), name)
        row.setdefault("Description", "")
        result.append(row)
    return result


def _customer_fields(customer: dict) -> dict:
    delivery = bool(customer.get("DeliveryAddress1"))
    country = COUNTRIES.get(str(customer.get("CountryCode") or ""), "")
    delivery_country = COUNTRIES.get(
        str(customer.get("DeliveryCountryCode") or customer.get("CountryCode") or ""), ""
    )
    return {
        "CustomerName": customer.get("Name", ""),
        "Address1": customer.get("Address1", ""),
        "Address2": customer.get("Address2", ""),
        "ZipCode": customer.get("ZipCode", ""),
        "City": customer.get("City", ""),
        "Country": country,
        "OrganisationNumber": customer.get("OrganisationNumber", ""),
        "Phone1": customer.get("Phone1", ""),
        "Phone2": customer.get("Phone2", ""),
        "DeliveryName": customer.get("DeliveryName") if delivery else customer.get("Name", ""),
        "DeliveryAddress1": customer.get("DeliveryAddress1")
        if delivery
        else customer.get("Address1", ""),
        "DeliveryAddress2": customer.get("DeliveryAddress2", "") if delivery else "",
        "DeliveryZipCode": customer.get("DeliveryZipCode")
        if delivery
        else customer.get("ZipCode", ""),
        "DeliveryCity": customer.get("DeliveryCity") if delivery else customer.get("City", ""),
        "DeliveryCountry": delivery_country,
        "TermsOfPayment": customer.get("TermsOfPayment", ""),
        "TermsOfDelivery": customer.get("TermsOfDelivery", ""),
        "WayOfDelivery": customer.get("WayOfDelivery", ""),
    }


def _locked_order(order: dict) -> None:
    if order.get("Cancelled"):
        raise ApiError(400, "Ordern är makulerad och kan inte ändras.", code=CANNOT_CHANGE)
    if order.get("InvoiceReference"):
        raise ApiError(400, "Ordern är fakturerad och kan inte ändras.", code=CANNOT_CHANGE)


def order_write(company: SandboxCompany, fields: dict, *, key=None) -> dict:
    record = record_find(company, Kind.ORDER, key) if key is not None else None
    if key is not None and record is None:
        raise ApiError(404, ORDERS.not_found, code=NOT_FOUND_CODE)
    if record is not None:
        _locked_order(record.data)
    current = dict(record.data) if record else {}
    header = {name: fields[name] for name in ORDER_HEADER_FIELDS if name in fields}
    customer_number = str(header.get("CustomerNumber", current.get("CustomerNumber")) or "")
    if not customer_number:
        raise ApiError(400, "CustomerNumber måste anges.", code=REQUIRED_FIELD)
    if record is None or customer_number != str(current.get("CustomerNumber")):
        customer = record_find(company, Kind.CUSTOMER, customer_number)
        if customer is None:
            raise ApiError(400, f"Kund {customer_number} finns inte.", code=INVALID_PARAMETER)
        current.update(_customer_fields(customer.data))
    current.update(header)
    current["CustomerNumber"] = customer_number
    if "NotCompleted" in current:
        current["NotCompleted"] = _truthy(current["NotCompleted"])
    if "OrderRows" in fields:
        current["OrderRows"] = _order_rows(
            company, fields["OrderRows"], current.get("OrderRows") or []
        )
    if record is None:
        number = _next_number(company, Kind.ORDER)
        current = {
            "DocumentNumber": str(number),
            "OrderDate": _today(),
            "DeliveryDate": "",
            "Remarks": "",
            "YourOrderNumber": "",
            "YourReference": "",
            "OurReference": "",
            "Language": "SV",
            "Currency": "SEK",
            "Cancelled": False,
            "Sent": False,
            "InvoiceReference": "",
            "OrderType": "Order",
            "NotCompleted": False,
            "WarehouseReady": False,
            "DeliveryState": "registration",
            "OrderRows": [],
            **current,
        }
        _totals(current, "OrderRows", "OrderedQuantity")
        return _create(company, Kind.ORDER, number, current).data
    _totals(current, "OrderRows", "OrderedQuantity")
    record.data = current
    return _save(record).data


def _order_record(company: SandboxCompany, document_number) -> SandboxRecord:
    record = record_find(company, Kind.ORDER, document_number)
    if record is None:
        raise ApiError(404, ORDERS.not_found, code=NOT_FOUND_CODE)
    return record


def _stock_add(company: SandboxCompany, article_number: str, quantity, *, classic: bool = True):
    article = record_find(company, Kind.ARTICLE, article_number)
    if article is None:
        raise ApiError(
            400, f"Artikel {article_number} finns inte.", code=INVALID_PARAMETER, classic=classic
        )
    if not article.data.get("StockGoods"):
        return
    stock = Decimal(str(article.data.get("QuantityInStock") or 0)) + Decimal(str(quantity))
    article.data["QuantityInStock"] = _number(stock, "QuantityInStock")
    _save(article)


def order_invoice_create(company: SandboxCompany, document_number) -> dict:
    """Invoice the delivered quantities; the rest becomes a back order. Stock articles leave the
    stock by what was delivered."""
    record = _order_record(company, document_number)
    order = record.data
    _locked_order(order)
    rows = order.get("OrderRows") or []
    if not any(float(row.get("DeliveredQuantity") or 0) > 0 for row in rows):
        raise ApiError(400, "Ordern har inga levererade rader att fakturera.", code=CANNOT_CHANGE)
    number = _next_number(company, Kind.INVOICE, start=1001)
    invoice_rows = [
        {
            "RowId": index,
            "ArticleNumber": row.get("ArticleNumber", ""),
            "Description": row.get("Description", ""),
            "DeliveredQuantity": row.get("DeliveredQuantity", 0),
            "Price": row.get("Price", 0),
            "Unit": row.get("Unit", "st"),
            "VAT": row.get("VAT", 25),
            "Discount": row.get("Discount", 0),
        }
        for index, row in enumerate(rows, start=1)
        if float(row.get("DeliveredQuantity") or 0) > 0
    ]
    today = clock.now_datetime().astimezone(STOCKHOLM).date()
    invoice = {
        "DocumentNumber": str(number),
        "InvoiceDate": today.isoformat(),
        "DueDate": (today + timedelta(days=30)).isoformat(),
        "Booked": False,
        "Cancelled": False,
        "Sent": False,
        "WarehouseReady": False,
        "OrderReference": order["DocumentNumber"],
        **{name: order.get(name, "") for name in ORDER_HEADER_FIELDS if name != "NotCompleted"},
        "OrganisationNumber": order.get("OrganisationNumber", ""),
        "InvoiceRows": invoice_rows,
    }
    _totals(invoice, "InvoiceRows", "DeliveredQuantity")
    _create(company, Kind.INVOICE, number, invoice)
    for row in invoice_rows:
        if row["ArticleNumber"]:
            _stock_add(company, row["ArticleNumber"], -Decimal(str(row["DeliveredQuantity"])))
    rest = [
        row
        for row in rows
        if Decimal(str(row.get("DeliveredQuantity") or 0))
        < Decimal(str(row.get("OrderedQuantity") or 0))
    ]
    if rest:
        back_order_number = _next_number(company, Kind.ORDER)
        back_rows = []
        for index, row in enumerate(rest, start=1):
            remaining = Decimal(str(row["OrderedQuantity"])) - Decimal(
                str(row.get("DeliveredQuantity") or 0)
            )
            back_rows.append(
                {
                    **row,
                    "RowId": index,
                    "OrderedQuantity": _number(remaining, "OrderedQuantity"),
                    "DeliveredQuantity": _number(remaining, "DeliveredQuantity"),
                }
            )
        back_order = {
            **order,
            "DocumentNumber": str(back_order_number),
            "OrderType": "Backorder",
            "InvoiceReference": "",
            "Sent": False,
            "WarehouseReady": False,
            "DeliveryState": "registration",
            "Remarks": " ".join(
                filter(
                    None, [f"Restorder från order {order['DocumentNumber']}.", order.get("Remarks")]
                )
            ),
            "OrderRows": back_rows,
        }
        _totals(back_order, "OrderRows", "OrderedQuantity")
        _create(company, Kind.ORDER, back_order_number, back_order)
    order["InvoiceReference"] = str(number)
    record.data = order
    _save(record)
    return invoice


def order_cancel(company: SandboxCompany, document_number) -> dict:
    record = _order_record(company, document_number)
    _locked_order(record.data)
    record.data["Cancelled"] = True
    return _save(record).data


def order_mark_sent(company: SandboxCompany, document_number) -> dict:
    """What Fortnox does when the order confirmation is sent to the customer (UI only)."""
    record = _order_record(company, document_number)
    record.data["Sent"] = True
    return _save(record).data


def warehouse_ready(company: SandboxCompany, kind: str, document_number) -> dict:
    resource = ORDERS if kind == Kind.ORDER else INVOICES
    record = record_find(company, kind, document_number)
    if record is None:
        raise ApiError(404, resource.not_found, code=NOT_FOUND_CODE)
    if not company.warehouse_module:
        raise ApiError(
            400, "Fortnox Lager är inte aktiverat för företaget.", code=NO_LICENCE_FOR_SCOPE
        )
    record.data["WarehouseReady"] = True
    if kind == Kind.ORDER:
        record.data["DeliveryState"] = "delivery"
    return _save(record).data


# --- warehouse module (camelCase, {"message": …} errors) ----------------------------------


def _warehouse_error(status: int, message: str) -> ApiError:
    return ApiError(status, message, classic=False)


def stock_balance(company: SandboxCompany, *, item_ids: Iterable[str], stock_points) -> list:
    reserved = _reserved_by_article(company)
    points = [code for code in stock_points if code]
    if points and STOCK_POINT not in points:
        return []
    balances = []
    for item_id in item_ids:
        article = record_find(company, Kind.ARTICLE, item_id)
        if article is None or not article.data.get("StockGoods"):
            continue
        in_stock = _number(article.data.get("QuantityInStock"), "inStock")
        balances.append(
            {
                "itemId": article.key,
                "stockPointCode": STOCK_POINT,
                "inStock": in_stock,
                "availableStock": _number(
                    Decimal(str(in_stock)) - Decimal(str(reserved.get(article.key, 0))),
                    "availableStock",
                ),
            }
        )
    return balances


def custom_document_save(
    company: SandboxCompany, *, category: str, document_type: str, document_id: str, body
) -> dict:
    """PUT creates or saves under the caller's id; the type is registered with its category on
    first use and may not be used for the other category afterwards."""
    if not document_id.isdigit() or len(document_id) > 25:
        raise _warehouse_error(400, "id must be digits only, at most 25 characters.")
    if not isinstance(body, dict):
        raise _warehouse_error(400, "The document must be a JSON object.")
    registered = record_find(company, Kind.DOCUMENT_TYPE, document_type)
    if registered is None:
        _create(
            company,
            Kind.DOCUMENT_TYPE,
            document_type,
            {"type": document_type, "category": category.upper()},
        )
    elif registered.data["category"] != category.upper():
        raise _warehouse_error(
            400,
            f"Document type {document_type} is registered as {registered.data['category']}.",
        )
    rows = body.get("rows") or []
    if not isinstance(rows, list):
        raise _warehouse_error(400, "rows must be a list.")
    if category == "outbound" and not body.get("deliveryState"):
        raise _warehouse_error(400, "deliveryState is required for outbound documents.")
    for row in rows:
        if not isinstance(row, dict) or not row.get("itemId"):
            raise _warehouse_error(400, "Every row needs an itemId.")
        if record_find(company, Kind.ARTICLE, row["itemId"]) is None:
            raise _warehouse_error(400, f"Item {row['itemId']} does not exist.")
    key = f"{category}:{document_type}:{document_id}"
    record = record_find(company, Kind.CUSTOM_DOCUMENT, key)
    if record is not None and record.data.get("released"):
        raise _warehouse_error(400, "The document is released and cannot be changed.")
    document = {
        **body,
        "id": document_id,
        "type": document_type,
        "released": False,
        "voided": False,
    }
    document.setdefault("date", _today())
    if record is None:
        record = _create(company, Kind.CUSTOM_DOCUMENT, key, document)
    else:
        record.data = document
        _save(record)
    return record.data


def custom_document_release(
    company: SandboxCompany, *, category: str, document_type: str, document_id: str
) -> dict:
    record = record_find(company, Kind.CUSTOM_DOCUMENT, f"{category}:{document_type}:{document_id}")
    if record is None:
        raise _warehouse_error(404, "The document does not exist.")
    if record.data.get("released"):
        # UNVERIFIED: releasing twice is refused rather than ignored.
        raise _warehouse_error(400, "The document is already released.")
    sign = 1 if category == "inbound" else -1
    for row in record.data.get("rows") or []:
        quantity = (
            row.get("deliveredQuantity", row.get("quantity")) if sign < 0 else row.get("quantity")
        )
        _stock_add(company, row["itemId"], sign * Decimal(str(quantity or 0)), classic=False)
    record.data["released"] = True
    return _save(record).data


def incoming_goods_create(company: SandboxCompany, body) -> dict:
    if not isinstance(body, dict):
        raise _warehouse_error(400, "The incoming goods must be a JSON object.")
    if not body.get("deliveryNoteId"):
        raise _warehouse_error(400, "deliveryNoteId is required.")
    rows = body.get("rows") or []
    if not isinstance(rows, list) or not rows:
        raise _warehouse_error(400, "rows are required.")
    for row in rows:
        if (
            not isinstance(row, dict)
            or record_find(company, Kind.ARTICLE, row.get("itemId")) is None
        ):
            raise _warehouse_error(
                400, f"Item {row.get('itemId') if isinstance(row, dict) else row} does not exist."
            )
    number = _next_number(company, Kind.INCOMING_GOODS)
    document = {
        **body,
        "id": number,
        "date": body.get("date") or _today(),
        "stockPointCode": body.get("stockPointCode") or STOCK_POINT,
        "released": False,
        "completed": False,
    }
    return _create(company, Kind.INCOMING_GOODS, number, document).data


INCOMING_GOODS_FLAGS = ("released", "completed", "voided")
INCOMING_GOODS_SUMMARY = (
    "completed",
    "date",
    "deliveryNoteId",
    "hasDeliveryNote",
    "id",
    "note",
    "released",
    "supplierName",
    "supplierNumber",
    "voided",
)


def incoming_goods_list(company: SandboxCompany, params) -> list:
    """GET incominggoods-v1, as Fortnox documents it: released/completed/voided (true or false),
    supplierNumber and itemId (equal), note and deliveryNote (contain the text, any case), q (the
    id or deliveryNote contains it). Items are summaries without rows."""
    found = []
    for record in _records(company, Kind.INCOMING_GOODS).order_by("created_at", "key"):
        data = {"voided": False, "hasDeliveryNote": True, "note": "", **record.data}
        if any(
            params.get(flag) not in (None, "") and bool(data.get(flag)) != _truthy(params[flag])
            for flag in INCOMING_GOODS_FLAGS
        ):
            continue
        if (
            params.get("supplierNumber")
            and str(data.get("supplierNumber")) != params["supplierNumber"]
        ):
            continue
        if params.get("itemId") and params["itemId"] not in {
            str(row.get("itemId")) for row in data.get("rows") or []
        }:
            continue
        contains = {
            "note": [data.get("note")],
            "deliveryNote": [data.get("deliveryNoteId")],
            "q": [data.get("id"), data.get("deliveryNoteId")],
        }
        if any(
            params.get(name)
            and not any(params[name].lower() in str(value or "").lower() for value in values)
            for name, values in contains.items()
        ):
            continue
        found.append({name: data.get(name) for name in INCOMING_GOODS_SUMMARY})
    return found


def _incoming_goods_record(company: SandboxCompany, incoming_goods_id) -> SandboxRecord:
    record = record_find(company, Kind.INCOMING_GOODS, incoming_goods_id)
    if record is None:
        raise _warehouse_error(404, "The incoming goods do not exist.")
    return record


def incoming_goods_release(company: SandboxCompany, incoming_goods_id) -> dict:
    """Books the receipt: stock goes up and the purchase order rows count it as received."""
    record = _incoming_goods_record(company, incoming_goods_id)
    if record.data.get("released"):
        raise _warehouse_error(400, "The incoming goods are already released.")
    for row in record.data.get("rows") or []:
        received = Decimal(str(row.get("receivedQuantity") or 0))
        _stock_add(company, row["itemId"], received, classic=False)
        purchase_order = record_find(company, Kind.PURCHASE_ORDER, row.get("purchaseOrderId"))
        if purchase_order is None:
            continue
        for po_row in purchase_order.data.get("rows") or []:
            if str(po_row.get("id")) == str(row.get("purchaseOrderRowId")):
                total = Decimal(str(po_row.get("receivedQuantity") or 0)) + received
                po_row["receivedQuantity"] = _number(total, "receivedQuantity")
                remaining = max(Decimal(str(po_row.get("orderedQuantity") or 0)) - total, 0)
                po_row["remainingOrderedQuantity"] = _number(remaining, "remaining")
        if all(
            Decimal(str(po_row.get("remainingOrderedQuantity") or 0)) <= 0
            for po_row in purchase_order.data.get("rows") or []
        ):
            purchase_order.data["_state"] = "RECEIVED"
        _save(purchase_order)
    record.data["released"] = True
    return _save(record).data


def incoming_goods_complete(company: SandboxCompany, incoming_goods_id, booking_date) -> dict:
    record = _incoming_goods_record(company, incoming_goods_id)
    if not isinstance(booking_date, str) or not booking_date:
        raise _warehouse_error(400, "The body must be the booking date as a JSON string.")
    if not record.data.get("released"):
        raise _warehouse_error(400, "Release the incoming goods before completing them.")
    record.data["completed"] = True
    record.data["bookingDate"] = booking_date
    return _save(record).data


PURCHASE_ORDER_STATES = {
    "NOT_SENT": lambda state, po: state == "NOT_SENT",
    "SENT": lambda state, po: state == "SENT",
    "SENT_NOT_REJECTED": lambda state, po: state == "SENT",
    "DELAYED": lambda state, po: state == "SENT" and (po.get("deliveryDate") or "9") < _today(),
    "RECEIVED": lambda state, po: state == "RECEIVED",
    "VOIDED": lambda state, po: state == "VOIDED",
    "CURRENT": lambda state, po: state in ("NOT_SENT", "SENT"),
    "ALL": lambda state, po: True,
}


def purchase_orders_list(company: SandboxCompany, *, state: str, purchase_type: str) -> list:
    test = PURCHASE_ORDER_STATES.get((state or "ALL").upper())
    if test is None:
        raise _warehouse_error(400, f"Unknown state {state}.")
    return [
        _without_internal(record.data)
        for record in _records(company, Kind.PURCHASE_ORDER).order_by("created_at")
        if test(record.data.get("_state"), record.data)
        and (not purchase_type or record.data.get("purchaseType") == purchase_type.upper())
    ]


def _without_internal(data: dict) -> dict:
    return {key: value for key, value in data.items() if not key.startswith("_")}


def purchase_order_get(company: SandboxCompany, purchase_order_id) -> dict:
    record = record_find(company, Kind.PURCHASE_ORDER, purchase_order_id)
    if record is None:
        raise _warehouse_error(404, "The purchase order does not exist.")
    return _without_internal(record.data)


def purchase_order_complete(company: SandboxCompany, purchase_order_id) -> dict:
    record = record_find(company, Kind.PURCHASE_ORDER, purchase_order_id)
    if record is None:
        raise _warehouse_error(404, "The purchase order does not exist.")
    record.data["_state"] = "RECEIVED"
    _save(record)
    return purchase_order_get(company, purchase_order_id)
