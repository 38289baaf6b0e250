"""Workers that can die the way a real one does: each task runs in a forked child process (as in
Celery's prefork pool) over the real, committed database, and a child chosen to die sends itself
SIGKILL at a chosen point: no `finally`, no `except`, no atexit runs, open transactions are rolled
back by the database, and what was committed stays — exactly what an OOM kill or `kill -9` leaves.

Where it dies is deterministic, so a seed reproduces a run: the child counts the boundaries it
crosses and dies at the k-th. A boundary is

- a write the engine's database connection executed outside any transaction (it is committed:
  dying right after it differs from dying right before the next one; a read changes nothing, so
  dying after it is dying before the next statement), and
- an HTTP call to a sandbox: before it is sent, and after the server has handled (and committed)
  it but before the client has read the answer.

Statements inside an atomic block are not boundaries: dying there rolls the whole block back,
which is the same as dying at the boundary before the block. Calls the server makes to its own
database are not boundaries either: killing our worker does not kill Fortnox or Ongoing.

Between parent and children only shared memory is used (the simulated clock, the fault tally, the
boundary count and the kill point's description), so it survives the SIGKILL."""

import ctypes
import multiprocessing
import os
import re
import signal
import sys
import traceback
from dataclasses import dataclass

from django.db import connection, connections

KILL_POINT_CHARS = 300
# At most this many actions of someone else's per worker; what each came to.
MEANWHILE = 64
DID = 1
NOTHING_TO_DO = 2
# A statement that changes data (not a read, nor the BEGIN that opens a transaction).
WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


class SharedClock:
    """Simulated time shared by the parent and its workers: sleeping moves it forward, and the
    time a worker reached is seen by the parent even when the worker was killed."""

    def __init__(self, start: float):
        self._value = multiprocessing.RawValue(ctypes.c_double, start)
        self.slept = 0.0

    def now(self) -> float:
        return self._value.value

    def sleep(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        self.slept += seconds
        self._value.value += seconds

    def advance_to(self, moment: float) -> None:
        self._value.value = max(self._value.value, moment)


class KillSwitch:
    """Counts boundaries in a worker, does what someone else does meanwhile when its moment
    comes, and kills the worker at the `kill_at`-th boundary.

    `meanwhile` holds (when, action) pairs; an action returns whether it did anything. `when` is
    a boundary number, or a piece of a path: the action is done just before the worker sends a
    request whose path contains it (the worst moment for it, e.g. right before the run
    acknowledges what it read)."""

    def __init__(self, *, kill_at: int | None, transport, report, meanwhile=()):
        self.kill_at = kill_at
        self.transport = transport
        self.report = report
        self.meanwhile = list(meanwhile)
        self.acting = False
        self.count = 0

    def act(self, *, upto: int | None = None, sending: str = "") -> None:
        """Do the actions due at boundary `upto`, or before sending to the path `sending` (all
        that are left when neither is given)."""
        for index, (when, action) in enumerate(self.meanwhile):
            if self.report.done[index]:
                continue
            if isinstance(when, str):
                if upto is not None and not (sending and when in sending):
                    continue
            elif upto is not None and when > upto:
                continue
            self.acting = True
            try:
                self.report.done[index] = DID if action() else NOTHING_TO_DO
            finally:
                self.acting = False

    def _cross(self, where: str, *, sending: str = "") -> None:
        if self.acting:
            return
        self.count += 1
        self.report.boundaries.value = self.count
        self.act(upto=self.count, sending=sending)
        if self.kill_at is not None and self.count >= self.kill_at:
            self.report.kill_point.value = f"#{self.count} {where}"[:KILL_POINT_CHARS].encode()
            os.kill(os.getpid(), signal.SIGKILL)

    def http(self, event: str, request) -> None:
        if connection.in_atomic_block:
            return
        path = request.path_url.split("?")[0]
        moment = "before sending" if event == "send" else "answer in flight:"
        self._cross(f"{moment} {request.method} {path}", sending=path if event == "send" else "")

    def statement(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not self.transport.in_server and not connection.in_atomic_block and WRITE.match(sql):
            self._cross(f"after committing: {sql.split(' WHERE ')[0][:160]}")
        return result


class WorkerReport:
    """What a worker leaves behind in shared memory."""

    def __init__(self):
        self.boundaries = multiprocessing.RawValue(ctypes.c_long, 0)
        self.kill_point = multiprocessing.RawArray(ctypes.c_char, KILL_POINT_CHARS + 1)
        self.done = multiprocessing.RawArray(ctypes.c_byte, MEANWHILE)

    def clear(self) -> None:
        self.boundaries.value = 0
        self.kill_point.value = b""
        for index in range(MEANWHILE):
            self.done[index] = 0


@dataclass(frozen=True)
class Outcome:
    killed: bool
    exit_code: int
    boundaries: int
    kill_point: str
    # Per action of `meanwhile`: 0 not done (the worker died first), DID or NOTHING_TO_DO.
    meanwhile: tuple[int, ...] = ()


class ForkedWorker:
    """Runs one Celery task per forked child, as the prefork pool does."""

    def __init__(self, *, transport, injector):
        self.transport = transport
        self.injector = injector
        self.report = WorkerReport()

    def execute(
        self,
        task,
        *,
        args,
        kwargs,
        seed_key: str,
        faults: bool,
        kill_at: int | None,
        meanwhile=(),
    ) -> Outcome:
        """Run the task in a child. `meanwhile` are (when, action) pairs (see KillSwitch): what
        someone else (the warehouse staff) does while the task runs; the actions whose moment
        does not come are done when it ends."""
        if len(meanwhile) > MEANWHILE:
            raise ValueError(f"At most {MEANWHILE} actions per run.")
        # The child must open its own database connection: one socket shared by two processes
        # corrupts both sessions.
        connections.close_all()
        self.report.clear()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                self.injector.reseed(seed_key)
                self.injector.enabled = faults
                switch = KillSwitch(
                    kill_at=kill_at,
                    transport=self.transport,
                    report=self.report,
                    meanwhile=meanwhile,
                )
                self.transport.on_boundary = switch.http
                with connection.execute_wrapper(switch.statement):
                    result = task.apply(args=args, kwargs=kwargs)
                switch.act()
                connections.close_all()
                if result.failed():
                    print(result.traceback, file=sys.stderr)
                    code = 1
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _pid, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        return Outcome(
            killed=killed,
            exit_code=os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1,
            boundaries=self.report.boundaries.value,
            kill_point=self.report.kill_point.value.decode(errors="replace"),
            meanwhile=tuple(self.report.done[: len(meanwhile)]),
        )
