"""The chaos proof with the event path (issue 11; `make chaos CHAOS_ARGS="--events"` at full size,
RELIABILITY.md section 1, "with events"), in small: in both runs the real Fortnox event consumer
holds a real WebSocket to the sandbox's event server and the warehouse posts its webhooks to our
receiver; in the faulty one the socket is dropped, the consumer SIGKILLed and restarted, events
sent twice and out of order, webhooks lost — on top of the API faults and killed workers. The end
state is still the clean run's, with nothing duplicated or lost.

What the consumer is doing when it is killed depends on the machine's timing (it is a real
process); what is asserted does not: the verdict, and that every kind of fault happened."""

from bench.chaos.faults import FAULT_KINDS, faulted
from tests.bench.chaos.command import run_harness

SMALL = ["--orders", "20", "--articles", "10", "--purchase-orders", "3", "--kills", "1"]


def test_event_faults_on_top_of_api_faults_end_in_the_clean_runs_state(tmp_path):
    figures = run_harness([*SMALL, "--seed", "7", "--events"], tmp_path=tmp_path, tag="events")
    clean, faulty = figures["clean"], figures["faulty"]

    assert figures["proved"] is True
    assert figures["differences"] == []
    assert figures["same_events"] is True
    for run in (clean, faulty):
        assert run["converged"] is True
        assert set(run["duplicates"].values()) == {0}
        assert set(run["losses"].values()) == {0}
        assert run["event_path"]["consumer deaths (not ours)"] == 0
        assert run["event_path"]["pending at the end"] == 0
    # The clean run's event path works: every event taken, every webhook delivered, and
    # targeted runs did part of the work.
    events = clean["event_path"]
    assert events["events emitted"] > 0
    assert events["events never taken"] == 0
    assert events["server"]["pushed"] == events["events emitted"]
    assert events["server"]["duplicates"] == events["server"]["out_of_order"] == 0
    assert events["server"]["subscribed"] == 1
    assert events["webhooks owed"] == events["webhooks delivered"] > 0
    assert events["socket drops"] == events["consumer kills"] == 0
    assert clean["written"]["event"] > 0
    # Every event fault happened in the faulty run.
    events = faulty["event_path"]
    assert events["server"]["duplicates"] > 0
    assert events["server"]["out_of_order"] > 0
    # (The whole event path's figures on failure: drops and kills strike while the consumer
    # works through a backlog, so a stage it gave up on, or one without backlog, has none.)
    assert events["socket drops"] >= 1, events
    assert events["consumer kills"] >= 1, events
    assert events["consumer starts"] == events["consumer kills"] + 1
    # One subscription per connection: the first, one after each kill and after each drop.
    assert events["server"]["subscribed"] >= 1 + events["consumer kills"] + events["socket drops"]
    assert 0 < events["webhooks lost"] < events["webhooks owed"]
    assert events["targeted runs"] > 0
    # And the API faults and the killed worker with them.
    for channel in ("fortnox", "ongoing"):
        counts = faulty["faulty_calls"][channel]
        assert faulted(counts) >= 0.2 * counts["calls"], channel
        assert all(counts[kind] > 0 for kind in FAULT_KINDS), (channel, counts)
    assert len(faulty["kills"]) == 1
