"""The base HTTP session, against a real local server: redirects are never followed, and only a GET
is tried again after the server dropped the connection (a write is never sent twice)."""

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from integrations.http import (
    DEFAULT_TIMEOUT,
    USER_AGENT,
    HardenedSession,
    ResponseTooLarge,
    UnreadableBody,
    exchange_record,
    json_body,
)

LIMIT = 1024 * 1024
HUGE = 32 * LIMIT


class Server:
    def __init__(self):
        self.requests: list[tuple[str, str]] = []
        self.drop_next = 0
        self.sent_bytes = 0
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
