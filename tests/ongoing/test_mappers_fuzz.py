"""Every mapper fed whatever an API might answer (wrong types, nulls, huge or odd numbers, Swedish
and control characters, nested junk), in both directions: each either maps to a JSON-serialisable
result or refuses with ObjectValidationError naming the object. Nothing else may escape, since
anything else would crash a process instead of recording one failure.

The mappers are enumerated from ongoing.mappers by introspection: a public function added there
without a fuzz test here fails test_every_mapper_is_fuzzed."""

import inspect
import json
import os
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fortnox.errors import parse_error_body
from fortnox.oauth import TokenSet, _token_set
from integrations.errors import ObjectValidationError
from integrations.fingerprints import fingerprint
from integrations.http import masked
from ongoing import mappers
from ongoing.mappers import (
    adjustment_document,
    article_to_ongoing,
    country_code,
    decimal_or_none,
    fulfilment_quantities,
    incoming_goods_document,
    order_to_ongoing,
    purchase_order_receipt_document,
    purchase_order_receipt_quantities,
    purchase_order_to_ongoing,
    receival_quantities,
    return_document,
    stock_balance_changes,
    supplier_info,
    whole_number,
)
from ongoing.processes.sales_orders import order_wanted

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        ["", " ", "12,50", "1 234", "NaN", "1e400", "åäö", "\x00", "-0", "0x10", "1e-400", "٣"]
    ),
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
# Values a field plausibly holds, so that the fuzz also reaches past the first refusal.
ids = st.one_of(st.integers(min_value=-2, max_value=4), st.sampled_from(["1", "2", "01", " 3 "]))
quantities = st.one_of(
    st.integers(min_value=-3, max_value=5), st.sampled_from(["2", "1,5", "0", "3.0", 2.5, -1.0])
)
plausible = st.one_of(
    ids, quantities, st.sampled_from(["Åsa", "SE", "Sverige", "A1", "2026-11-23"])
)
anything = st.one_of(junk, plausible)


def records(fields: list[str], values=anything):
    """Dicts with any of the mapper's fields, each holding anything."""
    return st.fixed_dictionaries({}, optional={field: values for field in fields})


def rows_of(fields: list[str]):
    """A row list, or junk where the rows belong."""
    return st.one_of(junk, st.lists(records(fields), max_size=4))


ARTICLE_FIELDS = [
    "ArticleNumber", "Description", "Note", "EAN", "Width", "Height", "Depth", "Weight",
    "StockGoods", "PurchasePrice", "Unit", "SupplierNumber", "Active", "Expired", "Type",
]  # fmt: skip
ORDER_FIELDS = [
    "DocumentNumber", "CustomerNumber", "CustomerName", "Remarks", "TermsOfDelivery",
    "TermsOfPayment", "YourOrderNumber", "Total", "Currency", "Language", "OurReference",
    "YourReference", "DeliveryDate", "OrderDate", "WayOfDelivery", "DeliveryName",
    "DeliveryAddress1", "DeliveryAddress2", "DeliveryZipCode", "DeliveryCity", "DeliveryCountry",
    "Address1", "ZipCode", "City", "Country", "Phone1", "Phone2", "OrganisationNumber",
    "EmailInformation", "Cancelled", "InvoiceReference", "NotCompleted", "Sent",
]  # fmt: skip
ROW_FIELDS = [
    "RowId",
    "ArticleNumber",
    "Description",
    "OrderedQuantity",
    "DeliveredQuantity",
    "Total",
]
PURCHASE_ORDER_FIELDS = [
    "id", "deliveryDate", "note", "supplierNumber", "supplierName", "supplierAddress",
    "supplierAddress2", "supplierPostCode", "supplierCity", "supplierCountryCode", "currencyCode",
]  # fmt: skip
PURCHASE_ROW_FIELDS = ["id", "itemId", "itemDescription", "rowNum", "orderedQuantity", "price"]
WMS_LINE_FIELDS = ["rowNumber", "shouldBePicked", "pickedNumberOfItems"]
WMS_PO_LINE_FIELDS = ["id", "externalOrderLineId", "receivedNumberOfItems", "article"]
WMS_PO_INFO_FIELDS = ["purchaseOrderId", "purchaseOrderNumber", "lastReceiveTime"]
ADJUSTMENT_FIELDS = ["inventoryId", "numberOfItems", "inventoryItemComment", "inventoryTime"]
WMS_ARTICLE_FIELDS = ["articleNumber", "articleSystemId", "isStockArticle", "inventoryInfo"]
RETURN_INFO_FIELDS = ["returnOrderId", "returnOrderNumber", "inDate"]
RETURN_LINE_FIELDS = ["returnedNumberOfItems", "article"]

