"""The Fortnox sandbox's demo company "Demo Handel AB": a user to sign in with, our app as the
developer portal registered it, and a believable book of articles, suppliers, customers, orders,
invoices and purchase orders. Idempotent: what exists is left as it is (a person may have edited
it), only what is missing is created, in bulk."""

import random
import sys
from datetime import timedelta
from typing import TextIO

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction

from . import clock, store
from .models import SandboxApp, SandboxCompany, SandboxRecord, SandboxUser

Kind = SandboxRecord.Kind

COMPANY_NAME = "Demo Handel AB"
ORGANISATION_NUMBER = "556677-8899"
TENANT_ID = 1556677
DATABASE_NUMBER = 556677
USER_EMAIL = "demo@demohandel.se"
USER_PASSWORD = "demo-fortnox"  # noqa: S105 - the published demo login of a local emulator
# Used when the settings name no client (tests, or a real app configured elsewhere).
DEFAULT_CLIENT_ID = "sandbox-client"
DEFAULT_CLIENT_SECRET = "sandbox-secret"  # noqa: S105 - the sandbox's published demo secret
APP_NAME = "Ongoing WMS ⇄ Fortnox"

SUPPLIERS = 24
CUSTOMERS = 60
STOCK_ARTICLES = 190
SERVICE_ARTICLES = 30
ORDERS = 120
PURCHASE_ORDERS = 6

CITIES = [
    ("Stockholm", "111 22"),
    ("Göteborg", "411 05"),
    ("Malmö", "211 20"),
    ("Uppsala", "753 20"),
    ("Västerås", "722 12"),
    ("Örebro", "702 10"),
    ("Linköping", "582 24"),
    ("Helsingborg", "252 21"),
    ("Jönköping", "553 16"),
    ("Umeå", "903 26"),
    ("Lund", "222 21"),
    ("Borås", "503 30"),
]
STREETS = ["Storgatan", "Kungsgatan", "Drottninggatan", "Industrivägen", "Hamngatan", "Skolgatan"]
FIRST_NAMES = ["Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Eva", "Per", "Sara", "Nils"]
LAST_NAMES = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Berg"]
COMPANY_WORDS = ["Nordic", "Svea", "Fjäll", "Skärgårds", "Norrlands", "Väst", "Mälar", "Bergs"]
COMPANY_KINDS = ["Trading", "Bygg", "Design", "Sport", "Hem", "Kontor", "Café", "Verkstad"]
PRODUCTS = [
    ("Kaffekopp", "st", 350, 90, 90, 120),
    ("Termos 1 l", "st", 480, 85, 300, 85),
    ("Ryggsäck 25 l", "st", 650, 300, 480, 180),
    ("Skrivbordslampa", "st", 1100, 160, 420, 160),
    ("Pläd ull", "st", 900, 250, 350, 60),
    ("Kökshandduk 2-pack", "förp", 150, 200, 300, 10),
    ("Ljuslykta glas", "st", 420, 110, 140, 110),
    ("Skärbräda ek", "st", 1200, 250, 380, 25),
    ("Vattenflaska 0,75 l", "st", 210, 75, 260, 75),
    ("Anteckningsbok A5", "st", 260, 150, 210, 15),
]
VARIANTS = ["svart", "vit", "grå", "grön", "blå", "röd", "natur", "sand", "marin", "rosa"]
SERVICES = ["Frakt", "Montering", "Presentinslagning", "Expressleverans", "Installation"]
WAYS_OF_DELIVERY = ["PN", "DHL", "SCH", "UPS", ""]


def _ean13(number: int) -> str:
    digits = f"735{number:09d}"
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return f"{digits}{check}"


def _address(rng: random.Random) -> dict:
    city, zip_code = rng.choice(CITIES)
    return {
        "Address1": f"{rng.choice(STREETS)} {rng.randint(1, 80)}",
        "ZipCode": zip_code,
        "City": city,
        "CountryCode": "SE",
        "Country": store.COUNTRIES["SE"],
    }


