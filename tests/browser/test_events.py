"""The issue's "done when" in a real browser, as README's "Changes within seconds" walks it: a
person edits an order on the Fortnox sandbox's order page and sees the change on the warehouse
sandbox's order page; then pastes the webhook address and secret from the settings page into the
warehouse, sends an order there and finds its invoice in the Fortnox sandbox — with no run started
by hand and no scheduled run after the first.

The Fortnox event stream is the sandbox's own protocol and the consumer the real one (spoken
in-process, as in tests/realtime); the webhooks are the warehouse sandbox's real POSTs to our
receiver on the live server. Each targeted-run task queued is run by the test as an idle worker
would take it. With `make run` the same is done by the `events`, `sandbox-events` and `worker`
processes."""

import pytest
from playwright.sync_api import expect

from fortnox.sandbox.models import SandboxRecord
from integrations.models import Integration, SyncRun
from integrations.processes import FULFILMENT, SALES_ORDERS
from integrations.tasks import integration_sync
from ongoing.sandbox import services as warehouse
from ongoing.sandbox.models import Order
from ongoing.sandbox.webhooks import webhooks_deliver_due
from realtime.tasks import integration_sync_objects
from tests.browser.support import browser_marks
from tests.browser.test_journey import connect_warehouse, sign_up, start_fortnox_consent
from tests.realtime.conftest import consume

pytestmark = browser_marks

REMARK = "Ring före leverans, ändrad i Fortnox"


class Worker:
    """The tasks queued (by the consumer in this thread, by the receiver in the live server's),
    run in the order queued when the test lets the worker go."""

    def __init__(self):
        self.queued: list[tuple] = []

    def apply_async(self, args, countdown=None, **options):
        self.queued.append(tuple(args))

    def drain(self) -> None:
        while self.queued:
            integration_sync_objects.apply(args=self.queued.pop(0))


@pytest.fixture
def worker(monkeypatch, settings):
    settings.EVENT_DEBOUNCE_SECONDS = 0
    worker = Worker()
    monkeypatch.setattr(integration_sync_objects, "apply_async", worker.apply_async)
    return worker


def test_changes_cross_by_events_as_readme_walks_them(steps, sandboxes, worker):
    page = steps.page
    sign_up(steps)
    connect_warehouse(steps, sandboxes)
    start_fortnox_consent(steps, sandboxes)
    page.get_by_role("button", name="Tillåt").click()
    page.get_by_role("navigation").get_by_role("link", name="Status").click()
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("The integration is active.")).to_be_visible()

    # The first scheduled run brings the orders to the warehouse.
    integration = Integration.objects.get(status=Integration.Status.ACTIVE)
    first = SyncRun.objects.get(pk=integration_sync.apply(args=(integration.pk,)).get())
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    number = sandboxes.orders[0]
    in_warehouse = Order.objects.get(order_number=number)
    warehouse_order = f"/sandbox/ongoing/demolager/operator/orders/{in_warehouse.pk}/"
    page.goto(warehouse_order)
    expect(page.get_by_role("heading", level=2)).to_contain_text(f"Order {number}")
    expect(page.get_by_text(REMARK)).to_have_count(0)
    steps.shot("warehouse-order-before")

    # Fortnox → warehouse: the order's comment edited on the Fortnox sandbox's page, while the
    # consumer is connected.
    def edit_in_fortnox():
        page.goto(f"/sandbox/fortnox/ui/orders/{number}/")
        page.get_by_label("Kommentar").fill(REMARK)
        steps.shot("fortnox-order-edit")
        page.get_by_role("button", name="Spara order").click()
        expect(page.get_by_text("Ordern är sparad.")).to_be_visible()

    consumer, _socket = consume(actions=[edit_in_fortnox])
    assert consumer.state.events >= 1
    worker.drain()

    page.goto(warehouse_order)
    expect(page.locator(".order-remark")).to_have_text(REMARK)
    steps.shot("warehouse-order-after")

    # Warehouse → Fortnox: the webhook address and secret pasted into the warehouse.
    page.goto("/app/settings/")
    address = page.locator("#webhook-url").input_value()
    secret = page.locator("#webhook-secret").input_value()
    assert address.startswith(sandboxes.url) and secret
    page.goto("/sandbox/ongoing/demolager/")
    page.get_by_label("Address").fill(address)
    page.get_by_label("X-Auth-Token").fill(secret)
    steps.shot("warehouse-webhook")
    page.get_by_role("button", name="Save").click()

    # The goods are on the shelf (the demo warehouse lacks some of this order's).
    for line in in_warehouse.lines.select_related("article"):
        missing = line.ordered - line.article.number_of_items
        if missing > 0 and line.should_be_picked:
            warehouse.inventory_adjust(article=line.article, number_of_items=missing)
    page.goto(warehouse_order)
    for button in ("Release for picking", "Pick these quantities", "Send (status 450)"):
        page.get_by_role("button", name=button).click()
    expect(page.locator("p", has_text="Status:")).to_contain_text("450")
    steps.shot("warehouse-order-sent")
    # What `sandbox_events` does every second: post the webhooks owed.
    assert webhooks_deliver_due() >= 1
    worker.drain()

    invoice = SandboxRecord.objects.get(
        company=sandboxes.fortnox_company, kind=SandboxRecord.Kind.ORDER, key=number
    ).data["InvoiceReference"]
    assert invoice
    page.goto("/sandbox/fortnox/ui/invoices/")
    row = page.locator("tbody tr").filter(has=page.get_by_role("cell", name=invoice, exact=True))
    expect(row.get_by_role("cell", name=number, exact=True)).to_be_visible()
    steps.shot("fortnox-invoices")

    runs = list(SyncRun.objects.order_by("id"))
    assert runs[0] == first
    assert all(run.trigger == SyncRun.Trigger.EVENT for run in runs[1:])
    assert sum(run.counts.get(SALES_ORDERS, {}).get("updated", 0) for run in runs[1:]) == 1
    assert sum(run.counts.get(FULFILMENT, {}).get("updated", 0) for run in runs[1:]) == 1