# CI runs a fixed, derandomized set; FUZZ_EXAMPLES=5000 explores further (new examples each run).
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 300)),
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def maps_or_refuses(mapper, *args, **kwargs):
    try:
        result = mapper(*args, **kwargs)
    except ObjectValidationError as refusal:
        assert str(refusal)
        return None
    json.dumps(result, allow_nan=False, default=str)  # what a client sends must be valid JSON
    return result


FUZZED = {
    "decimal_or_none", "supplier_info", "article_to_ongoing", "country_code", "order_to_ongoing",
    "fulfilment_quantities", "adjustment_document", "return_document", "stock_balance_changes",
    "purchase_order_to_ongoing", "receival_quantities", "incoming_goods_document",
    "purchase_order_receipt_quantities", "purchase_order_receipt_document", "whole_number",
}  # fmt: skip


def test_every_mapper_is_fuzzed():
    public = {
        name
        for name, function in inspect.getmembers(mappers, inspect.isfunction)
        if not name.startswith("_") and function.__module__ == mappers.__name__
    }
    assert public == FUZZED


# --- Fortnox → warehouse -------------------------------------------------------------------------


@FUZZ
@given(value=anything)
def test_numbers(value):
    number = maps_or_refuses(decimal_or_none, value, what="Article A1, Weight")
    assert number is None or (isinstance(number, Decimal) and number.is_finite())


@FUZZ
@given(value=anything)
def test_ids(value):
    number = maps_or_refuses(whole_number, value, what="Return 7, returnOrderId")
    assert number is None or (isinstance(number, int) and number >= 0)


@FUZZ
@given(number=anything, supplier=st.none() | records(["Name", "SupplierNumber"]))
def test_supplier_info(number, supplier):
    maps_or_refuses(supplier_info, number, supplier)


@FUZZ
@given(article=records(ARTICLE_FIELDS), supplier=st.none() | records(["Name", "SupplierNumber"]))
def test_articles(article, supplier):
    maps_or_refuses(article_to_ongoing, article, goods_owner_id=1, supplier=supplier)


@FUZZ
@given(candidates=st.lists(anything, max_size=3))
def test_country_codes(candidates):
    code = maps_or_refuses(country_code, *candidates, what="Order 1")
    assert code is None or (len(code) == 2 and code.isascii() and code.isupper())


@FUZZ
@given(
    order=records(ORDER_FIELDS),
    rows=rows_of(ROW_FIELDS),
    customer=st.one_of(junk, records(["CountryCode", "DeliveryCountryCode", "Type", "Email"])),
    order_type=st.none() | st.just({"code": "B2B", "name": "Business"}),
    notify=st.booleans(),
)
def test_orders(order, rows, customer, order_type, notify):
    maps_or_refuses(
        order_to_ongoing,
        {**order, "OrderRows": rows},
        goods_owner_id=1,
        customer=customer,
        order_type=order_type,
        sms_notification=notify,
        email_notification=notify,
    )


@FUZZ
@given(
    purchase_order=records(PURCHASE_ORDER_FIELDS),
    rows=rows_of(PURCHASE_ROW_FIELDS),
)
def test_purchase_orders(purchase_order, rows):
    maps_or_refuses(purchase_order_to_ongoing, {**purchase_order, "rows": rows}, goods_owner_id=1)


# --- Warehouse → Fortnox -------------------------------------------------------------------------


@FUZZ
@given(
    wms_lines=rows_of(WMS_LINE_FIELDS),
    fortnox_order=records(["DocumentNumber"]),
    fortnox_rows=rows_of(ROW_FIELDS),
    lower_ordered=st.booleans(),
)
def test_fulfilment_quantities(wms_lines, fortnox_order, fortnox_rows, lower_ordered):
    result = maps_or_refuses(
        fulfilment_quantities,
        {"orderLines": wms_lines},
        {**fortnox_order, "OrderRows": fortnox_rows},
        lower_ordered=lower_ordered,
    )
    if result is not None:
        for quantities in result:
            assert all(isinstance(key, str) for key in quantities)


@FUZZ
@given(article=st.one_of(junk, records(WMS_ARTICLE_FIELDS)), adjustment=records(ADJUSTMENT_FIELDS))
def test_adjustment_documents(article, adjustment):
    result = maps_or_refuses(adjustment_document, article, adjustment)
    if result is not None:
        direction, _type, document_id, _body = result
        assert direction in ("inbound", "outbound")
        assert document_id.isdigit() and len(document_id) <= 25


