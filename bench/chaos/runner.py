"""One run of the scenario, clean or faulty, through the real worker path.

What runs here is what runs in production, in the same order:

- beat: the scheduler's tick (`integrations_tick`) at the integration's next due minute on the
  simulated clock: it closes runs whose worker died (older than the hard time limit) and claims
  the due integration, which enqueues `integration_sync` on commit;
- the broker: Celery's own in-memory transport (settings.test); the harness takes each message
  off the queue, acknowledges it after the task returned (task_acks_late) and puts it back when
  the worker died (task_reject_on_worker_lost), where the next worker gets it at once;
- the worker: a forked child running the Celery task (workers.ForkedWorker), which may be killed.

Time is simulated (workers.SharedClock): Fortnox's 25-per-5-s limit, Retry-After and the 15-minute
interval cost no real time, and the sandbox, the throttle and the engine all read the same clock.

After each phase's events the engine runs until a run comes out quiet: succeeded, with nothing
created or updated. In a faulty run, the first `faulty_runs` runs of each phase are under faults
(and the planned kills happen in them): the outage; the runs after it are the retries once it is
over, without faults, until a run is quiet. (With a quarter of all calls failing, no run of any
size comes out without a failure, so quiet can only be observed once the faults stop; a faulty run
that is quiet all the same ends the phase too.)

Why a fixed number of faulty runs, and not "until a faulty run writes nothing": a timeout stops the
whole run (FortnoxTimeout and OngoingTimeout `stops_run`; about 7 % of the calls time out under the
default plan), and a process whose listing call fails writes nothing, so a faulty run writes
nothing about as often because it was cut short as because the work is done. When the first such
run ended the outage, the faulty runs made about a tenth of the calls (89 of 558 to Fortnox, 28 of
271 to Ongoing at the CI size, seed 3), one fault kind was never injected into Ongoing, and the
later processes (fulfilment, the warehouse module) wrote almost nothing under faults; runs that
reached every process and wrote nothing were still mostly runs whose listings had failed.
`process_writes` counts, per process, what was written under faults and after."""

import os
import pickle
import random
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty

from django.conf import settings
from django.db import connection
from django.test.utils import override_settings, setup_test_environment

from config.celery import app as celery_app
from integrations.models import SyncRun
from integrations.services.scheduler import integrations_tick

from . import state
from .events import EventPath
from .faults import (
    FAULTY,
    ChannelAnswers,
    EventPlan,
    FaultInjector,
    FaultPlan,
    FaultyTransport,
    Tally,
    faulted,
)
from .scenario import PHASES, Scenario, Size
from .workers import DID, ForkedWorker, SharedClock
from .world import environment, prepare, world

CHANNELS = ("fortnox", "ongoing")
# 2026-03-02 08:00 in Stockholm: every run starts at the same simulated moment.
START = 1772434800.0
# Runs per phase at most: this many, plus `faulty_runs` in a faulty run.
MAX_RUNS_PER_PHASE = 60
# With --events: at most this many targeted runs per phase (each takes every object due).
MAX_TARGETED_PER_PHASE = 60
TARGETED_TASK = "realtime.tasks.integration_sync_objects"
BOUNDARIES_PER_ORDER = 6
ANSWERS = {
    "fortnox": ChannelAnswers(
        server_error=b'{"ErrorInformation":{"error":1,"message":"Ett internt fel uppstod.",'
        b'"code":2000001}}',
        rate_limited=b'{"message":"Too many requests, try again later."}',
    ),
    "ongoing": ChannelAnswers(
        server_error=b'{"Message":"An error has occurred."}',
        rate_limited=b'{"Message":"Too many requests."}',
    ),
}


def channel_of(request) -> str | None:
    """The sandbox a request goes to; None for Fortnox's OAuth endpoints, which are never faulted
    (see README: what the harness does not simulate)."""
    path = request.path_url
    if "/sandbox/fortnox/oauth-v1/" in path:
        return None
    if "/sandbox/fortnox/" in path:
        return "fortnox"
    if "/sandbox/ongoing/" in path:
        return "ongoing"
    return None


