"""The base HTTP session, against a real local server: redirects are never followed, only a GET
is tried again after the server dropped the connection (a write is never sent twice, a GET whose
answer timed out neither), and no exchange outlives its deadline however slowly the server
trickles its answer."""

import gzip
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from integrations.http import (
    DEFAULT_TIMEOUT,
    RETRY_AFTER_CEILING,
    USER_AGENT,
    ExchangeTimeout,
    HardenedSession,
    ResponseTooLarge,
    SlowCallSlots,
    UnreadableBody,
    exchange_record,
    json_body,
    retry_after_seconds,
    slow_lane_enter,
    slow_lane_held,
    slow_lane_leave,
)

LIMIT = 1024 * 1024
HUGE = 32 * LIMIT


# How long a slow answer of the server below goes on at most: far past every deadline of the
# tests, so a deadline that does not work fails the test instead of hanging it.
SLOW_FOR = 20.0


class Server:
    def __init__(self):
        self.requests: list[tuple[str, str]] = []
        self.drop_next = 0
        self.sent_bytes = 0
        self.stopped = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                server.requests.append((self.command, self.headers.get("User-Agent")))
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                if server.drop_next:
                    server.drop_next -= 1
                    self.close_connection = True
                    self.connection.shutdown(2)  # dropped without an answer
                    return
                if self.path.startswith("/huge"):
                    self._huge()
                    return
                if self.path.startswith("/slow"):
                    self._slow()
                    return
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "http://example.invalid/steal")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def _huge(self):
                """32 MB: declared, chunked without a length, or as a gzip bomb."""
                self.send_response(200)
                if self.path == "/huge-declared":
                    self.send_header("Content-Length", str(HUGE))
                    self.end_headers()
                    return  # nothing follows: the client must not wait for it
                if self.path == "/huge-gzip":
                    body = gzip.compress(b" " * HUGE)
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    server.sent_bytes += len(body)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    for _ in range(HUGE // len(chunk)):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        server.sent_bytes += len(chunk)
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client hung up, as it should

            def _slow(self):
                """/slow-silent: no answer at all; /slow-drip: headers, then one byte every
                0.2 s of a declared body; /slow-drip-until-close: the same without a length."""
                if self.path == "/slow-silent":
                    server.stopped.wait(SLOW_FOR)
                    return
                self.send_response(200)
                if self.path == "/slow-drip":
                    self.send_header("Content-Length", "100000")
                self.end_headers()
                started = time.monotonic()
                try:
                    while time.monotonic() - started < SLOW_FOR and not server.stopped.is_set():
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        server.sent_bytes += 1
                        time.sleep(0.2)
                except OSError:
                    pass  # the client hung up, as it should

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server():
    server = Server()
    yield server
    server.stopped.set()
    server.httpd.shutdown()


def test_a_dropped_get_is_tried_again(server):
    server.drop_next = 1

    response = HardenedSession().get(f"{server.url}/items")

    assert response.text == "ok"
    assert [method for method, _agent in server.requests] == ["GET", "GET"]


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_dropped_write_is_not_sent_twice(server, method):
    server.drop_next = 1

    with pytest.raises(requests.ConnectionError):
        HardenedSession().request(method, f"{server.url}/items", json={"a": 1})

    assert [m for m, _agent in server.requests] == [method]


def test_redirects_are_never_followed(server):
    # With max_redirects=0, requests refuses the redirect outright (older versions hand back the
    # 302): either way nothing goes to the redirect's host.
    try:
        status = HardenedSession().get(f"{server.url}/redirect").status_code
    except requests.TooManyRedirects:
        status = 302

    assert status == 302
    assert len(server.requests) == 1


def test_our_name_and_a_timeout_on_every_call(server):
    session = HardenedSession()

    session.get(f"{server.url}/items")

    assert server.requests == [("GET", USER_AGENT)]
    assert session.timeout == DEFAULT_TIMEOUT


def test_an_exchange_is_recorded_with_its_secrets_masked():
    request = requests.Request(
        "PUT",
        "https://api.example.com/3/orders/1?access_token=abc&page=2",
        json={"Order": {"Remarks": "hej", "password": "pw"}, "refresh_token": "rt"},
        headers={"Authorization": "Bearer secret-token"},
    ).prepare()
    response = requests.Response()
    response.request = request
    response.status_code = 400
    response._content = b'{"ErrorInformation": {"message": "Fel", "code": 2000588}, "token": "t"}'

    record = exchange_record(response)

    assert record == {
        "method": "PUT",
        "url": "https://api.example.com/3/orders/1?access_token=%2A%2A%2A&page=2",
        "status": 400,
        "request_body": {"Order": {"Remarks": "hej", "password": "***"}, "refresh_token": "***"},
        "response_body": {"ErrorInformation": {"message": "Fel", "code": 2000588}, "token": "***"},
    }
    assert "secret-token" not in str(record)


def test_a_long_or_unreadable_body_is_cut_short():
    response = requests.Response()
    response.request = requests.Request("GET", "https://x.example.com/a").prepare()
    response.status_code = 500
    response._content = b"<html>" + b"x" * 10_000

    record = exchange_record(response)

    assert record["request_body"] is None
    assert len(record["response_body"]) == 4000


@pytest.mark.parametrize("path", ["/huge-declared", "/huge-chunked", "/huge-gzip"])
def test_an_answer_larger_than_the_cap_is_refused_without_reading_it(server, path):
    session = HardenedSession(max_response_bytes=LIMIT)

    with pytest.raises(ResponseTooLarge, match="larger than 1 MB"):
        session.get(server.url + path)

    # The server could push what fits the socket buffers past the cap, never the whole body.
    assert server.sent_bytes < HUGE, server.sent_bytes


def test_an_answer_within_the_cap_is_read_whole(server):
    response = HardenedSession(max_response_bytes=2).get(f"{server.url}/items")

    assert response.content == b"ok"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<html><title>502 Bad Gateway</title></html>", "an HTML page (“502 Bad Gateway”)"),
        (b"<html><body>no</body></html>", "an HTML page instead of JSON"),
        (b'{"a": "\xff"}', "not valid UTF-8 (at byte 7)"),
        ('{"a": "ö"}'.encode("latin-1"), "not valid UTF-8"),
        (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
        (b'{"a": NaN}', "broken JSON"),
        (b'{"a": 1', "broken JSON (cut short or malformed)"),
        (b"   ", "an empty answer"),
        (b"OK", "something that is not JSON"),
    ],
)
def test_json_body_refuses_what_is_not_utf8_json_and_says_what_it_is(content, reason):
    with pytest.raises(UnreadableBody, match=reason.replace("(", r"\(").replace(")", r"\)")):
        json_body(content)


