"""Benchmark 2 of issue 10: the first sync of a company with 10,000 articles and 2,000 open,
confirmed orders, through the real engine and clients against both sandboxes. The Fortnox sandbox
enforces the real limit (25 requests per 5 s, 429 beyond it) and our throttle keeps to it, both on
one simulated clock, so hours of rate-limited sync take minutes of CPU. Prints the requests, the
simulated wall time against the rate-limit bound (Fortnox requests ÷ 5 per second), the 429s the
sandbox answered, and the real CPU time.

Both sandboxes answer in-process in no simulated time unless --fortnox-latency / --ongoing-latency
say how long one request takes on the network. Ongoing's calls do not count against Fortnox's
limit, but a run makes them one at a time between its Fortnox calls, so their latency adds to the
wall time.

    .venv/bin/python bench/bulk_sync.py
    .venv/bin/python bench/bulk_sync.py --fortnox-latency 0.15 --ongoing-latency 0.1
    .venv/bin/python bench/bulk_sync.py --articles 50 --orders 10      # the small CI version
"""

import argparse
import time
from datetime import UTC, datetime

from harness import run_sync, sandboxes, table, throwaway_database

FORTNOX_LIMIT_PER_SECOND = 25 / 5


def seed_company(world, *, articles: int, orders: int) -> None:
    """Replace the demo company's articles and orders with `articles` active stock articles and
    `orders` open, confirmed orders of one to three rows, as Fortnox would answer them (each kind
    made once through the sandbox's own store, then copied with new numbers)."""
    from fortnox.sandbox import store
    from fortnox.sandbox.models import SandboxRecord

    Kind = SandboxRecord.Kind
    company = world.company
    SandboxRecord.objects.filter(
        company=company, kind__in=[Kind.ARTICLE, Kind.ORDER, Kind.INVOICE]
    ).delete()
    now = datetime.fromtimestamp(world.clock.now(), tz=UTC)
    suppliers = list(
        SandboxRecord.objects.filter(company=company, kind=Kind.SUPPLIER).values_list(
            "key", flat=True
        )
    )
    customers = list(
        SandboxRecord.objects.filter(company=company, kind=Kind.CUSTOMER).values_list(
            "key", flat=True
        )
    )
    template = store.article_write(
        company,
        {
            "ArticleNumber": "T-1",
            "Description": "Mall",
            "StockGoods": True,
            "SupplierNumber": suppliers[0],
            "PurchasePrice": 40,
            "Weight": 250,
        },
    )
    article_records = []
    for n in range(articles):
        supplier = suppliers[n % len(suppliers)]
        data = {
            **template,
            "ArticleNumber": f"B{n:05d}",
            "Description": f"Artikel {n}",
            "EAN": f"73{n:011d}",
            "SupplierNumber": supplier,
            "PurchasePrice": 10 + n % 90,
        }
        article_records.append(
            SandboxRecord(
                company=company,
                kind=Kind.ARTICLE,
                key=data["ArticleNumber"],
                data=data,
                created_at=now,
                modified_at=now,
            )
        )
    SandboxRecord.objects.filter(company=company, kind=Kind.ARTICLE, key="T-1").delete()
    SandboxRecord.objects.bulk_create(article_records, batch_size=2000)
    # One order per customer through the store gives each customer's fields; the rest are copies.
    by_customer = {}
    for customer in customers:
        order = store.order_write(
            company,
            {
                "CustomerNumber": customer,
                "OrderRows": [{"ArticleNumber": "B00000", "OrderedQuantity": 1}],
            },
        )
        by_customer[customer] = order
    SandboxRecord.objects.filter(company=company, kind=Kind.ORDER).delete()
    order_records = []
    for n in range(orders):
        template = by_customer[customers[n % len(customers)]]
        rows = [
            {
                **template["OrderRows"][0],
                "RowId": row + 1,
                "ArticleNumber": f"B{(n * 7 + row * 13) % articles:05d}",
                "Description": f"Artikel {(n * 7 + row * 13) % articles}",
                "OrderedQuantity": 1 + (n + row) % 4,
                "DeliveredQuantity": 1 + (n + row) % 4,
            }
            for row in range(1 + n % 3)
        ]
        data = {**template, "DocumentNumber": str(n + 1), "OrderRows": rows, "Sent": True}
        order_records.append(
            SandboxRecord(
                company=company,
                kind=Kind.ORDER,
                key=data["DocumentNumber"],
                data=data,
                created_at=now,
                modified_at=now,
            )
        )
    SandboxRecord.objects.bulk_create(order_records, batch_size=2000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--fortnox-latency", type=float, default=0.0)
    parser.add_argument("--ongoing-latency", type=float, default=0.0)
    args = parser.parse_args()
    latency = {"fortnox": args.fortnox_latency, "ongoing": args.ongoing_latency}
    with throwaway_database(), sandboxes(latency=latency) as world:
        seed_company(world, articles=args.articles, orders=args.orders)
        world.router.calls.clear()
        simulated, cpu, wall = world.clock.now(), time.process_time(), time.perf_counter()
        run = run_sync(world)
        simulated = world.clock.now() - simulated
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        rejected = sum(
            1
            for _method, path, status in world.router.calls
            if status == 429 and "/fortnox/" in path
        )
        bound = run.fortnox_requests / FORTNOX_LIMIT_PER_SECOND
    print(
        f"{args.articles:,} articles, {args.orders:,} open confirmed orders; simulated latency per "
        f"request: Fortnox {args.fortnox_latency:g} s, Ongoing {args.ongoing_latency:g} s"
    )
    print(
        table(
            ["measure", "value", "target"],
            [
                ["run status", f"{run.status}{': ' + run.error if run.error else ''}", "succeeded"],
                ["objects created", f"{run.totals['created']:,}", ""],
                ["Fortnox requests", f"{run.fortnox_requests:,}", ""],
                ["Ongoing requests (one at a time)", f"{run.ongoing_requests:,}", ""],
                ["rate-limit bound (Fortnox requests ÷ 5/s)", f"{bound:,.0f} s", ""],
                [
                    "simulated wall time of the run",
                    f"{simulated:,.0f} s",
                    f"≤ {1.1 * bound:,.0f} s",
                ],
                ["wall time ÷ bound", f"{simulated / bound:.3f}", "≤ 1.10"],
                ["429 answers from Fortnox", f"{rejected}", "0"],
                ["real CPU time (engine + both sandboxes)", f"{cpu:,.0f} s", ""],
                ["real wall time", f"{wall:,.0f} s", ""],
            ],
        )
    )


if __name__ == "__main__":
    main()
