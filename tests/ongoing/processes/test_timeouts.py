"""A Fortnox or a warehouse that does not answer, or rate-limits every call, in a real run: the run
stops at the first timeout (or once it has waited its budget on 429s) instead of going on through
every object, records one clear failure, and the next run continues where it stopped."""

from datetime import timedelta
from unittest import mock
from urllib.parse import urlsplit

import pytest
import requests
from django.utils import timezone

from fortnox.client import FortnoxClient
from integrations.http import ExchangeTimeout, SlowCallSlots, slow_lane_held
from integrations.models import Integration, SyncFailure, SyncRun
from integrations.processes import ARTICLES
from integrations.tasks import integration_sync
from tests.fortnox.conftest import SandboxRouter
from tests.hostile import LEAKS
from tests.ongoing.processes.support import run

pytestmark = pytest.mark.django_db


class Faults:
    """Requests matching `when` are answered by `answer` (an exception to raise, or a
    (status, headers, body) tuple) instead of the sandbox; every request is logged."""

    def __init__(self):
        self.when = None
        self.answer = None
        self.times = None
        self.log: list[tuple[str, str, bool]] = []

    def set(self, when, answer, *, times: int | None = None) -> None:
        self.when, self.answer, self.times = when, answer, times

    def clear(self) -> None:
        self.when = self.answer = None

    def faulted(self) -> list[str]:
        return [f"{method} {path}" for method, path, faulted in self.log if faulted]

    def after_first_fault(self) -> list[str]:
        first = next(i for i, (_m, _p, faulted) in enumerate(self.log) if faulted)
        return [f"{method} {path}" for method, path, _f in self.log[first + 1 :]]


@pytest.fixture
def faults(world, monkeypatch):
    state = Faults()
    real = SandboxRouter.__call__

    def answer(router, request):
        path = urlsplit(request.url).path
        hit = state.when is not None and state.when(request.method, path)
        if hit and state.times is not None:
            state.times -= 1
            hit = state.times >= 0
        state.log.append((request.method, path, bool(hit)))
        if not hit:
            return real(router, request)
        if isinstance(state.answer, Exception):
            raise state.answer
        return state.answer

    monkeypatch.setattr(SandboxRouter, "__call__", answer)
    return state