def _suppliers(rng: random.Random) -> list[dict]:
    suppliers = []
    for number in range(1, SUPPLIERS + 1):
        name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)} Grossist AB"
        suppliers.append(
            {
                **store.SUPPLIER_DEFAULTS,
                **_address(rng),
                "SupplierNumber": str(number),
                "Name": name,
                "OrganisationNumber": f"556{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
                "Phone1": f"08-{rng.randint(100000, 999999)}",
                "Email": f"order@leverantor{number}.se",
            }
        )
    return suppliers


def _customers(rng: random.Random) -> list[dict]:
    customers = []
    for number in range(1, CUSTOMERS + 1):
        private = number % 3 == 0
        if private:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            name = f"{first} {last}"
            org = f"{rng.randint(50, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}-"
            org += f"{rng.randint(1000, 9999)}"
            email = f"{first.lower()}.{last.lower()}{number}@example.se"
        else:
            name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)} AB"
            org = f"556{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
            email = f"inkop@kund{number}.se"
        customer = {
            **store.CUSTOMER_DEFAULTS,
            **_address(rng),
            "CustomerNumber": str(number),
            "Type": "PRIVATE" if private else "COMPANY",
            "Name": name,
            "OrganisationNumber": org,
            "Email": email,
            "Phone1": f"07{rng.randint(0, 9)}-{rng.randint(1000000, 9999999)}",
            "WayOfDelivery": rng.choice(WAYS_OF_DELIVERY),
        }
        if not private and number % 4 == 0:
            delivery = _address(rng)
            customer.update(
                {
                    "DeliveryName": f"{name} Lager",
                    "DeliveryAddress1": delivery["Address1"],
                    "DeliveryZipCode": delivery["ZipCode"],
                    "DeliveryCity": delivery["City"],
                    "DeliveryCountryCode": "SE",
                }
            )
        customers.append(customer)
    return customers