@FUZZ
@given(
    info=st.one_of(junk, records(RETURN_INFO_FIELDS)),
    lines=rows_of(RETURN_LINE_FIELDS),
    customer_order=st.one_of(junk, records(["orderNumber", "orderId"])),
)
def test_return_documents(info, lines, customer_order):
    result = maps_or_refuses(
        return_document,
        {"returnOrderInfo": info, "returnOrderLines": lines, "customerOrderInfo": customer_order},
    )
    if result is not None:
        document_id, _body = result
        assert document_id.isdigit() and len(document_id) <= 25


@FUZZ
@given(
    wms_articles=st.lists(st.one_of(junk, records(WMS_ARTICLE_FIELDS)), max_size=3),
    fortnox_articles=st.lists(
        st.one_of(junk, records(["ArticleNumber", "QuantityInStock"])), max_size=3
    ),
)
def test_stock_balance_changes(wms_articles, fortnox_articles):
    maps_or_refuses(stock_balance_changes, wms_articles, fortnox_articles)


booked = st.dictionaries(
    st.sampled_from(["1", "2", "3"]),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    max_size=3,
)


@FUZZ
@given(
    info=st.one_of(junk, records(WMS_PO_INFO_FIELDS)),
    lines=rows_of(WMS_PO_LINE_FIELDS),
    booked=booked,
)
def test_receival_quantities(info, lines, booked):
    wms_purchase_order = {"purchaseOrderInfo": info, "purchaseOrderLines": lines}
    maps_or_refuses(receival_quantities, wms_purchase_order, booked)
    maps_or_refuses(purchase_order_receipt_quantities, wms_purchase_order, booked)


@FUZZ
@given(
    purchase_order=records(["id", "supplierNumber"]),
    rows=rows_of(PURCHASE_ROW_FIELDS),
    quantities=st.dictionaries(st.sampled_from(["1", "2", "x"]), quantities, max_size=3),
)
def test_incoming_goods_documents(purchase_order, rows, quantities):
    maps_or_refuses(
        incoming_goods_document,
        {**purchase_order, "rows": rows},
        quantities,
        delivery_note_id="Ongoing 7-1",
        date="2026-11-23",
    )


@FUZZ
@given(
    info=st.one_of(junk, records(WMS_PO_INFO_FIELDS)),
    lines=rows_of(WMS_PO_LINE_FIELDS),
    quantities=st.dictionaries(st.sampled_from(["1", "2", "None"]), quantities, max_size=3),
    sequence=st.integers(min_value=1, max_value=20_000),
)
def test_receipt_documents(info, lines, quantities, sequence):
    result = maps_or_refuses(
        purchase_order_receipt_document,
        {"purchaseOrderInfo": info, "purchaseOrderLines": lines},
        quantities,
        sequence=sequence,
    )
    if result is not None:
        document_id, _body = result
        assert document_id.isdigit() and len(document_id) <= 25


# --- Mappers elsewhere ---------------------------------------------------------------------------


@FUZZ
@given(
    order=records(ORDER_FIELDS),
    options=records(
        ["pull_filter", "required_state"],
        st.sampled_from(["notcompleted", "invoicenotcreated", "confirmed", "any"]),
    ),
)
def test_which_orders_are_wanted(order, options):
    options = {"pull_filter": "invoicenotcreated", "required_state": "confirmed", **options}
    assert order_wanted(order, options=options) in (True, False)


@FUZZ
@given(body=junk)
def test_fortnox_error_bodies(body):
    message, code = parse_error_body(body)
    assert isinstance(message, str)
    assert code is None or isinstance(code, int)


@FUZZ
@given(body=records(["access_token", "refresh_token", "expires_in", "scope"]))
def test_token_answers(body):
    body = {"access_token": "a.b.c", **body}
    if not isinstance(body["access_token"], str) or not isinstance(
        body.get("refresh_token") or "", str
    ):
        return  # refused before this point by _token_request
    tokens = _token_set(body)
    assert isinstance(tokens, TokenSet)
    assert tokens.fortnox_tenant_id is None or isinstance(tokens.fortnox_tenant_id, int)


@FUZZ
@given(body=junk)
def test_masking_and_fingerprints_take_any_json(body):
    json.dumps(masked(body), default=str)
    try:
        json.dumps(body, allow_nan=False)
    except ValueError:
        return  # only what a mapper made (finite numbers) is fingerprinted
    assert len(fingerprint(body)) == 64
