"""Orders and purchase orders put into the sandbox the way the integration's PUTs would."""

from ongoing.sandbox import services


def stock_article(goods_owner, number: str, quantity: int = 0):
    article, _message = services.article_upsert(
        goods_owner=goods_owner, data={"articleNumber": number, "articleName": f"Artikel {number}"}
    )
    if quantity:
        article.number_of_items = quantity
        article.save(update_fields=["number_of_items"])
    return article


def place_order(goods_owner, number: str, lines: list[tuple[str, str, int]]):
    order, _message = services.order_upsert(
        goods_owner=goods_owner,
        data={
            "orderNumber": number,
            "deliveryDate": "2026-12-01T00:00:00Z",
            "consignee": {"name": "Kund AB", "address1": "Storgatan 1", "city": "Stockholm"},
            "orderLines": [
                {"rowNumber": row, "articleNumber": article, "numberOfItems": quantity}
                for row, article, quantity in lines
            ],
        },
    )
    return order


def advise_purchase_order(goods_owner, number: str, lines: list[tuple[str, str, int]]):
    purchase_order, _message = services.purchase_order_upsert(
        goods_owner=goods_owner,
        data={
            "purchaseOrderNumber": number,
            "supplierInfo": {"supplierNumber": "S1", "supplierName": "Leverantör AB"},
            "purchaseOrderLines": [
                {"rowNumber": row, "articleNumber": article, "numberOfItems": quantity}
                for row, article, quantity in lines
            ],
        },
    )
    return purchase_order
