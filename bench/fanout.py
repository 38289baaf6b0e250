"""Benchmark 3 of issue 10: 10,000 integrations due at once. How long the beat's tick takes to
claim and enqueue them all, and what one no-change sync costs us (CPU, database queries) when
Fortnox and the WMS answer instantly, so only our own overhead is measured.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/perf \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/fanout.py
    .venv/bin/python bench/fanout.py --tenants 500 --syncs 50      # the small CI version
"""

import argparse
import os
import time
from datetime import timedelta
from unittest import mock

from fakes import quiet_apis
from harness import table, throwaway_database


def make_tenants(count: int, *, start: int = 0) -> list[int]:
    """`count` companies as they are between runs: integration active and due, both connections
    verified, every process's setting stored, and the pull processes' cursors from a last run.
    Numbered from `start`, so a benchmark can add more; returns the new integrations' ids."""
    from django.utils import timezone

    from fortnox.models import FortnoxConnection
    from integrations.models import Integration, ProcessSetting, SyncCursor
    from integrations.processes import registry
    from ongoing.models import OngoingConnection
    from tenants.models import Tenant

    now = timezone.now()
    tenants = Tenant.objects.bulk_create(
        [
            Tenant(name=f"Företag {n} AB", organisation_number=f"556{n:07d}")
            for n in range(start, start + count)
        ],
        batch_size=2000,
    )
    integrations = Integration.objects.bulk_create(
        [
            Integration(
                tenant=t,
                status=Integration.Status.ACTIVE,
                next_run_at=now,
                activated_at=now - timedelta(days=30),
            )
            for t in tenants
        ],
        batch_size=2000,
    )
    ProcessSetting.objects.bulk_create(
        [
            ProcessSetting(
                integration=integration,
                process=process.key,
                enabled=process.default_enabled,
                options=process.default_options(),
            )
            for integration in integrations
            for process in registry
        ],
        batch_size=5000,
    )
    last_run = (now - timedelta(minutes=15)).isoformat()
    SyncCursor.objects.bulk_create(
        [
            SyncCursor(integration=integration, process=key, value=last_run)
            for integration in integrations
            for key in ("suppliers", "articles", "sales_orders")
        ],
        batch_size=5000,
    )
    FortnoxConnection.objects.bulk_create(
        [
            FortnoxConnection(
                tenant=t,
                fortnox_tenant_id=1_000_000 + start + n,
                access_token=f"access-{start + n}",
                refresh_token=f"refresh-{start + n}",
                access_expires_at=now + timedelta(days=1),
                connected_at=now,
            )
            for n, t in enumerate(tenants)
        ],
        batch_size=2000,
    )
    OngoingConnection.objects.bulk_create(
        [
            OngoingConnection(
                tenant=t,
                system="https://demo.ongoingsystems.se/demo/",
                warehouse="demo",
                api_base_url="https://api.ongoingsystems.se/demo/api/v1/",
                goods_owner_id=start + n + 1,
                username="WSIBench",
                password="pw",
                verified_at=now,
            )
            for n, t in enumerate(tenants)
        ],
        batch_size=2000,
    )
    return [integration.pk for integration in integrations]


def tick_seconds() -> tuple[float, int, str]:
    """(seconds, integrations claimed, what was sent). With CELERY_BROKER_URL set to Redis the
    messages really go to it (and are purged afterwards); otherwise the broker calls are counted,
    not sent."""
    from config.celery import app
    from integrations.services.scheduler import integrations_claim_due

    url = os.environ.get("CELERY_BROKER_URL", "")
    if url.startswith("redis://"):
        app.conf.broker_url = url
        app.control.purge()
        started = time.perf_counter()
        claimed = integrations_claim_due()
        seconds = time.perf_counter() - started
        with app.connection_for_write() as connection:
            messages = connection.default_channel.client.llen("celery")
        app.control.purge()
        return seconds, len(claimed), f"{messages:,} messages to Redis"
    syncs, messages = [], []

    def count(*args, **kwargs):
        messages.append(args[0])
        syncs.extend(args[0][0] if isinstance(args[0][0], list) else [args[0][0]])

    with (
        mock.patch("integrations.tasks.integration_sync.apply_async", count),
        mock.patch("integrations.tasks.integration_syncs_fan_out.apply_async", count),
    ):
        started = time.perf_counter()
        claimed = integrations_claim_due()
        seconds = time.perf_counter() - started
    assert sorted(syncs) == sorted(claimed)
    return seconds, len(claimed), f"{len(messages):,} messages counted, not sent"


def no_change_syncs(integration_ids: list[int]) -> tuple[float, float, int]:
    """(CPU ms per sync, wall ms per sync, queries per sync) over the given integrations."""
    import responses
    from django.db import connection

    from integrations.tasks import integration_sync

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock_http:
        quiet_apis(mock_http)
        # Warm up imports and caches, then measure.
        integration_sync.apply(kwargs={"integration_id": integration_ids[0]})
        measured = integration_ids[1:]
        executed = []

        def count(execute, sql, params, many, context):
            executed.append(1)
            return execute(sql, params, many, context)

        cpu, wall = time.process_time(), time.perf_counter()
        # Counted as they are sent (Django's query log keeps only the last 9,000).
        with connection.execute_wrapper(count):
            for pk in measured:
                integration_sync.apply(kwargs={"integration_id": pk})
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return 1000 * cpu / len(measured), 1000 * wall / len(measured), len(executed) / len(measured)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--syncs", type=int, default=500)
    args = parser.parse_args()
    from django.conf import settings

    with throwaway_database():
        ids = make_tenants(args.tenants)
        seconds, claimed, sent = tick_seconds()
        cpu_ms, wall_ms, queries = no_change_syncs(ids[: args.syncs + 1])
        workers = 2
        projected = args.tenants * wall_ms / 1000 / workers
        print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
        print(
            table(
                ["measure", "value", "target"],
                [
                    ["integrations due at once", f"{claimed:,}", "10,000"],
                    ["tick: claim and enqueue them all", f"{seconds:.2f} s", "< 2 s"],
                    ["what the tick sent", sent, ""],
                    ["CPU per no-change sync", f"{cpu_ms:.1f} ms", ""],
                    ["wall time per no-change sync", f"{wall_ms:.1f} ms", ""],
                    ["database queries per no-change sync", f"{queries:.0f}", "≤ 20"],
                    [
                        f"{args.tenants:,} no-change syncs on {workers} workers (projected)",
                        f"{projected:.0f} s",
                        "< 90 s",
                    ],
                ],
            )
        )


if __name__ == "__main__":
    main()
