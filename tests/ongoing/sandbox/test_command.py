"""`manage.py sandbox_warehouse`: the operator page's actions for scripts and tests."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ongoing.sandbox.models import GoodsOwner, InventoryAdjustment, Order, PurchaseOrder
from ongoing.statuses import OrderStatus, PurchaseOrderStatus
from tests.ongoing.sandbox.helpers import advise_purchase_order, place_order, stock_article


@pytest.fixture
def owner(sandbox):
    return sandbox.goods_owner


def warehouse(*args) -> str:
    out = StringIO()
    call_command("sandbox_warehouse", *args, stdout=out)
    return out.getvalue()


def test_start_pick_partly_send_collect_and_return(owner):
    stock_article(owner, "A1", 10)
    stock_article(owner, "A2", 10)
    order = place_order(owner, "1001", [("1", "A1", 3), ("2", "A2", 2)])
    assert "300 Released" in warehouse("start", "1001")
    assert "400 Picked" in warehouse("pick", "1001", "1=2", "2=0")
    assert [line.picked for line in order.lines.all()] == [2, 0]
    assert "450 Sent" in warehouse("send", "1001")
    assert "500 Collected" in warehouse("collect", "1001")
    assert "Return 1001-R1 registered" in warehouse("return", "1001", "1=1", "--cause", "Trasig")
    order.refresh_from_db()
    assert order.status == OrderStatus.COLLECTED
    assert order.lines.get(row_number="1").returned == 1


def test_pick_everything_by_default(owner):
    stock_article(owner, "A1", 10)
    order = place_order(owner, "1002", [("1", "A1", 4)])
    warehouse("pick", "1002")
    assert order.lines.get().picked == 4


def test_receive_partly_then_close(owner):
    stock_article(owner, "A1")
    advise_purchase_order(owner, "PO7", [("1", "A1", 10)])
    assert "Inbound" in warehouse("receive", "PO7", "1=4")
    assert "Deflection" in warehouse("close", "PO7", "deflection")
    purchase_order = PurchaseOrder.objects.get()
    assert purchase_order.status == PurchaseOrderStatus.DEFLECTION
    assert purchase_order.lines.get().received == 4


def test_receive_everything_and_close_as_received(owner):
    stock_article(owner, "A1")
    advise_purchase_order(owner, "PO8", [("1", "A1", 6)])
    warehouse("receive", "PO8")
    warehouse("close", "PO8", "received")
    purchase_order = PurchaseOrder.objects.get()
    assert purchase_order.status == PurchaseOrderStatus.RECEIVED
    assert purchase_order.lines.get().article.number_of_items == 6


def test_adjust(owner):
    stock_article(owner, "A1", 5)
    assert "4 in stock" in warehouse("adjust", "A1", "-1", "--comment", "Tappad")
    assert InventoryAdjustment.objects.get().number_of_items == Decimal(-1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("send", "1001"), "Only picked orders can be sent"),
        (("pick", "1001", "1=99"), "only 3 left to pick"),
        (("pick", "1001", "1"), "ROW=QUANTITY"),
        (("pick", "nope"), "No order 'nope'"),
        (("adjust", "A1", "many"), "a number such as 5 or -2"),
        (("--warehouse", "nowhere", "send", "1001"), "No sandbox warehouse"),
    ],
)
def test_refusals_are_command_errors(owner, args, message):
    stock_article(owner, "A1", 10)
    place_order(owner, "1001", [("1", "A1", 3)])
    with pytest.raises(CommandError, match=message):
        warehouse(*args)


def test_the_same_number_at_two_goods_owners_needs_goods_owner(owner, sandbox):
    stock_article(owner, "A1", 10)
    place_order(owner, "1001", [("1", "A1", 1)])
    other = GoodsOwner.objects.create(warehouse=sandbox.warehouse, name="Annan AB")
    stock_article(other, "A1", 10)
    place_order(other, "1001", [("1", "A1", 1)])
    with pytest.raises(CommandError, match="--goods-owner"):
        warehouse("pick", "1001")
    warehouse("--goods-owner", str(other.pk), "pick", "1001")
    assert Order.objects.get(goods_owner=other).status == OrderStatus.PICKED
    assert Order.objects.get(goods_owner=owner).status == OrderStatus.OPEN


def test_refused_without_the_sandbox(owner, settings):
    settings.SANDBOX_ENABLED = False
    with pytest.raises(CommandError, match="SANDBOX_ENABLED"):
        warehouse("send", "1001")
