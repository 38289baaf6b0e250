"""The base of every outgoing HTTP session (one per provider, see fortnox/client.py and
ongoing/client.py): a timeout on every call, redirects never followed (a redirect could carry our
credentials to another host), no proxy or .netrc taken from the environment, and our name in the
User-Agent."""

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
