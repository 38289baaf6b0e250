"""The figures of a clean and a faulty run side by side, and the verdict."""

from .faults import FAULT_KINDS, LOST_RESPONSE, RATE_LIMITED, SERVER_ERROR, TIMEOUT, faulted
from .runner import CHANNELS, RunResult, fault_share
from .state import differences, quantity_differences
from .state import problems as state_problems

KIND_LABELS = {
    SERVER_ERROR: "500",
    TIMEOUT: "timeout before the server",
    RATE_LIMITED: "429 (in bursts, Retry-After)",
    LOST_RESPONSE: "lost after the server committed",
}


def _size(result: RunResult) -> dict:
    state = result.state
    orders = [name for name in state["fortnox.orders"] if "/B" not in name]
    return {
        "articles": len(state["fortnox.articles"]),
        "sales orders": len(orders),
        "back orders": len(state["fortnox.orders"]) - len(orders),
        "purchase orders": len(state["fortnox.purchase_orders"]),
        "invoices": sum(len(group) for group in state["fortnox.invoices"].values()),
        "incoming goods": result.audit["documents"]["incoming goods"],
        "custom documents": result.audit["documents"]["custom documents"],
    }


def _run_figures(result: RunResult) -> dict:
    problems = state_problems(result.audit)
    for phase in result.phases[:-1]:
        for what, names in phase.problems.items():
            problems[f"{what} after the {phase.name}"] = names
    return {
        "size": _size(result),
        "events": result.events,
        "calls": result.calls,
        "faulty_calls": result.faulty_calls,
        "fault_share": fault_share(result),
        "kills": result.kills,
        "reaped": result.reaped,
        "worker_crashes": result.worker_crashes,
        "runs": result.runs,
        "phases": [
            {
                "name": p.name,
                "runs": p.runs,
                "faulty_runs": p.faulty_runs,
                "converged": p.converged,
                "first_run_boundaries": p.first_run_boundaries,
                "targeted_runs": p.targeted_runs,
                "problems": p.problems,
            }
            for p in result.phases
        ],
        "converged": result.converged,
        "duplicates": {what: len(names) for what, names in result.audit["duplicates"].items()},
        "losses": {what: len(names) for what, names in result.audit["losses"].items()},
        "problems": problems,
        "event_path": result.event_figures,
        "written": result.written,
        "process_writes": result.process_writes,
        "wall_seconds": round(result.wall_seconds, 1),
        "cpu_seconds": round(result.cpu_seconds, 1),
        "simulated_seconds": round(result.simulated_seconds),
    }


def summary(clean: RunResult, faulty: RunResult, options) -> dict:
    found = differences(clean.state, faulty.state)
    figures = {
        "options": {
            "articles": options.size.articles,
            "orders": options.size.orders,
            "purchase_orders": options.size.purchase_orders,
            "seed": options.seed,
            "kills": options.kills,
            "faulty_runs": options.faulty_runs,
            "planned_fault_share": round(options.plan.expected_share, 3),
        },
        "clean": _run_figures(clean),
        "faulty": _run_figures(faulty),
        "differences": found,
        "quantity_differences": quantity_differences(found),
        "same_events": clean.events == faulty.events,
    }
    figures["proved"] = bool(
        not found
        and figures["same_events"]
        and clean.converged
        and faulty.converged
        and not figures["clean"]["problems"]
        and not figures["faulty"]["problems"]
        and not clean.worker_crashes
        and not faulty.worker_crashes
        and all(
            not run.event_figures.get("consumer deaths (not ours)")
            and not run.event_figures.get("pending at the end")
            for run in (clean, faulty)
        )
    )
    return figures


def _earlier(run: dict) -> int:
    """Duplicates and losses found at the end of the phases before the last."""
    return sum(len(names) for phase in run["phases"][:-1] for names in phase["problems"].values())


