"""Fortnox records → Ongoing request bodies, field by field."""

from decimal import Decimal

import pytest

from integrations.errors import ObjectValidationError
from ongoing.mappers import (
    article_to_ongoing,
    country_code,
    decimal_or_none,
    order_to_ongoing,
    supplier_info,
)

FULL_ARTICLE = {
    "ArticleNumber": "1001",
    "Description": "Kaffekopp, blå glasyr",
    "Note": "Tål diskmaskin. Förpackad i kartong.",
    "EAN": "7350012345678",
    "Width": 90,
    "Height": 105,
    "Depth": "120",
    "Weight": "350",
    "StockGoods": True,
    "PurchasePrice": "42.50",
    "Unit": "st",
    "SupplierNumber": "7",
    "Active": True,
    "Type": "STOCK",
}
SUPPLIER = {"SupplierNumber": "7", "Name": "Höganäs Keramik AB"}


def test_article_every_field():
    body = article_to_ongoing(FULL_ARTICLE, goods_owner_id=12, supplier=SUPPLIER)

    assert body == {
        "goodsOwnerId": 12,
        "articleNumber": "1001",
        "articleName": "Kaffekopp, blå glasyr",
        "description": "Tål diskmaskin. Förpackad i kartong.",
        "unitCode": "st",
        "isStockArticle": True,
        "isActive": True,
        "barCodeInfo": {"barCode": "7350012345678"},
        "length": 0.12,
        "width": 0.09,
        "height": 0.105,
        "volume": 0.001134,
        "weight": 0.35,
        "purchasePrice": 42.5,
        "supplierInfo": {"supplierNumber": "7", "supplierName": "Höganäs Keramik AB"},
    }


def test_article_missing_optional_fields_are_left_out():
    body = article_to_ongoing({"ArticleNumber": "SRV-1", "Description": "Frakt"}, goods_owner_id=1)

    assert body == {
        "goodsOwnerId": 1,
        "articleNumber": "SRV-1",
        "articleName": "Frakt",
        "isStockArticle": False,
        "isActive": True,
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"StockGoods": False, "Type": "STOCK"}, False),
        ({"StockGoods": "true"}, True),
        ({"Type": "STOCK"}, True),
        ({"Type": "SERVICE"}, False),
        ({"StockGoods": None, "Type": "STOCK"}, True),
    ],
)
def test_article_stock_flag_follows_lagervara(fields, expected):
    body = article_to_ongoing({"ArticleNumber": "A", **fields}, goods_owner_id=1)

    assert body["isStockArticle"] is expected


def test_article_inactive_or_expired_is_not_active():
    assert (
        article_to_ongoing({"ArticleNumber": "A", "Active": False}, goods_owner_id=1)["isActive"]
        is False
    )
    assert (
        article_to_ongoing({"ArticleNumber": "A", "Expired": True}, goods_owner_id=1)["isActive"]
        is False
    )


def test_article_name_falls_back_to_number():
    assert (
        article_to_ongoing({"ArticleNumber": "X1", "Description": " "}, goods_owner_id=1)[
            "articleName"
        ]
        == "X1"
    )


def test_article_zero_dimensions_are_unknown_not_zero():
    body = article_to_ongoing(
        {"ArticleNumber": "A", "Width": 0, "Height": "0", "Depth": 10, "Weight": 0},
        goods_owner_id=1,
    )

    assert body["length"] == 0.01
    assert "width" not in body
    assert "volume" not in body
    assert "weight" not in body


def test_article_supplier_without_registry_entry_keeps_the_number():
    body = article_to_ongoing({"ArticleNumber": "A", "SupplierNumber": 15}, goods_owner_id=1)

    assert body["supplierInfo"] == {"supplierNumber": "15"}


def test_article_with_bad_number_names_the_article_and_field():
    with pytest.raises(ObjectValidationError, match=r"Article 1001, Weight: 'tung'"):
        article_to_ongoing({**FULL_ARTICLE, "Weight": "tung"}, goods_owner_id=1)


