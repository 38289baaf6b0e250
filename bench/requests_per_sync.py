"""Benchmark 1 of issue 10: what a run costs in API requests, for 0, 1, 10 and 100 changed orders
since the last run, against both sandboxes with Fortnox's real rate limit on a simulated clock.

    .venv/bin/python bench/requests_per_sync.py
"""

from harness import open_orders_add, run_sync, sandboxes, table, throwaway_database

CHANGES = (0, 1, 10, 100)
INTERVAL_SECONDS = 15 * 60


def main() -> None:
    from fortnox.sandbox import store
    from integrations.models import RecordLink

    with throwaway_database(), sandboxes(start=None) as world:
        # Enough open, confirmed orders for 100 changes: the seed's plus more of the same kind.
        open_orders_add(world, count=60)
        world.clock.sleep(INTERVAL_SECONDS)

        rows = []
        first_started = world.clock.now()
        first = run_sync(world)
        rows.append(
            [
                "first run (everything)",
                first.fortnox_requests,
                first.ongoing_requests,
                f"{world.clock.now() - first_started:.0f}",
                first.totals["created"],
            ]
        )
        linked = list(
            RecordLink.objects.filter(integration=world.integration, object_type="order")
            .exclude(fingerprint="cancelled")
            .values_list("fortnox_key", flat=True)
        )
        for k in CHANGES:
            world.clock.sleep(INTERVAL_SECONDS)
            for number in linked[:k]:
                store.order_write(world.company, {"Remarks": f"Ändrad {k}"}, key=number)
            started = world.clock.now()
            result = run_sync(world)
            if result.error:
                print(f"run after {k} changes: {result.status}: {result.error}")
                print(world.router.calls[-8:])
            rows.append(
                [
                    f"{k} changed orders",
                    result.fortnox_requests,
                    result.ongoing_requests,
                    f"{world.clock.now() - started:.0f}",
                    result.totals["updated"],
                ]
            )
        print(
            table(
                [
                    "run",
                    "Fortnox requests",
                    "Ongoing requests",
                    "simulated seconds",
                    "objects written",
                ],
                rows,
            )
        )


if __name__ == "__main__":
    main()