@dataclass
class Options:
    size: Size
    seed: int = 1
    faulty_runs: int = 30
    kills: int = 4
    plan: FaultPlan = field(default_factory=FaultPlan)
    # Keep a copy of each run's final SQLite database in this directory, to look into.
    keep: Path | None = None
    # The simulated moment the prepared book is ready: both runs start there.
    prepared_at: float = START
    # The event path (events.py): the consumer, the event server and the webhooks run beside
    # the scheduled runs; the faulty run gets `event_plan`'s faults, the clean one none.
    events: bool = False
    event_plan: EventPlan = FAULTY


@dataclass
class PhaseResult:
    name: str
    runs: int = 0
    faulty_runs: int = 0
    first_run_boundaries: int = 0
    targeted_runs: int = 0
    converged: bool = False
    # What the audit found at the end of the phase: {"duplicate invoices": [names], …}.
    problems: dict = field(default_factory=dict)


@dataclass
class RunResult:
    label: str
    faults: bool
    phases: list[PhaseResult] = field(default_factory=list)
    calls: dict = field(default_factory=dict)
    faulty_calls: dict = field(default_factory=dict)
    kills: list[str] = field(default_factory=list)
    reaped: int = 0
    worker_crashes: int = 0
    events: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)
    audit: dict = field(default_factory=dict)
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    simulated_seconds: float = 0.0
    # With --events: what the event path did (events.EventPath.figures) and, per trigger, how
    # many objects the runs created or updated.
    event_figures: dict = field(default_factory=dict)
    written: dict = field(default_factory=dict)
    # Per process, the objects the scheduled runs created or updated under faults and after the
    # outage: {"fulfilment": {"under faults": 30, "after": 4}, …} (runs whose worker was killed
    # are not counted: their run records no counts).
    process_writes: dict = field(default_factory=dict)

    @property
    def runs(self) -> int:
        return sum(phase.runs for phase in self.phases)

    @property
    def converged(self) -> bool:
        return all(phase.converged for phase in self.phases)


_test_environment = False


@contextmanager
def databases():
    """One migrated database that each run copies (runs_database): a file for SQLite (forked
    workers must share it), `<NAME>_run` on PostgreSQL (its copies `<NAME>_run_<label>`)."""
    global _test_environment
    if not _test_environment:
        setup_test_environment()
        _test_environment = True
    test_settings = connection.settings_dict.setdefault("TEST", {})
    with tempfile.TemporaryDirectory(prefix="chaos-") as directory:
        if connection.vendor == "sqlite":
            test_settings["NAME"] = str(Path(directory) / "template.sqlite3")
            # A killed process loses nothing SQLite handed to the OS; only the OS crashing
            # would, and these databases are thrown away anyway: no fsync.
            connection.settings_dict["OPTIONS"]["init_command"] = (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
            )
        else:
            test_settings["NAME"] = f"{connection.settings_dict['NAME']}_run"
        # Tables straight from the models, as pytest's --nomigrations makes them: the same
        # schema (CI's makemigrations --check keeps models and migrations equal), and no
        # migration of ours moves data. Seconds instead of most of a minute.
        test_settings["MIGRATE"] = False
        settings.ONGOING_LOCK_DIR = Path(directory) / "locks"
        original = connection.settings_dict["NAME"]
        name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            yield name
        finally:
            connection.creation.destroy_test_db(original, verbosity=0)


LABELS = ("clean", "faulty")


def clone_databases(labels=LABELS) -> None:
    """A copy of the prepared database for each run, made before any run starts (PostgreSQL
    copies a template only while nobody is connected to it)."""
    connection.close()  # SQLite folds its WAL into the file first
    for label in labels:
        connection.creation.clone_test_db(suffix=label, verbosity=0, autoclobber=True)


