"""The warehouse operator page: a person picks and sends (also partly), receives (also partly, then
Deflection or Received), registers returns and adjusts the stock; refusals are shown, not raised."""

from decimal import Decimal

import pytest
from django.urls import reverse

from ongoing.sandbox.models import InventoryAdjustment, Order, PurchaseOrder, Warehouse
from ongoing.statuses import OrderStatus, PurchaseOrderStatus
from tests.ongoing.sandbox.helpers import advise_purchase_order, place_order, stock_article


@pytest.fixture
def owner(sandbox):
    return sandbox.goods_owner


@pytest.fixture
def order(owner):
    stock_article(owner, "A1", 10)
    stock_article(owner, "A2", 10)
    return place_order(owner, "1001", [("1", "A1", 3), ("2", "A2", 2)])


def order_url(order):
    return reverse("ongoing_sandbox:order", args=["demolager", order.pk])


def act(client, url, action, **quantities):
    return client.post(url, {"action": action, **quantities}, follow=True)


def quantity_fields(record, **by_row):
    return {f"qty-{line.pk}": by_row.get(line.row_number, "") for line in record.lines.all()}


def test_home_lists_orders_purchase_orders_and_stock(client, owner, order):
    advise_purchase_order(owner, "PO7", [("1", "A1", 5)])
    html = client.get(reverse("ongoing_sandbox:home", args=["demolager"])).content.decode()
    assert "1001" in html and "PO7" in html and "Artikel A1" in html
    assert "/sandbox/ongoing/demolager/" in html  # the System to type


def test_an_unknown_warehouse_or_another_warehouses_order_is_404(client, order):
    assert client.get(reverse("ongoing_sandbox:home", args=["nowhere"])).status_code == 404
    Warehouse.objects.create(name="annat", display_name="Annat Lager")
    assert client.get(reverse("ongoing_sandbox:order", args=["annat", order.pk])).status_code == 404


def test_pick_part_of_an_order_then_the_rest_then_send(client, order):
    url = order_url(order)
    response = act(client, url, "pick", **quantity_fields(order, **{"1": "2", "2": "0"}))
    assert "Picked." in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PICKED
    assert [line.picked for line in order.lines.all()] == [2, 0]
    assert order.lines.get(row_number="1").article.number_of_items == 8

    act(client, url, "send")
    order.refresh_from_db()
    assert order.status == OrderStatus.SENT
    assert [line.packed for line in order.lines.all()] == [2, 0]
    assert order.way_bill


def test_release_then_the_integration_can_no_longer_change_it(client, order):
    act(client, order_url(order), "start")
    order.refresh_from_db()
    assert order.status == OrderStatus.RELEASED


def test_picking_more_than_in_stock_is_refused_with_a_message(client, owner):
    stock_article(owner, "A9", 1)
    order = place_order(owner, "1002", [("1", "A9", 3)])
    response = act(client, order_url(order), "pick", **quantity_fields(order, **{"1": "3"}))
    assert "only 1 of article A9 in stock" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.OPEN


def test_a_quantity_that_is_not_a_number_is_refused(client, order):
    response = act(client, order_url(order), "pick", **quantity_fields(order, **{"1": "två"}))
    assert "is not a number" in response.content.decode()


def test_register_a_return_on_a_sent_order(client, order):
    url = order_url(order)
    act(client, url, "pick", **quantity_fields(order, **{"1": "3", "2": "2"}))
    act(client, url, "send")
    fields = quantity_fields(order, **{"1": "1"})
    response = client.post(url, {"action": "return", "cause": "Trasig", **fields}, follow=True)
    assert "The return was registered." in response.content.decode()
    (return_order,) = order.return_orders.all()
    assert return_order.return_order_number == "1001-R1"
    assert return_order.lines.get().cause == "Trasig"
    assert order.lines.get(row_number="1").article.number_of_items == 8


def test_receive_part_of_a_purchase_order_then_close_it(client, owner):
    stock_article(owner, "A1")
    purchase_order = advise_purchase_order(owner, "PO7", [("1", "A1", 10)])
    url = reverse("ongoing_sandbox:purchase_order", args=["demolager", purchase_order.pk])
    act(client, url, "receive", **quantity_fields(purchase_order, **{"1": "4"}))
    purchase_order.refresh_from_db()
    assert purchase_order.status == PurchaseOrderStatus.INBOUND
    assert purchase_order.lines.get().received == 4
    act(client, url, "receive", **quantity_fields(purchase_order, **{"1": "5"}))
    act(client, url, "deflection")
    purchase_order.refresh_from_db()
    assert purchase_order.status == PurchaseOrderStatus.DEFLECTION
    assert purchase_order.lines.get().article.number_of_items == 9
    response = act(client, url, "receive", **quantity_fields(purchase_order, **{"1": "1"}))
    assert "nothing more can be received" in response.content.decode()


def test_receive_all_and_close_as_received(client, owner):
    stock_article(owner, "A1")
    purchase_order = advise_purchase_order(owner, "PO8", [("1", "A1", 6)])
    url = reverse("ongoing_sandbox:purchase_order", args=["demolager", purchase_order.pk])
    act(client, url, "receive", **quantity_fields(purchase_order, **{"1": "6"}))
    act(client, url, "received")
    assert PurchaseOrder.objects.get(pk=purchase_order.pk).status == PurchaseOrderStatus.RECEIVED


def test_adjust_the_inventory(client, owner):
    article = stock_article(owner, "A1", 5)
    url = reverse("ongoing_sandbox:adjust", args=["demolager"])
    response = client.post(
        url, {"article": article.pk, "number_of_items": "-2", "comment": "Tappad"}
    )
    assert response.status_code == 302
    adjustment = InventoryAdjustment.objects.get()
    assert (adjustment.number_of_items, adjustment.is_reported) == (Decimal(-2), False)
    article.refresh_from_db()
    assert article.number_of_items == 3
    follow = client.post(url, {"article": article.pk, "number_of_items": "-9"}, follow=True)
    assert "Only 3 of A1 in stock" in follow.content.decode()


def test_order_page_shows_the_lines(client, order):
    html = client.get(order_url(order)).content.decode()
    assert "Artikel A1" in html and "Release for picking" in html
    assert Order.objects.get(pk=order.pk).status == OrderStatus.OPEN
