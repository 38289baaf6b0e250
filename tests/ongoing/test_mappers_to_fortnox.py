"""Ongoing records → Fortnox writes, field by field."""

from decimal import Decimal

import pytest

from integrations.errors import ObjectValidationError
from ongoing.mappers import (
    INBOUND_INVENTORY,
    INBOUND_ORDER,
    INBOUND_RETURN,
    OUTBOUND_INVENTORY,
    adjustment_document,
    fulfilment_quantities,
    incoming_goods_document,
    purchase_order_receipt_document,
    purchase_order_receipt_quantities,
    purchase_order_to_ongoing,
    receival_quantities,
    return_document,
    stock_balance_changes,
)

FORTNOX_ORDER = {
    "DocumentNumber": "42",
    "OrderRows": [
        {"RowId": 1, "ArticleNumber": "1001", "OrderedQuantity": "3", "DeliveredQuantity": "3"},
        {"RowId": 2, "ArticleNumber": "S1", "OrderedQuantity": 1, "DeliveredQuantity": 0},
        {"RowId": 3, "ArticleNumber": "", "OrderedQuantity": 0, "DeliveredQuantity": 0},
        {"RowId": 4, "ArticleNumber": "1002", "OrderedQuantity": 5, "DeliveredQuantity": 5},
    ],
}


def wms_line(row, picked, *, should_be_picked=True):
    return {
        "rowNumber": str(row),
        "pickedNumberOfItems": picked,
        "shouldBePicked": should_be_picked,
    }


def test_fulfilment_writes_only_rows_that_differ():
    wms = {
        "orderLines": [
            wms_line(1, 3.0),
            wms_line(2, 0.0, should_be_picked=False),
            wms_line(4, 2.0),
        ]
    }

    delivered, ordered = fulfilment_quantities(wms, FORTNOX_ORDER)

    # Row 1 already right; the non-stock row 2 delivered in full; the text row 3 untouched.
    assert delivered == {"2": 1, "4": 2}
    assert ordered == {}


def test_fulfilment_can_lower_the_ordered_quantity_of_short_rows():
    wms = {"orderLines": [wms_line(1, 1.5), wms_line(4, 5.0)]}

    delivered, ordered = fulfilment_quantities(wms, FORTNOX_ORDER, lower_ordered=True)

    assert delivered == {"1": 1.5}
    assert ordered == {"1": 1.5}


def test_fulfilment_refuses_a_row_fortnox_does_not_have():
    with pytest.raises(ObjectValidationError, match="row 9"):
        fulfilment_quantities({"orderLines": [wms_line(9, 1)]}, FORTNOX_ORDER)


ARTICLE = {"articleSystemId": 57, "articleNumber": "1001"}


def test_found_goods_are_an_inbound_inventory_document():
    adjustment = {
        "inventoryId": 123,
        "numberOfItems": 4.0,
        "inventoryTime": "2026-11-23T10:39:31.300Z",
        "inventoryItemComment": "Hittade på fel plats",
    }

    direction, document_type, document_id, body = adjustment_document(ARTICLE, adjustment)

    assert (direction, document_type) == ("inbound", INBOUND_INVENTORY)
    assert document_id == "123000000000057"
    assert body == {
        "id": "123000000000057",
        "type": INBOUND_INVENTORY,
        "date": "2026-11-23",
        "note": "Hittade på fel plats",
        "rows": [{"rowId": 1, "itemId": "1001", "quantity": 4}],
    }


def test_lost_goods_are_an_outbound_inventory_document_with_a_delivery_state():
    adjustment = {"inventoryId": 7, "numberOfItems": -2.5, "inventoryTime": None}

    direction, document_type, document_id, body = adjustment_document(ARTICLE, adjustment)

    assert (direction, document_type) == ("outbound", OUTBOUND_INVENTORY)
    assert body["deliveryState"] == "delivery"
    assert body["rows"] == [
        {"rowId": 1, "itemId": "1001", "quantity": 2.5, "deliveredQuantity": 2.5}
    ]
    assert body["note"] == "Ongoing WMS inventory 7"
    assert document_id == "7000000000057"


def test_document_ids_are_digits_and_distinct_per_inventory_and_article():
    ids = {
        adjustment_document(
            {"articleSystemId": article, "articleNumber": "A"},
            {"inventoryId": inventory, "numberOfItems": 1},
        )[2]
        for inventory in (1, 11, 110)
        for article in (1, 10, 101)
    }
    assert len(ids) == 9
    assert all(i.isdigit() and len(i) <= 25 for i in ids)