def test_article_without_number_is_refused():
    with pytest.raises(ObjectValidationError):
        article_to_ongoing({"Description": "Nameless"}, goods_owner_id=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        (12, Decimal(12)),
        (12.5, Decimal("12.5")),
        ("12.50", Decimal("12.50")),
        ("12,50", Decimal("12.50")),
        ("1 234,5", Decimal("1234.5")),
        ("1\u00a0234", Decimal(1234)),
    ],
)
def test_numbers_arrive_as_numbers_or_strings(value, expected):
    assert decimal_or_none(value, what="x") == expected


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", True, "1.2.3"])
def test_non_numbers_are_refused(value):
    with pytest.raises(ObjectValidationError):
        decimal_or_none(value, what="x")


def test_supplier_info():
    assert supplier_info("7", SUPPLIER) == {
        "supplierNumber": "7",
        "supplierName": "Höganäs Keramik AB",
    }
    assert supplier_info("", SUPPLIER) is None
    assert supplier_info(None) is None


FULL_ORDER = {
    "DocumentNumber": "1042",
    "CustomerNumber": "10",
    "CustomerName": "Åsa Öberg",
    "Remarks": "Ring före leverans",
    "TermsOfDelivery": "FVL",
    "TermsOfPayment": "30",
    "YourOrderNumber": "PO-77",
    "Total": "1249.00",
    "Currency": "SEK",
    "Language": "SV",
    "OurReference": "Erik",
    "YourReference": "Åsa",
    "DeliveryDate": "2026-11-30",
    "OrderDate": "2026-11-23",
    "WayOfDelivery": "P",
    "DeliveryName": "Åsa Öberg c/o Ström",
    "DeliveryAddress1": "Storgatan 1",
    "DeliveryAddress2": "Lgh 1102",
    "DeliveryZipCode": "111 22",
    "DeliveryCity": "Göteborg",
    "DeliveryCountry": "Sverige",
    "Address1": "Faktura väg 9",
    "ZipCode": "999 99",
    "City": "Malmö",
    "Phone1": "031-123456",
    "Phone2": "070-1234567",
    "OrganisationNumber": "",
    "EmailInformation": {"EmailAddressTo": "asa@example.se"},
    "OrderRows": [
        {
            "RowId": 1,
            "ArticleNumber": "1001",
            "Description": "Kaffekopp, blå",
            "OrderedQuantity": "2.00",
            "Total": "200.00",
        },
        {"RowId": 2, "ArticleNumber": "", "Description": "Tack för din order!"},
        {"RowId": 3, "ArticleNumber": "1002", "OrderedQuantity": 0, "Total": 0},
        {"RowId": 4, "ArticleNumber": "1003", "OrderedQuantity": 1.5, "Total": 1049},
    ],
}
CUSTOMER = {"CustomerNumber": "10", "Type": "PRIVATE", "CountryCode": "SE", "Email": "a@b.se"}


def test_order_every_field():
    body = order_to_ongoing(FULL_ORDER, goods_owner_id=12, customer=CUSTOMER)

    assert body == {
        "goodsOwnerId": 12,
        "orderNumber": "1042",
        "deliveryDate": "2026-11-30",
        "goodsOwnerOrderId": "PO-77",
        "referenceNumber": "Åsa",
        "salesCode": "Erik",
        "orderRemark": "Ring före leverans",
        "termsOfDeliveryType": "FVL",
        "freeText1": "30",
        "freeText2": "SV",
        "wayOfDelivery": {"code": "P", "name": "P"},
        "customerPrice": 1249,
        "consignee": {
            "customerNumber": "10",
            "name": "Åsa Öberg c/o Ström",
            "address1": "Storgatan 1",
            "address2": "Lgh 1102",
            "postCode": "111 22",
            "city": "Göteborg",
            "countryCode": "SE",
            "telephone": "031-123456",
            "mobilePhone": "070-1234567",
            "email": "asa@example.se",
        },
        "emailNotification": {"toBeNotified": False},
        "smsNotification": {"toBeNotified": False},
        "orderLines": [
            {
                "rowNumber": "1",
                "articleNumber": "1001",
                "numberOfItems": 2,
                "comment": "Kaffekopp, blå",
                "prices": {"linePrice": 200, "currencyCode": "SEK"},
                "externalId": "1",
            },
            {
                "rowNumber": "4",
                "articleNumber": "1003",
                "numberOfItems": 1.5,
                "prices": {"linePrice": 1049, "currencyCode": "SEK"},
                "externalId": "4",
            },
        ],
    }


