"""The mappers fed whatever an API might answer (wrong types, nulls, huge or odd numbers, Swedish
and control characters, nested junk): each either maps to a JSON-serialisable body or refuses
with ObjectValidationError naming the object. Nothing else may escape, since anything else would
crash a process instead of recording one failure."""

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.errors import ObjectValidationError
from ongoing.mappers import article_to_ongoing, order_to_ongoing, purchase_order_to_ongoing

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", " ", "12,50", "1 234", "NaN", "1e400", "åäö", "\x00", "-0", "0x10"]),
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def records(fields: list[str]):
    """Dicts with any of the mapper's fields, each holding anything."""
    return st.fixed_dictionaries({}, optional={field: junk for field in fields})


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
]  # fmt: skip
ROW_FIELDS = ["RowId", "ArticleNumber", "Description", "OrderedQuantity", "Total"]
PURCHASE_ORDER_FIELDS = [
    "id", "deliveryDate", "note", "supplierNumber", "supplierName", "supplierAddress",
    "supplierAddress2", "supplierPostCode", "supplierCity", "supplierCountryCode", "currencyCode",
]  # fmt: skip
PURCHASE_ROW_FIELDS = ["id", "itemId", "itemDescription", "rowNum", "orderedQuantity", "price"]

# CI runs a fixed, derandomized set; FUZZ_EXAMPLES=5000 explores further (new examples each run).
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 300)),
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def maps_or_refuses(mapper, *args, **kwargs) -> None:
    try:
        body = mapper(*args, **kwargs)
    except ObjectValidationError as refusal:
        assert str(refusal)
        return
    json.dumps(body, allow_nan=False)  # what the client sends must be valid JSON


@FUZZ
@given(article=records(ARTICLE_FIELDS), supplier=st.none() | records(["Name", "SupplierNumber"]))
def test_articles(article, supplier):
    maps_or_refuses(article_to_ongoing, article, goods_owner_id=1, supplier=supplier)


@FUZZ
@given(
    order=records(ORDER_FIELDS),
    rows=st.one_of(junk, st.lists(records(ROW_FIELDS), max_size=4)),
    customer=st.none() | records(["CountryCode", "DeliveryCountryCode", "Type", "Email"]),
)
def test_orders(order, rows, customer):
    maps_or_refuses(
        order_to_ongoing, {**order, "OrderRows": rows}, goods_owner_id=1, customer=customer
    )


@FUZZ
@given(
    purchase_order=records(PURCHASE_ORDER_FIELDS),
    rows=st.one_of(junk, st.lists(records(PURCHASE_ROW_FIELDS), max_size=4)),
)
def test_purchase_orders(purchase_order, rows):
    maps_or_refuses(purchase_order_to_ongoing, {**purchase_order, "rows": rows}, goods_owner_id=1)