def test_a_document_id_longer_than_fortnox_allows_is_refused():
    with pytest.raises(ObjectValidationError, match="25 digits"):
        adjustment_document(ARTICLE, {"inventoryId": 10**14, "numberOfItems": 1})


def test_a_return_is_an_inbound_return_document():
    return_order = {
        "returnOrderInfo": {
            "returnOrderId": 31,
            "returnOrderNumber": "42-R1",
            "inDate": "2026-11-20T08:00:00.000Z",
        },
        "customerOrderInfo": {"orderId": 9, "orderNumber": "42"},
        "returnOrderLines": [
            {"article": {"articleNumber": "1001"}, "returnedNumberOfItems": 2.0},
            {"article": {"articleNumber": "1002"}, "returnedNumberOfItems": 0},
        ],
    }

    document_id, body = return_document(return_order)

    assert document_id == "31"
    assert body == {
        "id": "31",
        "type": INBOUND_RETURN,
        "date": "2026-11-20",
        "note": "Retur på order 42",
        "rows": [{"rowId": 1, "itemId": "1001", "quantity": 2}],
    }


def wms_article(number, sellable, *, stock=True):
    return {
        "articleNumber": number,
        "isStockArticle": stock,
        "inventoryInfo": {"sellableNumberOfItems": sellable, "numberOfItems": 99},
    }


def test_stock_balance_changes_only_where_the_quantities_differ():
    wms = [
        wms_article("1001", 12.0),
        wms_article("1002", 5.0),
        wms_article("S1", 0.0, stock=False),
        wms_article("ONLY-WMS", 3.0),
        wms_article("1003", None),
    ]
    fortnox = [
        {"ArticleNumber": "1001", "QuantityInStock": "10"},
        {"ArticleNumber": "1002", "QuantityInStock": "5.0"},
        {"ArticleNumber": "S1", "QuantityInStock": "4"},
        {"ArticleNumber": "1003", "QuantityInStock": "2"},
    ]

    assert stock_balance_changes(wms, fortnox) == {"1001": 12, "1003": 0}


FORTNOX_PO = {
    "id": 3,
    "deliveryDate": "2026-11-30",
    "note": "Ring före leverans",
    "supplierNumber": "7",
    "supplierName": "Höganäs Keramik AB",
    "supplierAddress": "Bruksgatan 1",
    "supplierAddress2": "",
    "supplierPostCode": "263 39",
    "supplierCity": "Höganäs",
    "supplierCountryCode": "SE",
    "currencyCode": "SEK",
    "rows": [
        {
            "id": 301,
            "itemId": "1001",
            "itemDescription": "Kaffekopp",
            "rowNum": 1,
            "orderedQuantity": 20,
            "price": 42.5,
            "currencyCode": "SEK",
        },
        {"id": 302, "itemId": "1002", "rowNum": 2, "orderedQuantity": 0},
    ],
}


def test_a_purchase_order_every_field():
    assert purchase_order_to_ongoing(FORTNOX_PO, goods_owner_id=12) == {
        "goodsOwnerId": 12,
        "purchaseOrderNumber": "3",
        "inDate": "2026-11-30",
        "purchaseOrderRemark": "Ring före leverans",
        "supplierInfo": {
            "supplierNumber": "7",
            "supplierName": "Höganäs Keramik AB",
            "supplierAddress": "Bruksgatan 1",
            "supplierPostCode": "263 39",
            "supplierCity": "Höganäs",
            "supplierCountryCode": "SE",
        },
        "purchaseOrderLines": [
            {
                "rowNumber": "1",
                "articleNumber": "1001",
                "numberOfItems": 20,
                "comment": "Kaffekopp",
                "rowPrice": 42.5,
                "currencyCode": "SEK",
                "externalOrderLineId": "301",
            }
        ],
    }


def test_a_receival_is_what_was_received_beyond_what_is_booked():
    wms = {
        "purchaseOrderInfo": {"purchaseOrderNumber": "3"},
        "purchaseOrderLines": [
            {"externalOrderLineId": "301", "receivedNumberOfItems": 12.0},
            {"externalOrderLineId": "302", "receivedNumberOfItems": 4.0},
            {"externalOrderLineId": None, "receivedNumberOfItems": 9.0},
        ],
    }

    assert receival_quantities(wms, {"301": Decimal(5), "302": Decimal(4)}) == {"301": 7}