@contextmanager
def run_database(label: str):
    """Work in the run's copy of the prepared database; drop it afterwards."""
    template = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = connection.creation.get_test_db_clone_settings(label)["NAME"]
    locks = settings.ONGOING_LOCK_DIR
    settings.ONGOING_LOCK_DIR = locks / label  # runs side by side keep their own goods owner
    # ... and their own slow-call slots (the slow lane): a slot the clean run's worker holds
    # must not keep the faulty run's company out of its runs, nor the other way round.
    slots = settings.HTTP_SLOW_CALL_DIR
    settings.HTTP_SLOW_CALL_DIR = Path(slots) / f"chaos-{label}"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = template
        settings.ONGOING_LOCK_DIR = locks
        settings.HTTP_SLOW_CALL_DIR = slots
        connection.creation.destroy_test_db(suffix=label, verbosity=0)


class Broker:
    """The Celery queue the tick publishes to (the in-memory transport of the test settings)."""

    def __init__(self):
        self.connection = celery_app.connection_for_read()
        self.queue = self.connection.SimpleQueue(celery_app.conf.task_default_queue)

    def get(self):
        try:
            return self.queue.get(block=False)
        except Empty:
            return None

    def get_scheduled(self, events: "EventPath | None"):
        """The next message that is not the targeted task: the harness runs that one itself
        whenever objects are due (events.py), so each of its messages would find nothing."""
        while (message := self.get()) is not None:
            if message.headers["task"] != TARGETED_TASK:
                return message
            message.ack()
            if events is not None:
                events.targeted_messages_dropped += 1
        return None

    def close(self) -> None:
        self.queue.close()
        self.connection.release()


