import io
import time
from collections import Counter

from django.core.management import call_command

from fortnox.sandbox.models import SandboxApp, SandboxCompany, SandboxRecord, SandboxUser
from fortnox.sandbox.seed import COMPANY_NAME, ORGANISATION_NUMBER, USER_EMAIL, USER_PASSWORD
from fortnox.sandbox.store import open_order

Kind = SandboxRecord.Kind


def kinds():
    return Counter(SandboxRecord.objects.values_list("kind", flat=True))


def test_sandbox_seed_command_is_idempotent(db, settings):
    settings.FORTNOX_CLIENT_ID = "sandbox-client"
    out = io.StringIO()
    started = time.monotonic()
    call_command("sandbox_seed", stdout=out)
    assert time.monotonic() - started < 10
    first = kinds()
    data = dict(SandboxRecord.objects.values_list("pk", "data"))

    again = io.StringIO()
    call_command("sandbox_seed", stdout=again)
    assert kinds() == first
    assert dict(SandboxRecord.objects.values_list("pk", "data")) == data
    assert SandboxCompany.objects.count() == 1
    assert SandboxUser.objects.count() == 1
    assert SandboxApp.objects.count() == 1

    printed = out.getvalue()
    assert USER_EMAIL in printed and USER_PASSWORD in printed
    assert "/sandbox/fortnox/marketplace/" in printed
    assert "/sandbox/fortnox/login/" in printed


def test_demo_company_volumes(db):
    from fortnox.sandbox.seed import sandbox_seed

    company = sandbox_seed(stdout=io.StringIO())
    assert (company.name, company.organisation_number) == (COMPANY_NAME, ORGANISATION_NUMBER)
    assert company.warehouse_module is False
    records = SandboxRecord.objects.filter(company=company)
    articles = [r.data for r in records.filter(kind=Kind.ARTICLE)]
    assert len(articles) >= 200
    stock = [a for a in articles if a["StockGoods"]]
    assert stock and len(stock) < len(articles)
    assert all(a["EAN"] and a["Width"] and a["Weight"] and a["SupplierNumber"] for a in stock)
    assert len({a["EAN"] for a in stock}) == len(stock)
    assert records.filter(kind=Kind.SUPPLIER).count() >= 20
    customers = [r.data for r in records.filter(kind=Kind.CUSTOMER)]
    assert len(customers) >= 50
    assert {c["Type"] for c in customers} == {"PRIVATE", "COMPANY"}
    orders = [r.data for r in records.filter(kind=Kind.ORDER)]
    assert len(orders) >= 100
    assert any(open_order(o) for o in orders)
    assert any(o["InvoiceReference"] for o in orders)
    assert any(o["Cancelled"] for o in orders)
    assert any(o["OrderType"] == "Backorder" for o in orders)
    assert records.filter(kind=Kind.INVOICE).count() == sum(
        1 for o in orders if o["InvoiceReference"]
    )
