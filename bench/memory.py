"""Benchmark 5 of issue 10: one worker process runs 10,000 no-change syncs (a real Celery worker,
`--concurrency 1`, Fortnox and Ongoing answered in-process, see bench/workers.py); its resident
memory after 10,000 syncs must stay within 10 % of its size after 100 (no leak).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wmsfortnox_perf \\
    REDIS_URL=redis://127.0.0.1:6379/8 .venv/bin/python bench/memory.py
    .venv/bin/python bench/memory.py --syncs 20      # tiny, SQLite and a folder as broker
"""

import argparse
import signal
import sys

from harness import table
from workers import run_on_workers

EARLY = 100
ALLOWED_GROWTH = 0.10


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--syncs", type=int, default=10_000)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    early = min(EARLY, args.syncs // 2)
    result = run_on_workers(tenants=args.syncs, concurrency=1, rss_at=(early, args.syncs))
    resident = {done: kb for _pid, done, kb in result["rss"]}
    growth = resident[args.syncs] / resident[early] - 1
    print(f"database: {result['database']}; runs by status: {result['statuses']}")
    print(
        table(
            ["measure", "value", "target"],
            [
                [f"resident memory after {early:,} syncs", f"{resident[early] / 1024:.1f} MB", ""],
                [
                    f"resident memory after {args.syncs:,} syncs",
                    f"{resident[args.syncs] / 1024:.1f} MB",
                    "",
                ],
                ["growth", f"{growth:+.1%}", f"≤ {ALLOWED_GROWTH:+.0%}"],
            ],
        )
    )
    if growth > ALLOWED_GROWTH:
        sys.exit(f"the worker grew by {growth:.1%}")


if __name__ == "__main__":
    main()