def test_json_body_reads_utf8_with_or_without_a_bom():
    assert json_body('{"namn": "Åsa"}'.encode()) == {"namn": "Åsa"}
    assert json_body(b"\xef\xbb\xbf" + '{"namn": "Åsa"}'.encode()) == {"namn": "Åsa"}


def test_a_deeply_nested_body_is_recorded_as_text():
    response = requests.Response()
    response.request = requests.Request("GET", "https://x.example.com/a").prepare()
    response.status_code = 500
    response._content = b"[" * 50_000 + b"]" * 50_000

    record = exchange_record(response)

    assert record["response_body"] == "[" * 4000


@pytest.mark.parametrize("path", ["/slow-drip", "/slow-drip-until-close"])
def test_an_answer_trickling_in_is_cut_off_at_the_deadline(server, path):
    # One byte every 0.2 s never trips the 5 s read timeout: only the deadline ends it.
    session = HardenedSession(timeout=(5, 5), deadline=1.0)

    with pytest.raises(ExchangeTimeout, match=rf"no complete answer to GET {path} within 1 s"):
        session.get(server.url + path)

    assert len(server.requests) == 1
    # What trickled in before the deadline is not taken for a (cut short) answer, and the
    # session still works.
    assert session.get(f"{server.url}/items").content == b"ok"


def test_a_get_whose_answer_timed_out_is_not_sent_again(server):
    session = HardenedSession(timeout=(5, 0.5), deadline=30)

    with pytest.raises(requests.ReadTimeout):
        session.get(f"{server.url}/slow-silent")

    assert len(server.requests) == 1


def test_the_deadline_covers_a_silent_server_too(server):
    session = HardenedSession(timeout=(5, 30), deadline=0.5)

    with pytest.raises(ExchangeTimeout):
        session.get(f"{server.url}/slow-silent")

    assert len(server.requests) == 1