def test_order_notifications_when_switched_on():
    body = order_to_ongoing(
        FULL_ORDER,
        goods_owner_id=1,
        customer=CUSTOMER,
        sms_notification=True,
        email_notification=True,
    )

    assert body["smsNotification"] == {"toBeNotified": True, "value": "070-1234567"}
    assert body["emailNotification"] == {"toBeNotified": True, "value": "asa@example.se"}


def test_order_type_is_set_when_given():
    body = order_to_ongoing(
        FULL_ORDER, goods_owner_id=1, order_type={"code": "B2C", "name": "Business to consumer"}
    )

    assert body["orderType"] == {"code": "B2C", "name": "Business to consumer"}


def test_order_without_delivery_address_uses_the_invoice_address():
    order = {key: value for key, value in FULL_ORDER.items() if not key.startswith("Delivery")} | {
        "DeliveryDate": "2026-12-01",
        "Country": "Norge",
    }

    consignee = order_to_ongoing(order, goods_owner_id=1)["consignee"]

    assert consignee["name"] == "Åsa Öberg"
    assert consignee["address1"] == "Faktura väg 9"
    assert consignee["postCode"] == "999 99"
    assert consignee["city"] == "Malmö"
    assert consignee["countryCode"] == "NO"


def test_order_minimal_with_optional_fields_missing():
    body = order_to_ongoing(
        {
            "DocumentNumber": 7,
            "CustomerName": "Kund",
            "OrderDate": "2026-11-23",
            "OrderRows": [{"ArticleNumber": "A", "OrderedQuantity": "1"}],
        },
        goods_owner_id=1,
    )

    assert body == {
        "goodsOwnerId": 1,
        "orderNumber": "7",
        "deliveryDate": "2026-11-23",
        "consignee": {"name": "Kund", "countryCode": "SE"},
        "emailNotification": {"toBeNotified": False},
        "smsNotification": {"toBeNotified": False},
        "orderLines": [{"rowNumber": "1", "articleNumber": "A", "numberOfItems": 1}],
    }


def test_order_country_prefers_the_customers_code():
    order = FULL_ORDER | {"DeliveryCountry": "Sverige"}

    body = order_to_ongoing(order, goods_owner_id=1, customer={"DeliveryCountryCode": "FI"})

    assert body["consignee"]["countryCode"] == "FI"


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("Sverige",), "SE"),
        (("SWEDEN",), "SE"),
        (("Österrike",), "AT"),
        (("dk",), "DK"),
        ((None, "", "Tyskland"), "DE"),
        ((), "SE"),
        ((None, " "), "SE"),
    ],
)
def test_country_code(names, expected):
    assert country_code(*names, what="Order 1") == expected


def test_unknown_country_is_a_validation_error_with_the_fix():
    with pytest.raises(
        ObjectValidationError, match="Order 1042: unknown delivery country 'Atlantis'"
    ):
        order_to_ongoing(FULL_ORDER | {"DeliveryCountry": "Atlantis"}, goods_owner_id=1)


def test_order_without_any_date_is_refused():
    order = {k: v for k, v in FULL_ORDER.items() if k not in ("DeliveryDate", "OrderDate")}

    with pytest.raises(ObjectValidationError, match="Order 1042: no delivery date"):
        order_to_ongoing(order, goods_owner_id=1)


def test_order_row_with_bad_quantity_names_the_row():
    order = FULL_ORDER | {"OrderRows": [{"ArticleNumber": "A", "OrderedQuantity": "två"}]}

    with pytest.raises(ObjectValidationError, match="Order 1042, row 1, OrderedQuantity"):
        order_to_ongoing(order, goods_owner_id=1)


@pytest.mark.parametrize(
    "rows",
    [
        None,
        [],
        [{"Description": "Frakt ingår"}],
        [{"ArticleNumber": "A", "OrderedQuantity": 0}, {"ArticleNumber": "B"}],
    ],
)
def test_an_order_with_nothing_to_pick_is_refused_rather_than_sent_without_lines(rows):
    order = FULL_ORDER | {"OrderRows": rows}

    with pytest.raises(ObjectValidationError, match="Order 1042: no row with an article"):
        order_to_ongoing(order, goods_owner_id=1)