def _articles(rng: random.Random, suppliers: list[dict]) -> list[dict]:
    articles = []
    for index in range(STOCK_ARTICLES):
        product, unit, weight, width, height, depth = PRODUCTS[index % len(PRODUCTS)]
        variant = VARIANTS[(index // len(PRODUCTS)) % len(VARIANTS)]
        series = index // (len(PRODUCTS) * len(VARIANTS))
        supplier = suppliers[index % len(suppliers)]
        purchase = rng.randint(20, 600)
        articles.append(
            {
                **store.ARTICLE_DEFAULTS,
                "ArticleNumber": f"{1000 + index}",
                "Description": f"{product}, {variant}" + (f" ({series + 1})" if series else ""),
                "EAN": _ean13(1000 + index),
                "StockGoods": True,
                "Type": "STOCK",
                "QuantityInStock": rng.randint(0, 250),
                "PurchasePrice": purchase,
                "SalesPrice": round(purchase * 2.2),
                "Unit": unit,
                "Width": width,
                "Height": height,
                "Depth": depth,
                "Weight": weight,
                "SupplierNumber": supplier["SupplierNumber"],
                "SupplierName": supplier["Name"],
                "Manufacturer": supplier["Name"].split(" Grossist")[0],
                "StockPlace": f"{chr(65 + index % 6)}{index % 20 + 1:02d}",
                "Note": "Säsongsvara" if index % 17 == 0 else "",
                "Active": index % 40 != 39,
            }
        )
    for index in range(SERVICE_ARTICLES):
        name = SERVICES[index % len(SERVICES)]
        articles.append(
            {
                **store.ARTICLE_DEFAULTS,
                "ArticleNumber": f"T{index + 1:03d}",
                "Description": name if index < len(SERVICES) else f"{name} {index + 1}",
                "EAN": "",
                "SalesPrice": rng.choice([49, 99, 149, 299, 495]),
                "Unit": "st",
            }
        )
    return articles


def _orders(
    rng: random.Random, customers: list[dict], articles: list[dict]
) -> tuple[list[dict], list[str], list[str]]:
    """Orders, and which of them to invoice and cancel once they exist (through the store, so
    invoices, back orders and stock follow Fortnox's rules)."""
    stock = [article for article in articles if article["StockGoods"] and article["Active"]]
    services = [article for article in articles if not article["StockGoods"]]
    today = clock.now_datetime().astimezone(store.STOCKHOLM).date()
    orders, invoice, cancel = [], [], []
    for number in range(1, ORDERS + 1):
        customer = rng.choice(customers)
        rows = []
        for row_id, article in enumerate(rng.sample(stock, rng.randint(1, 5)), start=1):
            quantity = rng.randint(1, 8)
            rows.append(
                {
                    "RowId": row_id,
                    "ArticleNumber": article["ArticleNumber"],
                    "Description": article["Description"],
                    "OrderedQuantity": quantity,
                    "DeliveredQuantity": quantity,
                    "Price": article["SalesPrice"],
                    "Unit": article["Unit"],
                    "VAT": 25,
                    "Discount": 0,
                }
            )
        if number % 5 == 0:
            service = rng.choice(services)
            rows.append(
                {
                    "RowId": len(rows) + 1,
                    "ArticleNumber": service["ArticleNumber"],
                    "Description": service["Description"],
                    "OrderedQuantity": 1,
                    "DeliveredQuantity": 1,
                    "Price": service["SalesPrice"],
                    "Unit": "st",
                    "VAT": 25,
                    "Discount": 0,
                }
            )
        order_date = today - timedelta(days=ORDERS - number)
        order = {
            "DocumentNumber": str(number),
            "OrderDate": order_date.isoformat(),
            "DeliveryDate": (order_date + timedelta(days=rng.randint(2, 10))).isoformat(),
            "Remarks": "Ring innan leverans." if number % 11 == 0 else "",
            "YourOrderNumber": f"PO-{rng.randint(10000, 99999)}" if number % 2 else "",
            "YourReference": customer["Name"] if customer["Type"] == "PRIVATE" else "Inköp",
            "OurReference": "Demo Säljare",
            "Language": "SV",
            "Currency": "SEK",
            "Cancelled": False,
            "Sent": number % 3 != 0,
            "InvoiceReference": "",
            "OrderType": "Order",
            "NotCompleted": False,
            "WarehouseReady": False,
            "DeliveryState": "registration",
            **store._customer_fields(customer),
            "CustomerNumber": customer["CustomerNumber"],
            "OrderRows": rows,
        }
        store._totals(order, "OrderRows", "OrderedQuantity")
        orders.append(order)
        # The oldest third is history: some invoiced (a few partly, leaving back orders), some
        # cancelled. The rest is new work for the warehouse. Kept to a dozen invoices: each goes
        # through the store's invoicing rules, which is the slow part of the seed.
        if number % 13 == 0:
            cancel.append(order["DocumentNumber"])
        elif number <= ORDERS // 3 and number % 3 == 0:
            if number % 9 == 0 and rows[0]["OrderedQuantity"] > 1:
                rows[0]["DeliveredQuantity"] = rows[0]["OrderedQuantity"] - 1
            invoice.append(order["DocumentNumber"])
    return orders, invoice, cancel


def _purchase_orders(rng: random.Random, suppliers, articles) -> list[dict]:
    """For the warehouse module (off until someone switches it on)."""
    today = clock.now_datetime().astimezone(store.STOCKHOLM).date()
    purchase_orders = []
    for number in range(1, PURCHASE_ORDERS + 1):
        supplier = suppliers[number % len(suppliers)]
        items = [a for a in articles if a["SupplierNumber"] == supplier["SupplierNumber"]][:3]
        rows = [
            {
                "id": number * 100 + row_number,
                "itemId": article["ArticleNumber"],
                "itemDescription": article["Description"],
                "rowNum": row_number,
                "orderedQuantity": quantity,
                "remainingOrderedQuantity": quantity,
                "receivedQuantity": 0,
                "price": article["PurchasePrice"],
                "currencyCode": "SEK",
            }
            for row_number, article in enumerate(items, start=1)
            for quantity in [rng.randint(10, 60)]
        ]
        purchase_orders.append(
            {
                "id": number,
                "orderDate": (today - timedelta(days=7 - number)).isoformat(),
                "deliveryDate": (today + timedelta(days=number)).isoformat(),
                "note": "",
                "supplierNumber": supplier["SupplierNumber"],
                "supplierName": supplier["Name"],
                "supplierAddress": supplier["Address1"],
                "supplierAddress2": "",
                "supplierPostCode": supplier["ZipCode"],
                "supplierCity": supplier["City"],
                "supplierCountryCode": "SE",
                "currencyCode": "SEK",
                "purchaseType": "DROPSHIP" if number == PURCHASE_ORDERS else "WAREHOUSE",
                "rows": rows,
                "_state": "NOT_SENT" if number == 1 else "SENT",
            }
        )
    return purchase_orders


def _create_missing(company: SandboxCompany, kind: str, key_field: str, items: list[dict]):
    existing = set(
        SandboxRecord.objects.filter(company=company, kind=kind).values_list("key", flat=True)
    )
    now = clock.now_datetime()
    missing = [item for item in items if str(item[key_field]) not in existing]
    SandboxRecord.objects.bulk_create(
        SandboxRecord(
            company=company,
            kind=kind,
            key=str(item[key_field]),
            data=item,
            created_at=now,
            modified_at=now,
        )
        for item in missing
    )
    return {str(item[key_field]) for item in missing}


@transaction.atomic
def sandbox_seed(stdout: TextIO | None = None) -> SandboxCompany:
    company, _created = SandboxCompany.objects.get_or_create(
        tenant_id=TENANT_ID,
        defaults={
            "database_number": DATABASE_NUMBER,
            "name": COMPANY_NAME,
            "organisation_number": ORGANISATION_NUMBER,
            "address": "Storgatan 1",
            "zip_code": "111 22",
            "city": "Stockholm",
            "email": "info@demohandel.se",
            "phone": "08-123 456 78",
        },
    )
    user = SandboxUser.objects.filter(email=USER_EMAIL).first()
    if user is None:
        user = SandboxUser.objects.create(
            company=company,
            user_id=1,
            email=USER_EMAIL,
            name="Demo Användare",
            password=make_password(USER_PASSWORD),
        )
    # The app follows the settings, so a changed SITE_URL or client id takes effect on re-seed.
    client_id = settings.FORTNOX_CLIENT_ID or DEFAULT_CLIENT_ID
    SandboxApp.objects.update_or_create(
        client_id=client_id,
        defaults={
            "name": APP_NAME,
            "client_secret": settings.FORTNOX_CLIENT_SECRET or DEFAULT_CLIENT_SECRET,
            "redirect_uri": settings.FORTNOX_REDIRECT_URI,
            "scopes": list(settings.FORTNOX_SCOPES),
        },
    )

    rng = random.Random(TENANT_ID)  # noqa: S311 - demo data, reproducible on purpose
    suppliers = _suppliers(rng)
    customers = _customers(rng)
    articles = _articles(rng, suppliers)
    orders, to_invoice, to_cancel = _orders(rng, customers, articles)
    purchase_orders = _purchase_orders(rng, suppliers, articles)
    _create_missing(company, Kind.SUPPLIER, "SupplierNumber", suppliers)
    _create_missing(company, Kind.CUSTOMER, "CustomerNumber", customers)
    _create_missing(company, Kind.ARTICLE, "ArticleNumber", articles)
    new_orders = _create_missing(company, Kind.ORDER, "DocumentNumber", orders)
    _create_missing(company, Kind.PURCHASE_ORDER, "id", purchase_orders)
    for number in to_invoice:
        if number in new_orders:
            store.order_invoice_create(company, number)
    for number in to_cancel:
        if number in new_orders:
            store.order_cancel(company, number)

    password = USER_PASSWORD if check_password(USER_PASSWORD, user.password) else "(changed)"
    base = f"{settings.SANDBOX_BASE_URL}/fortnox"
    out = stdout or sys.stdout
    out.write(
        f"\n  Fortnox sandbox: {company.name} (org.nr {company.organisation_number}, "
        f"tenant id {company.tenant_id})"
        f"\n    Sign in (consent page, Marketplace, the company's pages): {base}/login/"
        f"\n    E-mail:   {user.email}"
        f"\n    Password: {password}"
        f"\n    Marketplace (Activate starts onboarding): {base}/marketplace/"
        f"\n    The company, warehouse module switch and fault injection: {base}/"
        f"\n    App: client id {client_id}, redirect URI {settings.FORTNOX_REDIRECT_URI}\n"
    )
    return company
