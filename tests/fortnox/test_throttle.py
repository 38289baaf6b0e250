"""The per-Fortnox-tenant throttle: 24 requests per 5 s, in simulated time."""

import random
import uuid

import pytest
import redis
from django.conf import settings

from fortnox.client import FortnoxClient
from fortnox.sandbox.auth import requests_max_in_window
from fortnox.sandbox.models import SandboxApiRequest
from fortnox.throttle import LocalThrottle, RedisThrottle
from tests.fortnox.conftest import FakeClock


def max_in_window(times: list[float], window: float = 5.0) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - window:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_the_client_never_sends_a_26th_request_in_any_5_seconds(connection, sandbox):
    client = FortnoxClient.for_tenant(connection.tenant, sleep=sandbox.clock.sleep)
    for _ in range(150):
        client.company_information()
    # The sandbox counts what it received (the consent's request included), in its own clock.
    assert requests_max_in_window(company=sandbox.company) <= 24
    assert not SandboxApiRequest.objects.filter(limited=True).exists()
    # ...and we did not crawl: 151 requests at 24 per 5 s take a little over 30 simulated seconds.
    assert 25 <= sum(sandbox.clock.slept) <= 35


def test_without_our_throttle_the_sandbox_answers_429_and_the_client_waits(connection, sandbox):
    loose = LocalThrottle(
        limit=1000, window=5.0, clock=sandbox.clock.now, sleep=sandbox.clock.sleep
    )
    client = FortnoxClient.for_tenant(connection.tenant, throttle=loose, sleep=sandbox.clock.sleep)
    for _ in range(60):
        client.company_information()
    limited = SandboxApiRequest.objects.filter(limited=True)
    assert limited.exists()  # the sandbox enforces 25 per 5 s
    # Every limited request was retried after Retry-After; none was lost.
    accepted = SandboxApiRequest.objects.filter(limited=False, path__endswith="companyinformation")
    assert accepted.count() == 61
    assert max_in_window(list(accepted.values_list("at", flat=True))) <= 25


def test_two_clients_of_one_tenant_share_the_budget(connection, sandbox):
    clients = [
        FortnoxClient.for_tenant(connection.tenant, sleep=sandbox.clock.sleep) for _ in range(3)
    ]
    for index in range(90):
        clients[index % 3].company_information()
    assert requests_max_in_window(company=sandbox.company) <= 24


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_local_throttle_sliding_window_under_random_load(seed):
    rng = random.Random(seed)
    clock = FakeClock()
    throttle = LocalThrottle(limit=24, window=5.0, clock=clock.now, sleep=clock.sleep)
    sent = {"a": [], "b": []}
    for _ in range(400):
        clock.sleep(rng.choice([0, 0, 0, 0.01, 0.1, 0.5, 2]))
        key = rng.choice("ab")
        throttle.acquire(key)
        sent[key].append(clock.now())
    assert max_in_window(sent["a"]) <= 24
    assert max_in_window(sent["b"]) <= 24


def test_keys_are_independent():
    clock = FakeClock()
    throttle = LocalThrottle(limit=24, window=5.0, clock=clock.now, sleep=clock.sleep)
    for _ in range(24):
        throttle.acquire("tenant-1")
        throttle.acquire("tenant-2")
    assert clock.slept == []
    throttle.acquire("tenant-1")
    assert sum(clock.slept) == pytest.approx(5.0)


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (set REDIS_URL)")
def test_redis_throttle_is_shared_between_processes():
    clock = FakeClock()
    client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = f"test:fortnox:throttle:{uuid.uuid4().hex}:"
    web = RedisThrottle(
        client=client, limit=24, window=5.0, clock=clock.now, sleep=clock.sleep, prefix=prefix
    )
    worker = RedisThrottle(
        client=client, limit=24, window=5.0, clock=clock.now, sleep=clock.sleep, prefix=prefix
    )
    sent = []
    for index in range(100):
        (web if index % 2 else worker).acquire("1556677")
        sent.append(clock.now())
        clock.sleep(0.01)
    assert max_in_window(sent) <= 24
    assert sum(clock.slept) > 15


def test_redis_throttle_falls_back_to_local_when_redis_is_away():
    clock = FakeClock()

    class Unreachable:
        def register_script(self, script):
            def run(**kwargs):
                raise redis.ConnectionError("Connection refused")

            return run

    throttle = RedisThrottle(
        client=Unreachable(), limit=24, window=5.0, clock=clock.now, sleep=clock.sleep
    )
    sent = []
    for _ in range(50):
        throttle.acquire("x")
        sent.append(clock.now())
    assert max_in_window(sent) <= 24
