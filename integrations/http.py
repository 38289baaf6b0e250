"""The base of every outgoing HTTP session (one per provider, see fortnox/client.py and
ongoing/client.py): a timeout on every call, redirects never followed (a redirect could carry our
credentials to another host), no proxy or .netrc taken from the environment, and our name in the
User-Agent."""

import requests

USER_AGENT = "OngoingFortnoxIntegration/1.0"
# (connect, read) seconds. A run must never hang on one slow answer.
DEFAULT_TIMEOUT = (5, 30)


class HardenedSession(requests.Session):
    def __init__(self, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT):
        super().__init__()
        self.timeout = timeout
        self.max_redirects = 0
        self.trust_env = False
        self.headers["User-Agent"] = USER_AGENT

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        kwargs["allow_redirects"] = False
        return super().request(method, url, **kwargs)
