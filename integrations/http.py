"""The base of every outgoing HTTP session (one per provider, see fortnox/client.py and
ongoing/client.py): a timeout on every call, redirects never followed (a redirect could carry our
credentials to another host), no proxy or .netrc taken from the environment, and our name in the
User-Agent."""

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


class HardenedSession(requests.Session):
    def __init__(self, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT):
        super().__init__()
        self.timeout = timeout
        self.max_redirects = 0
        self.trust_env = False
        self.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(max_retries=TRANSPORT_RETRY)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        kwargs["allow_redirects"] = False
        return super().request(method, url, **kwargs)


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
    except ValueError:
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