def test_incoming_goods_for_one_receival():
    document = incoming_goods_document(
        FORTNOX_PO, {"301": 7}, delivery_note_id="Ongoing 3-2", date="2026-11-23"
    )

    assert document == {
        "deliveryNoteId": "Ongoing 3-2",
        "supplierNumber": "7",
        "date": "2026-11-23",
        "rows": [
            {
                "itemId": "1001",
                "receivedQuantity": 7,
                "orderedQuantity": 20,
                "purchaseOrderId": 3,
                "purchaseOrderRowId": 301,
            }
        ],
    }
    with pytest.raises(ObjectValidationError, match="no row 999"):
        incoming_goods_document(FORTNOX_PO, {"999": 1}, delivery_note_id="x", date="2026-11-23")


def test_a_receival_of_a_warehouse_purchase_order_is_an_inbound_order_document():
    wms = {
        "purchaseOrderInfo": {
            "purchaseOrderId": 246,
            "purchaseOrderNumber": "WMS-1",
            "lastReceiveTime": "2026-11-23T09:00:00.000Z",
        },
        "purchaseOrderLines": [
            {"id": 5, "article": {"articleNumber": "1001"}, "receivedNumberOfItems": 4.0},
            {"id": 6, "article": {"articleNumber": "1002"}, "receivedNumberOfItems": 2.0},
        ],
    }

    quantities = purchase_order_receipt_quantities(wms, {"6": Decimal(2)})
    document_id, body = purchase_order_receipt_document(wms, quantities, sequence=3)

    assert quantities == {"5": 4}
    assert document_id == "2460003"
    assert body == {
        "id": "2460003",
        "type": INBOUND_ORDER,
        "date": "2026-11-23",
        "note": "Inleverans WMS-1 (3)",
        "rows": [{"rowId": 1, "itemId": "1001", "quantity": 4}],
    }


@pytest.mark.parametrize(
    ("mapper", "args", "message"),
    [
        # Found by the fuzz (tests/ongoing/test_mappers_fuzz.py): each escaped as AttributeError,
        # KeyError or ValueError and crashed the warehouse-module process.
        (adjustment_document, (None, {"inventoryId": 5, "numberOfItems": 1}), "no article"),
        (
            adjustment_document,
            ({"articleNumber": "A1", "articleSystemId": "x"}, {"inventoryId": 5}),
            "'x' is not an id",
        ),
        (
            adjustment_document,
            ({"articleNumber": "A1", "articleSystemId": 7}, {"inventoryId": "fem"}),
            "inventoryId: 'fem' is not an id",
        ),
        (return_document, ({"returnOrderInfo": [1]},), "Return order without an id"),
        (
            return_document,
            ({"returnOrderInfo": {"returnOrderId": 3}, "returnOrderLines": [{"article": "A1"}]},),
            "Return 3: nothing returned",
        ),
        (
            purchase_order_receipt_document,
            ({"purchaseOrderInfo": {"purchaseOrderNumber": "PO-1"}}, {}),
            "Purchase order PO-1: no purchaseOrderId",
        ),
        (
            purchase_order_receipt_quantities,
            ({"purchaseOrderInfo": None, "purchaseOrderLines": [{"receivedNumberOfItems": 2}]}, {}),
            "a line without an id",
        ),
    ],
)
def test_warehouse_records_of_the_wrong_shape_are_refused_naming_the_record(mapper, args, message):
    kwargs = {"sequence": 1} if mapper is purchase_order_receipt_document else {}
    with pytest.raises(ObjectValidationError, match=message):
        mapper(*args, **kwargs)


def test_stock_balance_ignores_records_that_are_not_articles():
    changes = stock_balance_changes(
        [None, "A1", {"articleNumber": "A1", "isStockArticle": "false"}],
        [[], {"ArticleNumber": "A1", "QuantityInStock": 1}],
    )

    assert changes == {}


def test_a_purchase_order_with_nothing_to_receive_is_refused():
    with pytest.raises(ObjectValidationError, match="Purchase order 7: no row with an article"):
        purchase_order_to_ongoing(
            {"id": 7, "rows": [{"itemId": "A", "orderedQuantity": 0}]}, goods_owner_id=1
        )