def test_an_answer_within_the_deadline_is_not_disturbed_later(server):
    """A finished exchange's deadline passing later must not shut a socket that the pool hands
    to the next exchange."""
    session = HardenedSession(deadline=0.3)

    for _ in range(3):
        assert session.get(f"{server.url}/items").content == b"ok"
        time.sleep(0.2)


NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("5", 5.0),
        (" 12 ", 12.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("9" * 400, RETRY_AFTER_CEILING),
        ("86401", RETRY_AFTER_CEILING),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(days=3), usegmt=True), 0.0),
        (format_datetime(NOW + timedelta(days=400), usegmt=True), RETRY_AFTER_CEILING),
        ("Mon, 23 Nov 2026 12:00:30 -0000", 30.0),
        ("Mon, 23 Nov 2026 13:00:30 +0100", 30.0),
        (None, None),
        ("", None),
        ("nan", None),
        ("NaN", None),
        ("inf", None),
        ("-Infinity", None),
        ("-5", None),
        ("-0000", None),
        ("1e9", None),
        ("0x10", None),
        ("soon", None),
        ("5 seconds", None),
        ("Mon, 99 Foo 2026 99:99:99 GMT", None),
        ("x" * 10_000, None),
    ],
)
def test_retry_after_is_read_sanely(value, seconds):
    assert retry_after_seconds(value, now=NOW) == seconds


def test_a_slow_answer_gives_way_when_another_call_already_waits(server, tmp_path):
    slots = SlowCallSlots(tmp_path, 1)
    other = slots.try_acquire()  # another worker process is already waiting on a slow answer
    session = HardenedSession(timeout=(5, 5), deadline=30, slow_after=0.3, slots=slots)

    with pytest.raises(ExchangeTimeout, match="while other calls were already waiting"):
        session.get(f"{server.url}/slow-drip")

    assert len(server.requests) == 1
    other.release()


def test_a_slow_answer_waits_on_in_a_free_slot_and_frees_it(server, tmp_path):
    slots = SlowCallSlots(tmp_path, 1)
    session = HardenedSession(timeout=(5, 5), deadline=1.0, slow_after=0.2, slots=slots)

    # It took the slot and waited until its deadline, not giving way.
    with pytest.raises(ExchangeTimeout, match=r"within 1 s$"):
        session.get(f"{server.url}/slow-drip")

    slot = slots.try_acquire()
    assert slot is not None  # released when the call ended
    slot.release()


def test_in_the_slow_lane_a_slow_answer_is_waited_on_until_its_deadline(server, tmp_path):
    slots = SlowCallSlots(tmp_path, 1)
    assert slow_lane_enter(slots)  # the run holds the only slot for its whole duration
    session = HardenedSession(timeout=(5, 5), deadline=1.0, slow_after=0.2, slots=slots)

    try:
        # Not "while other calls were already waiting": the run's own slot is the one held.
        with pytest.raises(ExchangeTimeout, match=r"within 1 s$"):
            session.get(f"{server.url}/slow-drip")
        assert slow_lane_held()
    finally:
        slow_lane_leave()

    assert not slow_lane_held()
    slot = slots.try_acquire()
    assert slot is not None
    slot.release()


def test_a_company_entering_the_lane_with_every_slot_taken_holds_nothing(tmp_path):
    slots = SlowCallSlots(tmp_path, 1)
    other = slots.try_acquire()

    assert slow_lane_enter(slots) is False
    assert not slow_lane_held()
    other.release()


def test_a_fast_answer_needs_no_slot(server, tmp_path):
    slots = SlowCallSlots(tmp_path, 1)
    other = slots.try_acquire()
    session = HardenedSession(slow_after=5, slots=slots)

    assert session.get(f"{server.url}/items").content == b"ok"
    other.release()


def test_slots_are_shared_between_processes(tmp_path):
    slots = SlowCallSlots(tmp_path, 2)
    script = (
        "import sys, time; from pathlib import Path; from integrations.http import SlowCallSlots;"
        f"s = SlowCallSlots(Path({str(tmp_path)!r}), 2); print(s.try_acquire() is not None)"
    )
    first, second = slots.try_acquire(), slots.try_acquire()
    try:
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        )
    finally:
        first.release()
        second.release()

    assert result.stdout.strip() == "False"
