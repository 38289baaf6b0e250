"""Where a worker can die: after a committed write or around an HTTP call, never inside a
transaction (it rolls back whole) nor inside the server. (The real fork and SIGKILL run in
test_convergence.py.)"""

import signal

import pytest
from django.db import connection, transaction

from bench.chaos.workers import DID, NOTHING_TO_DO, KillSwitch, SharedClock, WorkerReport
from tenants.models import Tenant


class Killed(Exception):
    pass


class Transport:
    in_server = False


class Request:
    method = "PUT"
    path_url = "/sandbox/ongoing/w/api/v1/orders?goodsOwnerId=1"


@pytest.fixture
def kills(monkeypatch):
    seen = []

    def kill(pid, sig):
        seen.append(sig)
        raise Killed

    monkeypatch.setattr("bench.chaos.workers.os.kill", kill)
    return seen


def switch(kill_at=None, transport=None) -> KillSwitch:
    return KillSwitch(kill_at=kill_at, transport=transport or Transport(), report=WorkerReport())


@pytest.mark.django_db(transaction=True)
def test_committed_writes_and_calls_are_boundaries_reads_and_transactions_are_not(kills):
    counting = switch()
    with connection.execute_wrapper(counting.statement):
        Tenant.objects.create(name="A", organisation_number="1")  # one committed write
        list(Tenant.objects.all())  # a read
        with transaction.atomic():
            Tenant.objects.create(name="B", organisation_number="2")  # rolled back if killed
    counting.http("send", Request())
    counting.http("answered", Request())
    with transaction.atomic():
        counting.http("send", Request())

    assert counting.count == 3
    assert counting.report.boundaries.value == 3
    assert kills == []


@pytest.mark.django_db(transaction=True)
def test_the_servers_own_writes_are_not_boundaries(kills):
    transport = Transport()
    counting = switch(transport=transport)
    transport.in_server = True
    with connection.execute_wrapper(counting.statement):
        Tenant.objects.create(name="A", organisation_number="1")
    assert counting.count == 0


@pytest.mark.django_db(transaction=True)
def test_the_worker_dies_at_the_chosen_boundary_and_says_where(kills):
    dying = switch(kill_at=2)
    dying.http("send", Request())
    with pytest.raises(Killed):
        dying.http("answered", Request())

    assert kills == [signal.SIGKILL]
    assert dying.report.kill_point.value.decode() == (
        "#2 answer in flight: PUT /sandbox/ongoing/w/api/v1/orders"
    )


def test_the_shared_clock_only_moves_forward():
    clock = SharedClock(100.0)
    clock.sleep(5)
    clock.sleep(-3)
    clock.advance_to(50)
    assert clock.now() == 105.0
    clock.advance_to(200)
    assert clock.now() == 200.0


@pytest.mark.django_db(transaction=True)
def test_the_warehouse_acts_at_its_boundary_or_right_before_its_request_and_once(kills):
    done = []
    acting = switch(kill_at=None)
    acting.meanwhile = [
        (2, lambda: done.append("second boundary") or True),
        ("/orders", lambda: done.append("before the orders call") or False),
        (99, lambda: done.append("never reached") or True),
    ]
    acting.http("answered", Request())
    assert done == []
    acting.http("send", Request())
    assert done == ["second boundary", "before the orders call"]
    acting.http("send", Request())
    acting.act()
    assert done == ["second boundary", "before the orders call", "never reached"]
    assert list(acting.report.done[:3]) == [DID, NOTHING_TO_DO, DID]
