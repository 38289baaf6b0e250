"""Fortnox OAuth 2.0 (authorization code, offline): the consent URL and the calls to the auth
server. Nothing here stores tokens; fortnox/services does, under a lock."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import jwt
import requests
from django.conf import settings
from django.utils import timezone
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from integrations.http import HardenedSession, ResponseTooLarge, UnreadableBody, json_body
from integrations.metering import count_request
from integrations.text import printable

from .errors import FortnoxUnavailable, OAuthError, OAuthInvalidGrant

# Fortnox says "Invalid refresh token" in error_description; some answers carry only that text.
INVALID_REFRESH_TOKEN = "invalid refresh token"  # noqa: S105 - an error text, not a secret
# Fortnox's access tokens live an hour; an answer claiming more (or less than nothing) is held to
# these bounds, so the refresh ahead of expiry still happens.
MIN_TOKEN_LIFETIME_SECONDS = 0
MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600


@dataclass(frozen=True)
class TokenSet:
    # Left out of repr(), so that no traceback, log line or error report shows them.
    access_token: str = field(repr=False)
    # Empty when the answer had none: the caller keeps the refresh token it has.
    refresh_token: str = field(repr=False)
    expires_at: datetime
    scopes: list[str]

    @property
    def claims(self) -> dict:
        """The access token's claims. Not verified: we received it from Fortnox over TLS, and it
        only tells us which Fortnox company we are talking to."""
        try:
            return jwt.decode(self.access_token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return {}

    @property
    def fortnox_tenant_id(self) -> int | None:
        tenant_id = self.claims.get("tenantId")
        try:
            return int(tenant_id) if tenant_id is not None else None
        except (TypeError, ValueError):
            return None


def _url(path: str) -> str:
    return f"{settings.FORTNOX_AUTH_BASE_URL.rstrip('/')}/oauth-v1/{path}"


def authorization_url_build(*, state: str) -> str:
    """Where to send the browser for consent. access_type=offline asks for a refresh token."""
    oauth = OAuth2Session(
        client_id=settings.FORTNOX_CLIENT_ID,
        redirect_uri=settings.FORTNOX_REDIRECT_URI,
        scope=settings.FORTNOX_SCOPES,
    )
    url, _state = oauth.authorization_url(_url("auth"), state=state, access_type="offline")
    return url


def _token_request(data: dict[str, str], *, what: str) -> dict:
    """POST to the token endpoint with HTTP Basic client auth. Done with our hardened session
    rather than requests-oauthlib's fetch_token so that a dead refresh token (reactivation) and a
    lost answer (retry later) can never be confused."""
    count_request("fortnox")
    try:
        response = HardenedSession().post(
            _url("token"),
            data=data,
            auth=HTTPBasicAuth(settings.FORTNOX_CLIENT_ID, settings.FORTNOX_CLIENT_SECRET),
            headers={"Accept": "application/json"},
        )
    except ResponseTooLarge as error:
        raise FortnoxUnavailable(
            f"The Fortnox auth server's answer during {what} was not read: {error}."
        ) from None
    except requests.RequestException as error:
        raise FortnoxUnavailable(
            f"The Fortnox auth server could not be reached during {what} "
            f"({error.__class__.__name__})."
        ) from None
    try:
        body = json_body(response.content)
    except UnreadableBody as unreadable:
        body = None
        if response.status_code == 200:
            raise FortnoxUnavailable(
                f"The Fortnox auth server answered {what} with {unreadable}.", status=200
            ) from None
    status = response.status_code
    if status == 200 and isinstance(body, dict) and body.get("access_token"):
        if not isinstance(body["access_token"], str) or not isinstance(
            body.get("refresh_token") or "", str
        ):
            raise FortnoxUnavailable(
                f"The Fortnox auth server answered {what} with tokens that are not text.",
                status=status,
            )
        return body
    if not isinstance(body, dict) or status >= 500 or status in (408, 429) or status < 400:
        raise FortnoxUnavailable(
            f"The Fortnox auth server answered {status} during {what}.", status=status
        )
    error = printable(str(body.get("error") or ""), max_length=100)
    description = printable(
        str(body.get("error_description") or error or f"HTTP {status}"), max_length=300
    )
    if error == "invalid_grant" or INVALID_REFRESH_TOKEN in description.lower():
        raise OAuthInvalidGrant(description, error=error, status=status)
    raise OAuthError(description, error=error, status=status)


def _token_set(body: dict) -> TokenSet:
    try:
        lifetime = int(body.get("expires_in") or 3600)
    except (TypeError, ValueError, OverflowError):
        lifetime = 3600
    lifetime = min(max(lifetime, MIN_TOKEN_LIFETIME_SECONDS), MAX_TOKEN_LIFETIME_SECONDS)
    return TokenSet(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token") or "",
        expires_at=timezone.now() + timedelta(seconds=lifetime),
        scopes=body["scope"].split() if isinstance(body.get("scope"), str) else [],
    )


def oauth_code_exchange(*, code: str) -> TokenSet:
    body = _token_request(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": settings.FORTNOX_REDIRECT_URI,
        },
        what="the code exchange",
    )
    return _token_set(body)


def oauth_token_refresh(*, refresh_token: str) -> TokenSet:
    body = _token_request(
        {"grant_type": "refresh_token", "refresh_token": refresh_token}, what="a token refresh"
    )
    return _token_set(body)


def oauth_token_revoke(*, refresh_token: str) -> None:
    """Make the refresh token (and the consent behind it) unusable at Fortnox."""
    count_request("fortnox")
    try:
        response = HardenedSession().post(
            _url("revoke"),
            data={"token_type_hint": "refresh_token", "token": refresh_token},
            auth=HTTPBasicAuth(settings.FORTNOX_CLIENT_ID, settings.FORTNOX_CLIENT_SECRET),
            headers={"Accept": "application/json"},
        )
    except requests.RequestException as error:
        raise FortnoxUnavailable(
            f"The Fortnox auth server could not be reached to revoke ({error.__class__.__name__})."
        ) from None
    # 400 means the token is not valid (any more), which is what revoking wants.
    if response.status_code > 400:
        raise FortnoxUnavailable(
            f"Fortnox answered {response.status_code} to the revocation.",
            status=response.status_code,
        )
