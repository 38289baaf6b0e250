"""Ongoing's standard status numbers (reference/ongoing-api.md). A warehouse may rename them, so the
texts here are only the defaults the sandbox answers with; the numbers are what code compares."""

from enum import IntEnum


class OrderStatus(IntEnum):
    ERROR = 150
    OPEN = 200
    RELEASED = 300
    ALLOCATED = 320
    PICKED = 400
    SENT = 450
    COLLECTED = 500
    RETURNED = 800
    CANCELLED = 1000

    @property
    def text(self) -> str:
        return self.name.capitalize()


class PurchaseOrderStatus(IntEnum):
    NOTIFIED = 100
    ARRIVAL_SPACE = 200
    INBOUND = 300
    DEFLECTION = 400
    RECEIVED = 500
    CANCELLED = 900

    @property
    def text(self) -> str:
        return self.name.replace("_", " ").capitalize()


# Ongoing refuses to update or cancel an order once the warehouse has started working on it. From
# Released on, the order is in the pickers' hands (picking list printed, goods reserved), so that is
# where the emulator draws the line; Ongoing's exact threshold per warehouse is UNVERIFIED.
ORDER_WORK_STARTED = OrderStatus.RELEASED
# Purchase orders: once goods have started to arrive, the advice is no longer the integrator's.
PURCHASE_ORDER_WORK_STARTED = PurchaseOrderStatus.INBOUND
