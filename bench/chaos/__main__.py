"""`make chaos`: the chaos-convergence proof (RELIABILITY.md section 1).

    .venv/bin/python -m bench.chaos                                  # the full run
    .venv/bin/python -m bench.chaos --orders 40 --articles 15 --purchase-orders 5 --kills 2
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/wmsfortnox_chaos .venv/bin/python -m bench.chaos

Runs the scenario twice from the same seed, clean and with faults and killed workers, prints the
table and exits non-zero unless both runs converged to the same state with no duplicate and no
loss. `--json PATH` also writes the figures (the CI test reads them)."""

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
# Celery's in-memory transport is the broker the harness drains; the Ongoing lock is the file
# lock, which the kernel releases when a killed worker held it (a Redis lock would hold the goods
# owner for ONGOING_LOCK_TIMEOUT real seconds after each such kill).
os.environ["CELERY_BROKER_URL"] = "memory://"
os.environ["REDIS_URL"] = ""


from bench.chaos.faults import FAULTY, EventPlan  # noqa: E402 - imports no Django model


def arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--purchase-orders", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kills", type=int, default=4, help="workers to kill in the faulty run")
    parser.add_argument(
        "--faulty-runs",
        type=int,
        default=30,
        help="runs under faults at the start of each phase (the outage)",
    )
    parser.add_argument(
        "--fault-scale", type=float, default=1.0, help="multiply every fault probability"
    )
    parser.add_argument(
        "--jobs", type=int, choices=(1, 2), default=2, help="2: the two runs side by side"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--show", type=int, default=20, help="differences to print at most")
    parser.add_argument("--verbose", action="store_true", help="keep the engine's log")
    parser.add_argument(
        "--only", choices=("clean", "faulty"), help="run one of the two (no comparison)"
    )
    parser.add_argument(
        "--keep", type=Path, help="copy each run's final SQLite database into this directory"
    )
    events = parser.add_argument_group(
        "the event path (issue 11)",
        "--events runs the Fortnox event consumer against the sandbox's event server and the "
        "warehouse's webhooks beside the scheduled runs, in both runs; the faulty run also gets "
        "these event faults.",
    )
    events.add_argument("--events", action="store_true", help="run the event path too")
    events.add_argument("--consumer-kills", type=int, default=FAULTY.consumer_kills)
    events.add_argument("--socket-drops", type=int, default=FAULTY.socket_drops)
    events.add_argument(
        "--duplicate-rate",
        type=float,
        default=FAULTY.duplicate_rate,
        help="share of events the server sends twice",
    )
    events.add_argument(
        "--no-reorder", action="store_true", help="do not reverse each batch of events"
    )
    events.add_argument(
        "--webhook-loss",
        type=float,
        default=FAULTY.webhook_loss_rate,
        help="share of webhooks the warehouse never sends",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    options = arguments(argv)
    import django

    django.setup()
    if not options.verbose:
        # Hundreds of injected faults make hundreds of logged failures; they are all in the runs'
        # SyncFailures, and the table counts them.
        logging.disable(logging.ERROR)

    from .faults import FaultPlan
    from .report import events_table, summary, table
    from .runner import Options, clone_databases, databases, prepare_book, run_both, run_scenario
    from .scenario import Size

    run_options = Options(
        size=Size(
            articles=options.articles,
            orders=options.orders,
            purchase_orders=options.purchase_orders,
        ),
        seed=options.seed,
        faulty_runs=options.faulty_runs,
        kills=options.kills,
        plan=FaultPlan().scaled(options.fault_scale),
        keep=options.keep,
        events=options.events,
        event_plan=EventPlan(
            duplicate_rate=options.duplicate_rate,
            reorder=not options.no_reorder,
            webhook_loss_rate=options.webhook_loss,
            socket_drops=options.socket_drops,
            consumer_kills=options.consumer_kills,
        ),
    )
    with databases():
        prepare_book(run_options)
        if options.only:
            clone_databases([options.only])
            result = run_scenario(run_options, faults=options.only == "faulty", label=options.only)
            print(json.dumps(result.audit, indent=2, ensure_ascii=False))
            print(f"{result.runs} runs, kills {result.kills}, {result.wall_seconds:.0f} s")
            return 0
        started = time.monotonic()
        print(
            f"{run_options.size}, seed {options.seed}: the clean and the faulty run"
            f"{' side by side' if options.jobs > 1 else ''} …",
            flush=True,
        )
        clean, faulty = run_both(run_options, parallel=options.jobs > 1)
        print(f"  done in {time.monotonic() - started:.0f} s", flush=True)
    figures = summary(clean, faulty, run_options)
    print()
    print(table(figures))
    if options.events:
        print()
        print(events_table(figures))
    if figures["differences"]:
        print(f"\nDifferences from the clean run ({len(figures['differences'])}):")
        for line in figures["differences"][: options.show]:
            print(f"  {line}")
    for label in ("clean", "faulty"):
        for what, names in figures[label]["problems"].items():
            print(f"  {label}: {what}: {', '.join(names[: options.show])}")
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False, default=str))
    return 0 if figures["proved"] else 1


if __name__ == "__main__":
    sys.exit(main())
