"""The chaos-convergence proof in small (the full size is `make chaos`, RELIABILITY.md section 1):
the same business run through the real worker path twice, clean and with a quarter of the calls
to both sandboxes failing and two workers SIGKILLed mid-run, ends in the same state, with nothing
duplicated and nothing lost. Deterministic: the seed fixes the business, the faults and the kill
points."""

from bench.chaos.faults import FAULT_KINDS, faulted
from tests.bench.chaos.command import run_harness

SMALL = ["--orders", "40", "--articles", "15", "--purchase-orders", "5", "--kills", "2"]


def test_a_faulty_run_with_killed_workers_converges_to_the_clean_run(tmp_path):
    figures = run_harness([*SMALL, "--seed", "3"], tmp_path=tmp_path, tag="chaos")
    clean, faulty = figures["clean"], figures["faulty"]
    assert figures["proved"] is True
    assert figures["same_events"] is True
    assert figures["differences"] == []
    for run in (clean, faulty):
        assert run["converged"] is True
        assert set(run["duplicates"].values()) == {0}
        assert set(run["losses"].values()) == {0}
        assert run["worker_crashes"] == 0
    # The business went through every kind of document.
    for what in ("back orders", "invoices", "incoming goods", "custom documents"):
        assert faulty["size"][what] > 0, what
    assert faulty["events"]["returns"] > 0
    assert faulty["events"]["inventory adjustments"] > 0
    assert faulty["events"]["receivals"] > faulty["size"]["purchase orders"]  # partial ones
    # The warehouse also worked while runs were under way.
    assert faulty["events"]["received during a run"] > 0
    assert faulty["events"]["sent during a run"] > 0
    assert all(not phase["problems"] for phase in clean["phases"] + faulty["phases"])
    # The faults were real: at least a fifth of each sandbox's calls, of every kind.
    for channel in ("fortnox", "ongoing"):
        counts = faulty["faulty_calls"][channel]
        assert faulted(counts) >= 0.2 * counts["calls"], channel
        assert all(counts[kind] > 0 for kind in FAULT_KINDS), (channel, counts)
        assert set(clean["calls"][channel][kind] for kind in FAULT_KINDS) == {0}
    # And they met the work: every process wrote under faults, and most of all that was written
    # was written by the faulty runs, not by the retries after the outage.
    writes = faulty["process_writes"]
    assert set(writes) == set(clean["process_writes"]) and len(writes) >= 6, writes
    assert all(counts["under faults"] > 0 for counts in writes.values()), writes
    under = sum(counts["under faults"] for counts in writes.values())
    after = sum(counts["after"] for counts in writes.values())
    assert under > after, writes
    assert all(counts["under faults"] == 0 for counts in clean["process_writes"].values())
    # Two workers died by SIGKILL, and the scheduler closed each run they left behind.
    assert len(faulty["kills"]) == 2
    assert faulty["reaped"] == 2
    assert clean["kills"] == [] and clean["reaped"] == 0
