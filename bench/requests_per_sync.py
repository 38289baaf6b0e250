"""Benchmark 1 of issue 10: what a run costs in API requests, for 0, 1, 10 and 100 changes since
the last run, against both sandboxes with Fortnox's real rate limit on a simulated clock. Three
tables: the processes at their defaults with k orders edited in Fortnox; then with k inventory
adjustments made in the warehouse, purchase orders and the warehouse module on, and the classic
stock balance on.

    .venv/bin/python bench/requests_per_sync.py
    .venv/bin/python bench/requests_per_sync.py --changes 0,1     # CI's tiny version
"""

import argparse

from harness import open_orders_add, run_sync, sandboxes, table, throwaway_database

INTERVAL_SECONDS = 15 * 60
HEADERS = ["run", "Fortnox requests", "Ongoing requests", "simulated seconds", "objects written"]


def measured(world, label: str, written: str) -> list:
    """One run, 15 simulated minutes after the last, as a table row."""
    started = world.clock.now()
    result = run_sync(world)
    if result.error:
        print(f"{label}: {result.status}: {result.error}")
        print(world.router.calls[-8:])
    return [
        label,
        result.fortnox_requests,
        result.ongoing_requests,
        f"{world.clock.now() - started:.0f}",
        sum(result.totals[outcome] for outcome in written.split("+")),
    ]


def default_processes(changes: list[int]) -> None:
    from fortnox.sandbox import store
    from integrations.models import RecordLink

    with sandboxes(start=None) as world:
        # Enough open, confirmed orders for 100 changes: the seed's plus more of the same kind.
        open_orders_add(world, count=60)
        world.clock.sleep(INTERVAL_SECONDS)
        rows = [measured(world, "first run (everything)", "created")]
        linked = list(
            RecordLink.objects.filter(integration=world.integration, object_type="order")
            .exclude(fingerprint="cancelled")
            .values_list("fortnox_key", flat=True)
        )
        for k in changes:
            world.clock.sleep(INTERVAL_SECONDS)
            for number in linked[:k]:
                store.order_write(world.company, {"Remarks": f"Ändrad {k}"}, key=number)
            rows.append(measured(world, f"{k} changed orders", "updated"))
        print("Processes at their defaults, k orders edited in Fortnox")
        print(table(HEADERS, rows))


def adjusted_in_the_warehouse(
    changes: list[int], *, title: str, processes: tuple[str, ...], lager: bool
) -> None:
    """The demo company with `processes` switched on as well (and Fortnox Lager activated when
    `lager`); halfway between runs, k stock articles are adjusted by one in the warehouse."""
    from fortnox.sandbox.models import SandboxRecord
    from integrations.models import ProcessSetting
    from ongoing.sandbox import services as warehouse
    from ongoing.sandbox.models import Article

    with sandboxes(start=None) as world:
        world.company.warehouse_module = lager
        world.company.save(update_fields=["warehouse_module"])
        for key in processes:
            ProcessSetting.objects.update_or_create(
                integration=world.integration, process=key, defaults={"enabled": True}
            )
        world.clock.sleep(INTERVAL_SECONDS)
        rows = [measured(world, "first run (everything)", "created")]
        world.clock.sleep(INTERVAL_SECONDS)
        # The articles the first run created are news to the stock probe once.
        rows.append(measured(world, "second run", "created+updated"))
        stock_goods = {
            record.key
            for record in SandboxRecord.objects.filter(
                company=world.company, kind=SandboxRecord.Kind.ARTICLE
            )
            # Active stock goods that can be sold: one more in stock is one more to sell.
            if record.data.get("StockGoods")
            and record.data.get("Active", True)
            and float(record.data.get("QuantityInStock") or 0) > 0
        }
        articles = [
            article
            for article in Article.objects.filter(goods_owner=world.goods_owner).order_by("pk")
            if article.article_number in stock_goods
        ]
        for k in changes:
            # The warehouse works between the runs, not at the moment one starts.
            world.clock.sleep(INTERVAL_SECONDS / 2)
            for article in articles[:k]:
                warehouse.inventory_adjust(article=article, number_of_items=1, comment="Hittad")
            world.clock.sleep(INTERVAL_SECONDS / 2)
            rows.append(measured(world, f"{k} inventory adjustments", "created+updated"))
        world.clock.sleep(INTERVAL_SECONDS)
        rows.append(measured(world, "0 adjustments, the run after", "created+updated"))
        print(title)
        print(table(HEADERS, rows))


def main() -> None:
    from django.core.management import call_command

    from integrations.processes import PURCHASE_ORDERS, STOCK_BALANCE, WAREHOUSE_MODULE

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--changes",
        default="0,1,10,100",
        help="the numbers of changes between runs, comma-separated (at most 100)",
    )
    changes = [int(k) for k in parser.parse_args().changes.split(",")]
    with throwaway_database():
        default_processes(changes)
        print()
        call_command("flush", interactive=False, verbosity=0)
        adjusted_in_the_warehouse(
            changes,
            title="Purchase orders and the warehouse module on too, k adjustments in the warehouse",
            processes=(PURCHASE_ORDERS, WAREHOUSE_MODULE),
            lager=True,
        )
        print()
        call_command("flush", interactive=False, verbosity=0)
        adjusted_in_the_warehouse(
            changes,
            title="The classic stock balance on too, k adjustments in the warehouse",
            processes=(STOCK_BALANCE,),
            lager=False,
        )


if __name__ == "__main__":
    main()