def table(figures: dict) -> str:
    clean, faulty = figures["clean"], figures["faulty"]
    rows: list[tuple[str, str, str]] = []

    def row(label, left, right):
        rows.append((label, str(left), str(right)))

    size = faulty["size"]
    row(
        "scenario",
        "same seed, same events" if figures["same_events"] else "EVENTS DIFFER",
        f"{size['articles']} articles, {size['sales orders']} sales orders, "
        f"{size['purchase orders']} purchase orders",
    )
    for what in ("back orders", "invoices", "incoming goods", "custom documents"):
        row(f"  {what} at the end", clean["size"][what], faulty["size"][what])
    for event in (
        "orders picked and sent",
        "  of which short (back order)",
        "back orders confirmed",
        "new orders",
        "orders changed in Fortnox",
        "orders cancelled in Fortnox",
        "receivals",
        "purchase orders closed",
        "purchase orders entered in the warehouse",
        "returns",
        "inventory adjustments",
        "received during a run",
        "sent during a run",
        "articles changed in Fortnox",
        "suppliers renamed in Fortnox",
    ):
        row(f"  {event}", clean["events"].get(event, 0), faulty["events"].get(event, 0))
    for channel in CHANNELS:
        row(
            f"calls to {channel.capitalize()}",
            clean["calls"].get(channel, {}).get("calls", 0),
            faulty["calls"].get(channel, {}).get("calls", 0),
        )
    for channel in CHANNELS:
        counts = faulty["faulty_calls"].get(channel, {})
        calls = counts.get("calls", 0)
        share = faulted(counts) / calls if calls else 0
        row(
            f"  {channel.capitalize()} calls in faulty runs, faulted",
            "—",
            f"{faulted(counts)} of {calls} ({share:.0%})" if counts else "0",
        )
        for kind in FAULT_KINDS:
            row(f"    {KIND_LABELS[kind]}", 0, counts.get(kind, 0))
    writes = faulty.get("process_writes", {})
    if writes:
        under = sum(w["under faults"] for w in writes.values())
        total = under + sum(w["after"] for w in writes.values())
        row(
            "objects written in faulty runs (of all)",
            "—",
            f"{under} of {total} ({under / total:.0%})" if total else "0",
        )
        for process, w in writes.items():
            row(
                f"  {process}",
                "—",
                f"{w['under faults']} of {w['under faults'] + w['after']}",
            )
    row("workers killed (SIGKILL)", len(clean["kills"]), len(faulty["kills"]))
    row("stale runs closed by the scheduler", clean["reaped"], faulty["reaped"])
    row("runs to converge (all phases)", clean["runs"], faulty["runs"])
    row(
        "  per phase (faulty runs)",
        " / ".join(str(p["runs"]) for p in clean["phases"]),
        " / ".join(f"{p['runs']} ({p['faulty_runs']})" for p in faulty["phases"]),
    )
    for what in clean["duplicates"]:
        row(f"duplicate {what}", clean["duplicates"][what], faulty["duplicates"][what])
    for what in clean["losses"]:
        row(f"lost {what}", clean["losses"][what], faulty["losses"][what])
    row(
        "  the same, at the end of an earlier phase",
        _earlier(clean),
        _earlier(faulty),
    )
    row("differences from the clean run's final state", "—", len(figures["differences"]))
    row("  of which quantities", "—", len(figures["quantity_differences"]))
    row("wall time (s)", clean["wall_seconds"], faulty["wall_seconds"])
    row("CPU time (s)", clean["cpu_seconds"], faulty["cpu_seconds"])
    row(
        "simulated time (h)",
        f"{clean['simulated_seconds'] / 3600:.1f}",
        f"{faulty['simulated_seconds'] / 3600:.1f}",
    )
    row(
        "verdict",
        "",
        "PROVED: same state, nothing duplicated or lost" if figures["proved"] else "NOT PROVED",
    )

    widths = [max(len(r[i]) for r in [("", "clean", "faulty"), *rows]) for i in range(3)]

    def line(cells) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join(
        [
            line(("", "clean", "faulty")),
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
            *(line(r) for r in rows),
        ]
    )


def _render(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in [("", "clean", "faulty"), *rows]) for i in range(3)]

    def line(cells) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join(
        [
            line(("", "clean", "faulty")),
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
            *(line(r) for r in rows),
        ]
    )


def events_table(figures: dict) -> str:
    """The event path's figures (--events): what went wrong with events and webhooks, and who
    did the work — targeted runs, or the scheduled run as the safety net."""
    clean, faulty = figures["clean"]["event_path"], figures["faulty"]["event_path"]
    rows: list[tuple[str, str, str]] = []

    def row(label, left, right):
        rows.append((label, str(left), str(right)))

    def plan(run):
        given = run["plan"]
        parts = []
        if given["duplicate_rate"]:
            parts.append(f"{given['duplicate_rate']:.0%} of events sent twice")
        if given["reorder"]:
            parts.append("each batch reversed")
        if given["webhook_loss_rate"]:
            parts.append(f"{given['webhook_loss_rate']:.0%} of webhooks lost")
        return ", ".join(parts) or "none"

    row("event faults", plan(clean), plan(faulty))
    row(
        "Fortnox events emitted (" + "/".join(faulty["topics"]) + ")",
        clean["events emitted"],
        faulty["events emitted"],
    )
    row("  pushed by the event server", clean["server"]["pushed"], faulty["server"]["pushed"])
    row("    of which repeats", clean["server"]["duplicates"], faulty["server"]["duplicates"])
    row(
        "    of which out of order",
        clean["server"]["out_of_order"],
        faulty["server"]["out_of_order"],
    )
    row("sockets dropped", clean["socket drops"], faulty["socket drops"])
    row(
        "  connections the consumer subscribed on",
        clean["server"]["subscribed"],
        faulty["server"]["subscribed"],
    )
    row("consumer SIGKILLed and restarted", clean["consumer kills"], faulty["consumer kills"])
    row(
        "consumer died otherwise",
        clean["consumer deaths (not ours)"],
        faulty["consumer deaths (not ours)"],
    )
    row(
        "events the consumer never took (left to the safety net)",
        clean["events never taken"],
        faulty["events never taken"],
    )
    row("webhooks owed by the warehouse", clean["webhooks owed"], faulty["webhooks owed"])
    row("  lost (never sent)", clean["webhooks lost"], faulty["webhooks lost"])
    row("  delivered", clean["webhooks delivered"], faulty["webhooks delivered"])
    row("targeted runs", clean["targeted runs"], faulty["targeted runs"])
    row(
        "  per phase",
        " / ".join(str(p["targeted_runs"]) for p in figures["clean"]["phases"]),
        " / ".join(str(p["targeted_runs"]) for p in figures["faulty"]["phases"]),
    )
    for trigger, label in (("event", "targeted runs"), ("beat", "scheduled runs")):
        row(
            f"objects written by {label}",
            figures["clean"]["written"].get(trigger, 0),
            figures["faulty"]["written"].get(trigger, 0),
        )
    row(
        "objects still waiting at the end",
        clean["pending at the end"],
        faulty["pending at the end"],
    )
    row(
        "verdict",
        "",
        "PROVED: same state, nothing duplicated or lost" if figures["proved"] else "NOT PROVED",
    )
    return _render(rows)