class Operations:
    """Beat, broker and workers for one integration."""

    def __init__(
        self, *, world, worker, clock, tally, options, faults, result, scenario, events=None
    ):
        self.events: EventPath | None = events
        self.world = world
        self.worker = worker
        self.clock = clock
        self.tally = tally
        self.options = options
        self.faults = faults
        self.result = result
        self.scenario = scenario
        self.kill_rng = random.Random(f"kills:{options.seed}")
        self.meanwhile_rng = random.Random(f"meanwhile:{options.seed}")
        self.broker = Broker()
        self.executions = 0

    def beat(self) -> None:
        """Move the clock to the next minute at which the integration is due, and tick."""
        integration = self.world.integration
        integration.refresh_from_db(fields=["next_run_at"])
        due = integration.next_run_at.timestamp() if integration.next_run_at else self.clock.now()
        self.clock.advance_to(max(self.clock.now(), due))
        self.clock.advance_to((int(self.clock.now()) // 60 + 1) * 60)
        self.result.reaped += integrations_tick().reaped

    def execute(self, message, *, faults: bool, kill_at: int | None, meanwhile=()):
        """Deliver one message to a worker (again and again while workers die). `meanwhile`:
        (boundary, action) pairs done while it runs. Returns the run it made (None when it made
        none), the first worker's outcome, and per action 0 (not done), DID or NOTHING_TO_DO."""
        task = celery_app.tasks[message.headers["task"]]
        args, kwargs, _embed = message.decode()
        run, outcome, flags = self.run_task(
            task, args=args, kwargs=kwargs, faults=faults, kill_at=kill_at, meanwhile=meanwhile
        )
        if outcome.killed:
            message.requeue()
            rest = [pair for pair, flag in zip(meanwhile, flags, strict=True) if not flag]
            _run, _outcome, rest_flags = self.execute(
                self.broker.get_scheduled(self.events), faults=faults, kill_at=None, meanwhile=rest
            )
            later = iter(rest_flags)
            return None, outcome, [flag or next(later) for flag in flags]
        message.ack()
        return run, outcome, flags

    def run_task(self, task, *, args, kwargs, faults: bool, kill_at: int | None, meanwhile=()):
        """One execution of a task by a forked worker; the run it made (None when it made none
        or died), its outcome, and per `meanwhile` action 0, DID or NOTHING_TO_DO."""
        latest = SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        before = self.tally.snapshot()
        self.executions += 1
        outcome = self.worker.execute(
            task,
            args=args,
            kwargs=kwargs,
            seed_key=f"{self.options.seed}:{self.executions}",
            faults=faults,
            kill_at=kill_at,
            meanwhile=meanwhile,
        )
        self._count_calls(before, faulty=faults)
        flags = list(outcome.meanwhile) or [0] * len(meanwhile)
        if outcome.exit_code not in (0, -1):
            self.result.worker_crashes += 1
        run = SyncRun.objects.filter(pk__gt=latest).order_by("pk").first()
        if outcome.killed:
            self.result.kills.append(outcome.kill_point)
            return None, outcome, flags
        return run, outcome, flags

    def _count_calls(self, before: dict, *, faulty: bool) -> None:
        after = self.tally.snapshot()
        for channel, counts in after.items():
            for kind, number in counts.items():
                delta = number - before[channel][kind]
                for target in (self.result.calls, *([self.result.faulty_calls] if faulty else [])):
                    bucket = target.setdefault(channel, dict.fromkeys(counts, 0))
                    bucket[kind] += delta

    def converge(self, phase: PhaseResult, *, kills: int, meanwhile=()) -> None:
        """Run until a run is quiet. In a faulty run, the first `faulty_runs` runs are under
        faults; `kills` of those runs' workers are killed. `meanwhile`
        are (label, action) pairs the warehouse does during the phase's first run, each at a
        seeded boundary, in order (a killed run leaves the rest to the next).

        With the event path (--events), before each scheduled run the webhooks are delivered and
        the consumer takes its backlog (events.EventPath.stage), and the targeted task runs while
        objects are due and no run holds the integration; a phase is quiet only when a scheduled
        run is quiet and no object is left due."""
        reference = BOUNDARIES_PER_ORDER * self.options.size.orders
        self.pending_actions = [
            (label, self.meanwhile_rng.randint(1, reference) if when is None else when, action)
            for label, when, action in meanwhile
        ]
        self.kill_at = self._kill_point(phase) if kills else None
        self.kills_to_do = kills
        faulty = self.faults
        most_runs = MAX_RUNS_PER_PHASE + (self.options.faulty_runs if self.faults else 0)
        idle = 0
        first_stage = True
        events = self.events
        while phase.runs < most_runs and idle < 3:
            faulty = faulty and phase.faulty_runs < self.options.faulty_runs
            if events is not None:
                events.stage(first_of_phase=first_stage)
                first_stage = False
                if events.pending() and phase.targeted_runs < MAX_TARGETED_PER_PHASE:
                    if not SyncRun.objects.filter(
                        integration=self.world.integration, status=SyncRun.Status.RUNNING
                    ).exists():
                        self._targeted(phase, faulty=faulty)
                        continue
                    # A killed worker's run holds the integration until the scheduler closes it
                    # (the beat below): the task's retries would all find it busy.
                    events.targeted_skipped_busy += 1
            self.beat()
            message = self.broker.get_scheduled(events)
            if message is None:
                idle += 1  # nothing was due: the integration is no longer active
                continue
            idle = 0
            armed = self.kill_at if faulty else None
            run, outcome, flags = self.execute(
                message, faults=faulty, kill_at=armed, meanwhile=self._actions()
            )
            acted = self._after(phase, outcome, flags, armed=armed)
            phase.runs += 1
            phase.faulty_runs += int(faulty)
            if phase.runs == 1:
                phase.first_run_boundaries = outcome.boundaries
            if outcome.killed or run is None:
                continue
            totals = run.totals
            written = totals["created"] + totals["updated"]
            self._count_writes(run, faulty=faulty)
            quiet = run.status == SyncRun.Status.SUCCEEDED and not written and not acted
            if quiet and (events is None or not events.pending()):
                phase.converged = True
                return

    def _count_writes(self, run, *, faulty: bool) -> None:
        for process, counts in run.counts.items():
            bucket = self.result.process_writes.setdefault(process, {"under faults": 0, "after": 0})
            number = counts.get("created", 0) + counts.get("updated", 0)
            bucket["under faults" if faulty else "after"] += number

    def _actions(self) -> list:
        return [(when, action) for _label, when, action in self.pending_actions]

    def _after(self, phase: PhaseResult, outcome, flags, *, armed) -> bool:
        """Count the warehouse's actions done during a run, and choose the next kill point.
        Returns whether the warehouse changed something the run may not have seen."""
        for (label, _when, _action), flag in zip(self.pending_actions, flags, strict=True):
            if flag == DID:
                self.scenario.count(label)
        self.pending_actions = [
            item for item, flag in zip(self.pending_actions, flags, strict=True) if not flag
        ]
        if outcome.killed:
            self.kills_to_do -= 1
            self.kill_at = (
                self._kill_point(phase, within=outcome.boundaries) if self.kills_to_do else None
            )
        elif armed is not None:
            # The run ended before the chosen point: choose again within what it crossed.
            self.kill_at = self.kill_rng.randint(1, max(1, outcome.boundaries))
        return DID in flags

    def _targeted(self, phase: PhaseResult, *, faulty: bool) -> None:
        """The targeted task once every waiting object is due (the debounce has passed), by a
        forked worker, under the same faults and kills as the scheduled runs. A killed one is
        not delivered again: its redelivery would find the integration held by the dead run."""
        self.clock.advance_to(self.events.due_at() or self.clock.now())
        armed = self.kill_at if faulty else None
        _run, outcome, flags = self.run_task(
            celery_app.tasks[TARGETED_TASK],
            args=(self.world.integration.pk,),
            kwargs={},
            faults=faulty,
            kill_at=armed,
            meanwhile=self._actions(),
        )
        self._after(phase, outcome, flags, armed=armed)
        phase.targeted_runs += 1
        self.events.targeted_runs += 1

    def _kill_point(self, phase: PhaseResult, *, within: int | None = None) -> int:
        """A boundary of the next run to die at. A run of a phase crosses about six boundaries
        per order of the book when nothing fails (measured: 6.4 to 7.4 in the first four phases),
        fewer under faults; a point the run does not reach is drawn again within the boundaries
        it did cross, for the run after it."""
        reference = within or BOUNDARIES_PER_ORDER * self.options.size.orders
        return self.kill_rng.randint(1, max(1, reference))


def _cpu() -> float:
    """CPU seconds of this process and of its workers that have ended."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _transport(plan: FaultPlan, tally: Tally, seed: int):
    injector = FaultInjector(plan, tally, seed=str(seed))
    made = []

    def wrap(router):
        made.append(FaultyTransport(router, injector, channel_of=channel_of, answers=ANSWERS))
        return made[0]

    return injector, made, wrap


def prepare_book(options: Options) -> None:
    """In the template database: both sandboxes seeded, the company connected, its book written.
    Both runs start from copies of it. Sets options.prepared_at, the simulated moment it ends."""
    clock = SharedClock(START)
    _injector, _made, wrap = _transport(options.plan, Tally(CHANNELS), options.seed)
    with environment(clock=clock, wrap=wrap):
        prepare()
        Scenario(world(), size=options.size, seed=options.seed, stream="book").setup()
    options.prepared_at = clock.now()
    connection.close()


def run_scenario(options: Options, *, faults: bool, label: str) -> RunResult:
    started = time.monotonic()
    cpu_started = _cpu()
    random.seed(f"beat:{options.seed}")  # the schedule's jitter
    result = RunResult(label=label, faults=faults)
    clock = SharedClock(options.prepared_at)
    tally = Tally(CHANNELS, store=_shared_store(len(CHANNELS) * len(Tally.KINDS)))
    injector, transports, wrap = _transport(options.plan, tally, options.seed)
    with ExitStack() as stack:
        stack.enter_context(run_database(label))
        if options.events:
            stack.enter_context(_shared_cache(label))
        stack.enter_context(environment(clock=clock, wrap=wrap))
        _run_phases(
            options,
            faults=faults,
            label=label,
            result=result,
            clock=clock,
            tally=tally,
            worker=ForkedWorker(transport=transports[0], injector=injector),
        )
    result.wall_seconds = time.monotonic() - started
    result.cpu_seconds = _cpu() - cpu_started
    return result


@contextmanager
def _shared_cache(label: str):
    """A file cache for the run: the event server reads the fault knobs the harness sets, and
    the cache is the one thing Django keeps per process."""
    with tempfile.TemporaryDirectory(prefix=f"chaos-cache-{label}-") as directory:
        backend = "django.core.cache.backends.filebased.FileBasedCache"
        with override_settings(CACHES={"default": {"BACKEND": backend, "LOCATION": directory}}):
            yield


def _run_phases(options, *, faults, label, result, clock, tally, worker) -> None:
    """The phases of one run, in its database and sandboxes; fills `result`."""
    current = world()
    scenario = Scenario(current, size=options.size, seed=options.seed)
    events = None
    if options.events:
        events = EventPath(
            world=current,
            plan=options.event_plan if faults else EventPlan(),
            seed=options.seed,
            phases=len(PHASES),
        )
    operations = Operations(
        world=current,
        worker=worker,
        clock=clock,
        tally=tally,
        options=options,
        faults=faults,
        result=result,
        scenario=scenario,
        events=events,
    )
    kills_left = options.kills if faults else 0
    try:
        if events is not None:
            events.start()
        for index, (name, play) in enumerate(PHASES):
            if events is not None:
                events.before_play(phase_index=index)
            meanwhile = play(scenario) or []
            phase = PhaseResult(name=name)
            result.phases.append(phase)
            # The kills go to the first phases' first runs, where most work is in flight.
            phases_left = len(PHASES) - index
            kills = -(-kills_left // phases_left) if kills_left else 0
            before = len(result.kills)
            operations.converge(phase, kills=kills, meanwhile=meanwhile)
            kills_left -= len(result.kills) - before
            # Quiet means caught up: nothing may be missing or doubled at any phase's end,
            # not only at the last (a later phase could mend or hide it).
            found = state.audit(company=current.company, goods_owner=current.goods_owner)
            phase.problems = state.problems(found)
    finally:
        operations.broker.close()
        if events is not None:
            events.stop()
    if events is not None:
        result.event_figures = events.figures()
    result.written = _written()
    result.events = scenario.events
    result.simulated_seconds = clock.now() - options.prepared_at
    result.state = state.canonical_state(company=current.company, goods_owner=current.goods_owner)
    result.audit = state.audit(company=current.company, goods_owner=current.goods_owner)
    if options.keep and connection.vendor == "sqlite":
        options.keep.mkdir(parents=True, exist_ok=True)
        copy = options.keep / f"{label}.sqlite3"
        copy.unlink(missing_ok=True)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM INTO %s", [str(copy)])


def _written() -> dict:
    """Objects created or updated, by the trigger of the run that wrote them."""
    written: dict[str, int] = {}
    for run in SyncRun.objects.all():
        totals = run.totals
        written[run.trigger] = written.get(run.trigger, 0) + totals["created"] + totals["updated"]
    return written


def run_both(options: Options, *, parallel: bool) -> tuple[RunResult, RunResult]:
    """The clean and the faulty run, one after the other or side by side (the faulty one in a
    forked process; both only write their own copy of the database)."""
    clone_databases()
    if not parallel:
        clean = run_scenario(options, faults=False, label="clean")
        return clean, run_scenario(options, faults=True, label="faulty")
    with tempfile.TemporaryDirectory(prefix="chaos-faulty-") as directory:
        handover = Path(directory) / "faulty.pickle"
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                result = run_scenario(options, faults=True, label="faulty")
                handover.write_bytes(pickle.dumps(result))
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                os._exit(code)
        clean = run_scenario(options, faults=False, label="clean")
        _pid, status = os.waitpid(pid, 0)
        if status or not handover.exists():
            raise RuntimeError(f"The faulty run's process failed (status {status}).")
        return clean, pickle.loads(handover.read_bytes())  # noqa: S301 - our own child's file


def _shared_store(size: int):
    import ctypes
    import multiprocessing

    return multiprocessing.RawArray(ctypes.c_long, size)


def fault_share(result: RunResult) -> float:
    calls = sum(counts["calls"] for counts in result.faulty_calls.values())
    return sum(faulted(counts) for counts in result.faulty_calls.values()) / calls if calls else 0.0
