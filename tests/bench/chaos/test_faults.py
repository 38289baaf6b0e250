"""The fault injector decides per call from its seed alone, fails about the share its plan says,
and the transport applies each decision at the right moment: before the server sees the call,
or after it committed."""

import pytest
import requests

from bench.chaos.faults import (
    CALLS,
    LOST_RESPONSE,
    RATE_LIMITED,
    SERVER_ERROR,
    TIMEOUT,
    ChannelAnswers,
    FaultInjector,
    FaultPlan,
    FaultyTransport,
    Tally,
    faulted,
)

CHANNELS = ("a", "b")


def injector(plan=None, *, seed="1") -> FaultInjector:
    made = FaultInjector(plan or FaultPlan(), Tally(CHANNELS), seed=seed)
    made.enabled = True
    return made


def decisions(made: FaultInjector, count: int, channel="a") -> list[str | None]:
    return [made.decide(channel) for _ in range(count)]


def test_the_same_seed_gives_the_same_faults_and_another_seed_others():
    assert decisions(injector(seed="7"), 500) == decisions(injector(seed="7"), 500)
    assert decisions(injector(seed="7"), 500) != decisions(injector(seed="8"), 500)
    reseeded = injector(seed="x")
    decisions(reseeded, 50)
    reseeded.reseed("7")
    assert decisions(reseeded, 500) == decisions(injector(seed="7"), 500)


def test_the_share_of_faulty_calls_follows_the_plan_and_every_kind_occurs():
    made = injector(seed="share")
    decisions(made, 20000)
    counts = made.tally.snapshot()["a"]
    share = faulted(counts) / counts[CALLS]
    assert counts[CALLS] == 20000
    assert abs(share - FaultPlan().expected_share) < 0.03
    assert share >= 0.2
    assert all(counts[kind] > 500 for kind in (SERVER_ERROR, TIMEOUT, RATE_LIMITED, LOST_RESPONSE))


def test_a_429_burst_answers_the_next_calls_of_its_channel_only():
    made = injector(FaultPlan(burst_start=0.7, burst_length=(4, 4)), seed="burst")
    while made.decide("a") != RATE_LIMITED:
        pass
    made.plan = FaultPlan(server_error=0, timeout=0, lost_response=0, burst_start=0)

    assert made.decide("b") is None
    assert decisions(made, 4) == [RATE_LIMITED, RATE_LIMITED, RATE_LIMITED, None]
    assert 1 <= made.retry_after["a"] <= 4


def test_a_disabled_injector_counts_the_calls_and_faults_none():
    made = injector()
    made.enabled = False
    assert set(decisions(made, 300)) == {None}
    assert made.tally.get("a", CALLS) == 300


def test_the_plan_can_be_scaled_and_must_leave_calls_alone():
    assert FaultPlan().scaled(2).expected_share == pytest.approx(FaultPlan().expected_share * 2)
    with pytest.raises(ValueError):
        FaultPlan(server_error=0.5, timeout=0.5)


class Server:
    def __init__(self):
        self.handled = 0

    def __call__(self, request):
        self.handled += 1
        return 200, {}, b"{}"


class Request:
    url = "http://x/a/thing"
    path_url = "/a/thing"
    method = "PUT"


def transport(kind):
    made = injector()
    made.decide = lambda channel: made.tally.add(channel, CALLS) or kind
    server = Server()
    moments = []
    faulty = FaultyTransport(
        server,
        made,
        channel_of=lambda request: "a",
        answers={"a": ChannelAnswers(server_error=b"boom", rate_limited=b"slow")},
    )
    faulty.on_boundary = lambda event, request: moments.append((event, server.handled))
    return faulty, server, moments


def test_a_timeout_never_reaches_the_server():
    faulty, server, moments = transport(TIMEOUT)
    with pytest.raises(requests.ConnectionError):
        faulty(Request())
    assert server.handled == 0
    assert moments == [("send", 0)]


def test_a_lost_response_reaches_the_server_and_the_client_sees_no_answer():
    faulty, server, moments = transport(LOST_RESPONSE)
    with pytest.raises((requests.ConnectionError, requests.Timeout)):
        faulty(Request())
    assert server.handled == 1
    assert moments == [("send", 0), ("answered", 1)]


def test_a_500_and_a_429_are_answered_in_the_servers_place():
    faulty, server, _moments = transport(SERVER_ERROR)
    assert faulty(Request())[0] == 500
    faulty, server, _moments = transport(RATE_LIMITED)
    status, headers, body = faulty(Request())
    assert (status, body) == (429, b"slow")
    assert int(headers["Retry-After"]) >= 1
    assert server.handled == 0


def test_a_call_let_through_is_answered_by_the_server():
    faulty, server, moments = transport(None)
    assert faulty(Request()) == (200, {}, b"{}")
    assert server.handled == 1
    assert moments == [("send", 0), ("answered", 1)]


def test_a_call_of_no_channel_is_never_faulted_nor_a_boundary():
    faulty, server, moments = transport(TIMEOUT)
    faulty.channel_of = lambda request: None
    assert faulty(Request())[0] == 200
    assert server.handled == 1
    assert moments == []
