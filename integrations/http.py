"""The base of every outgoing HTTP session (one per provider, see fortnox/client.py and
ongoing/client.py): a timeout on every call, redirects never followed (a redirect could carry our
credentials to another host), no proxy or .netrc taken from the environment, our name in the
User-Agent, and no answer read beyond MAX_RESPONSE_BYTES. json_body reads an answer strictly: UTF-8
JSON, or UnreadableBody saying in words what came instead."""

import codecs
import html
import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

USER_AGENT = "OngoingFortnoxIntegration/1.0"
# (connect, read) seconds. A run must never hang on one slow answer.
DEFAULT_TIMEOUT = (5, 30)
# Only what cannot repeat a write is retried here: a connection that could not be opened (nothing
# was sent), and a GET whose pooled keep-alive connection the server had already closed. Every
# other failure reaches the caller, which knows whether its request is safe to repeat.
TRANSPORT_RETRY = Retry(
    total=2,
    connect=2,
    read=1,
    status=0,
    other=0,
    redirect=0,
    allowed_methods=frozenset({"GET"}),
    raise_on_status=False,
    backoff_factor=0.2,
)


# No answer of either API comes near this (a full Fortnox page of 500 articles is a few hundred
# kB); anything larger is a broken proxy or a hostile server, and is not read into memory.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024


class ResponseTooLarge(requests.RequestException):
    """The answer (after decompression) is larger than the session reads; the rest was left
    unread and the connection closed."""


class HardenedSession(requests.Session):
    def __init__(
        self,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ):
        super().__init__()
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.max_redirects = 0
        self.trust_env = False
        self.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(max_retries=TRANSPORT_RETRY)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True
        response = super().request(method, url, **kwargs)
        _read_capped(response, limit=self.max_response_bytes)
        return response


def _read_capped(response: requests.Response, *, limit: int) -> None:
    """Read the body into response.content, refusing it at `limit` bytes: by its Content-Length
    before reading anything, or while reading (decompressed bytes count, so a compressed bomb is
    cut off too)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise ResponseTooLarge(_too_large(limit), response=response)
    chunks = []
    size = 0
    for chunk in response.iter_content(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            response.close()
            raise ResponseTooLarge(_too_large(limit), response=response)
        chunks.append(chunk)
    response._content = b"".join(chunks)
    response._content_consumed = True


def _too_large(limit: int) -> str:
    return f"it is larger than {limit // (1024 * 1024)} MB"


class UnreadableBody(ValueError):
    """An answer that is not a JSON document; str() says what it is instead, for a failure's
    message."""


HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def json_body(content: bytes) -> Any:
    """The JSON document in an answer's body. JSON travels as UTF-8 (RFC 8259): other bytes are
    refused rather than guessed at, since a wrong guess would send garbled names on to the other
    system; NaN and Infinity are refused as not JSON."""
    if content.startswith(codecs.BOM_UTF8):
        content = content[len(codecs.BOM_UTF8) :]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableBody(f"text that is not valid UTF-8 (at byte {error.start})") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise UnreadableBody("JSON nested too deeply to read") from None
    except ValueError:
        raise UnreadableBody(_what_instead_of_json(text)) from None


def _what_instead_of_json(text: str) -> str:
    stripped = text.lstrip()
    if not stripped:
        return "an empty answer"
    if stripped.startswith("<"):
        title = HTML_TITLE.search(stripped[:20_000])
        if title:
            name = " ".join(html.unescape(title.group(1)).split())[:100]
            return f"an HTML page (“{name}”) instead of JSON"
        return "an HTML page instead of JSON"
    if stripped[:1] in "{[":
        return "broken JSON (cut short or malformed)"
    return "something that is not JSON"


# Keys whose values never leave the process in a failure's details.
SECRET_KEY_PATTERN = re.compile(r"token|password|secret|authorization|api[-_]?key", re.I)
MASK = "***"
# Enough of a body to see what went wrong, small enough to store on every failure.
EXCHANGE_BODY_LIMIT = 4000


def masked(value: Any) -> Any:
    """The value with every secret-looking field replaced, at any depth."""
    if isinstance(value, dict):
        return {
            key: MASK if SECRET_KEY_PATTERN.search(str(key)) else masked(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def _masked_body(body: bytes | str | None) -> Any:
    if not body:
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        return masked(json.loads(text))
    except (ValueError, RecursionError):
        return text[:EXCHANGE_BODY_LIMIT]


def _masked_url(url: str) -> str:
    parts = urlsplit(url)
    query = [
        (key, MASK if SECRET_KEY_PATTERN.search(key) else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def exchange_record(response: requests.Response) -> dict:
    """The request and the answer that caused a failure, for support to read: secrets masked,
    headers left out (they carry the credentials), bodies cut short."""
    request = response.request
    record = {
        "method": request.method,
        "url": _masked_url(request.url or ""),
        "status": response.status_code,
        "request_body": _masked_body(request.body),
        "response_body": _masked_body(response.content),
    }
    for key in ("request_body", "response_body"):
        if isinstance(record[key], dict | list):
            text = json.dumps(record[key], ensure_ascii=False)
            if len(text) > EXCHANGE_BODY_LIMIT:
                record[key] = text[:EXCHANGE_BODY_LIMIT]
    return record
