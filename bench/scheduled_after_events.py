"""What the scheduled run costs once events did the work: requests of a scheduled run after k
orders were edited in Fortnox and synced by their events (k = 0, 1, 10, 100), with the event
stream healthy, and the same with the consumer down (every listed order read again, as before the
event path recorded what it synced). Both sandboxes in-process on a simulated clock, the company of
bench/requests_per_sync.py, the real consumer speaking the sandbox's event protocol in-process, the
real targeted run and the real scheduled run (the Celery task a worker runs).

    .venv/bin/python bench/scheduled_after_events.py
"""

from harness import open_orders_add, run_sync, sandboxes, table, throwaway_database

CHANGES = (0, 1, 10, 100)
INTERVAL_SECONDS = 15 * 60
DEBOUNCE_SECONDS = 3


def main() -> None:
    from django.utils import timezone

    from fortnox.sandbox import store
    from integrations.models import RecordLink, SyncRun
    from realtime.services.pending import pending_syncs_run
    from tests.realtime.conftest import consume

    with throwaway_database(), sandboxes(start=None) as world:
        open_orders_add(world, count=60)
        world.clock.sleep(INTERVAL_SECONDS)
        run_sync(world)
        linked = list(
            RecordLink.objects.filter(integration=world.integration, object_type="order")
            .exclude(fingerprint="cancelled")
            .values_list("fortnox_key", flat=True)
        )
        # The consumer subscribes once; later connections resume from the stored offsets.
        consumer, _socket = consume()

        rows = []
        for healthy in (True, False):
            for k in CHANGES:
                world.clock.sleep(INTERVAL_SECONDS / 2)
                remark = f"Ändrad {k} {'frisk' if healthy else 'nere'}"
                consumer, _socket = consume(
                    consumer=consumer,
                    actions=[
                        (
                            lambda number=number, remark=remark: store.order_write(
                                world.company, {"Remarks": remark}, key=number
                            )
                        )
                        for number in linked[:k]
                    ],
                )
                world.clock.sleep(DEBOUNCE_SECONDS)
                targeted = pending_syncs_run(integration_id=world.integration.pk)
                world.clock.sleep(INTERVAL_SECONDS / 2)
                if healthy:
                    consumer._beat(force=True)  # the running consumer beats every 5 s
                else:
                    consumer._disconnected(error="stopped")
                scheduled = run_sync(world)
                assert scheduled.trigger == SyncRun.Trigger.BEAT
                if scheduled.error:
                    print(f"k={k}: {scheduled.status}: {scheduled.error}")
                rows.append(
                    [
                        "healthy" if healthy else "consumer down",
                        k,
                        targeted.counts["sales_orders"]["updated"] if targeted else 0,
                        targeted.fortnox_requests if targeted else 0,
                        targeted.ongoing_requests if targeted else 0,
                        scheduled.fortnox_requests,
                        scheduled.ongoing_requests,
                        sum(counts["updated"] for counts in scheduled.counts.values()),
                    ]
                )
        print(f"(simulated clock at {timezone.now():%H:%M:%S})")
        print(
            table(
                [
                    "event stream",
                    "k",
                    "orders written by events",
                    "targeted Fortnox",
                    "targeted Ongoing",
                    "scheduled Fortnox",
                    "scheduled Ongoing",
                    "scheduled writes",
                ],
                rows,
            )
        )


if __name__ == "__main__":
    main()