@pytest.fixture
def rate_limit_sleeps(world):
    """What the Fortnox client slept on 429 answers, on the simulated clock."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        world.clock.sleep(seconds)

    with mock.patch.dict(FortnoxClient.__init__.__kwdefaults__, {"sleep": sleep}):
        yield slept


def open_failures() -> list[SyncFailure]:
    return list(SyncFailure.objects.filter(resolved_at=None))


def assert_clear(failure: SyncFailure, *phrases: str) -> None:
    assert failure.kind != SyncFailure.Kind.BUG, failure.message
    assert len(failure.message) < 400, failure.message
    assert not [word for word in LEAKS if word in failure.message], failure.message
    for phrase in phrases:
        assert phrase in failure.message


@pytest.mark.parametrize(
    "timeout",
    [
        requests.ReadTimeout("read timed out"),
        ExchangeTimeout("no complete answer to PUT /sandbox/ongoing/x/api/v1/articles within 60 s"),
    ],
)
def test_a_warehouse_that_stops_answering_stops_the_run_at_once(world, faults, timeout):
    # The second article sent to the warehouse gets no answer.
    puts = []

    def second_article(method, path):
        if method == "PUT" and path.endswith("/api/v1/articles"):
            puts.append(path)
            return len(puts) == 2
        return False

    faults.set(second_article, timeout)

    result = run(world)

    assert result.status == SyncRun.Status.FAILED
    (faulted,) = faults.faulted()
    assert faulted.startswith("PUT ") and faulted.endswith("/api/v1/articles")
    # Nothing more was asked of either system in this run: not the next article, not the next
    # process.
    assert faults.after_first_fault() == []
    (failure,) = open_failures()
    assert (failure.process, failure.object_type) == (ARTICLES, "process")
    assert_clear(
        failure,
        "Ongoing did not answer PUT articles in time",
        "the run stops here and the next run continues",
    )
    assert "articles: Ongoing did not answer" in result.error

    faults.clear()
    world.catch_up()
    repaired = run(world)

    assert repaired.status == SyncRun.Status.SUCCEEDED, repaired.error
    assert open_failures() == []


def test_a_fortnox_that_never_answers_costs_one_request(world, faults):
    faults.set(lambda method, path: "/sandbox/fortnox/" in path, requests.ReadTimeout("no"))

    result = run(world)

    assert result.status == SyncRun.Status.FAILED
    assert result.fortnox_requests == 1
    assert len(faults.faulted()) == 1
    (failure,) = open_failures()
    assert_clear(failure, "Fortnox did not answer GET", "in time", "the next run continues")


def test_a_fortnox_that_rate_limits_every_call_is_waited_on_at_most_the_budget(
    world, faults, rate_limit_sleeps, settings
):
    settings.FORTNOX_RATE_LIMIT_WAIT_SECONDS = 30
    faults.set(
        lambda method, path: "/sandbox/fortnox/" in path and "oauth" not in path,
        (429, {"Retry-After": "4"}, b'{"message": "Too many requests"}'),
    )

    result = run(world)

    assert result.status == SyncRun.Status.FAILED
    assert sum(rate_limit_sleeps) <= 30
    assert sum(rate_limit_sleeps) > 20  # it did wait, as Retry-After asked, while it could
    failures = open_failures()
    stopped = [f for f in failures if "Fortnox kept rate-limiting" in f.message]
    assert len(stopped) == 1, [f.message for f in failures]
    assert_clear(stopped[0], "the run stops here and the next run continues")
    assert stopped[0].kind == SyncFailure.Kind.RATE_LIMIT
    assert stopped[0].details["exchange"]["status"] == 429
    # The run ended with that failure: no request after it.
    last_fault = max(i for i, (_m, _p, faulted) in enumerate(faults.log) if faulted)
    assert last_fault == len(faults.log) - 1

    faults.clear()
    world.catch_up()
    repaired = run(world)

    assert repaired.status == SyncRun.Status.SUCCEEDED, repaired.error
    assert open_failures() == []


def machine_slots(settings) -> SlowCallSlots:
    return SlowCallSlots(settings.HTTP_SLOW_CALL_DIR, settings.HTTP_SLOW_CALL_SLOTS)


def test_a_company_whose_system_hung_runs_in_the_slow_lane_until_a_run_goes_through(
    world, faults, settings
):
    faults.set(lambda method, path: "/sandbox/fortnox/" in path, requests.ReadTimeout("no"))

    assert run(world).status == SyncRun.Status.FAILED
    world.integration.refresh_from_db()
    assert world.integration.slow_lane_since is not None

    # In the lane, the run holds one of the machine's slots from its first call to its last.
    held_during = []
    faults.clear()
    faults.when = lambda method, path: held_during.append(
        (slow_lane_held(), slow_call_slots_free(settings))
    )
    world.catch_up()
    repaired = run(world)

    assert repaired.status == SyncRun.Status.SUCCEEDED, repaired.error
    assert held_during and set(held_during) == {(True, 0)}
    world.integration.refresh_from_db()
    assert world.integration.slow_lane_since is None  # out of the lane
    assert not slow_lane_held()
    assert slow_call_slots_free(settings) == settings.HTTP_SLOW_CALL_SLOTS


def slow_call_slots_free(settings) -> int:
    """How many of the machine's slots another process could take now."""
    slots = machine_slots(settings)
    taken = [slot for slot in iter(slots.try_acquire, None)]
    for slot in taken:
        slot.release()
    return len(taken)


def test_in_the_slow_lane_a_run_waits_for_a_free_slot_without_taking_a_process(
    world, faults, settings
):
    Integration.objects.filter(pk=world.integration.pk).update(slow_lane_since=timezone.now())
    slots = machine_slots(settings)
    others = [slot for slot in iter(slots.try_acquire, None)]  # every slot taken elsewhere
    before = timezone.now()

    try:
        run_id = integration_sync.apply(kwargs={"integration_id": world.integration.pk}).get()
    finally:
        for slot in others:
            slot.release()

    assert run_id is None
    assert not SyncRun.objects.filter(integration=world.integration).exists()
    assert faults.log == []  # not one request
    world.integration.refresh_from_db()
    retry = timedelta(seconds=settings.SLOW_LANE_RETRY_SECONDS)
    assert before + retry <= world.integration.next_run_at <= timezone.now() + retry
    assert world.integration.slow_lane_since is not None  # still in the lane

    # With a slot free it runs, and a run without a slow stop takes it out of the lane.
    world.catch_up()
    assert run(world).status == SyncRun.Status.SUCCEEDED
    world.integration.refresh_from_db()
    assert world.integration.slow_lane_since is None


def test_a_run_stopped_for_another_reason_does_not_enter_the_slow_lane(world, faults):
    faults.set(
        lambda method, path: "/sandbox/fortnox/" in path,
        (401, {}, b'{"ErrorInformation": {"message": "Unauthorized", "code": 2000311}}'),
    )

    result = run(world)

    # The run did stop on Fortnox refusing us, a failure that stops the run but is not slowness.
    assert result.status == SyncRun.Status.FAILED
    assert [f.kind for f in open_failures()] == [SyncFailure.Kind.AUTH]
    world.integration.refresh_from_db()
    assert world.integration.slow_lane_since is None
