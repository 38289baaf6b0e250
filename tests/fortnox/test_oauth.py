"""The calls to Fortnox's auth server, with `responses`."""

import base64
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
import responses
from django.utils import timezone

from fortnox.errors import FortnoxUnavailable, OAuthError, OAuthInvalidGrant
from fortnox.models import FortnoxConnection
from fortnox.oauth import (
    authorization_url_build,
    oauth_code_exchange,
    oauth_token_refresh,
    oauth_token_revoke,
)
from fortnox.services.tokens import connection_access_token
from integrations.metering import metering

AUTH = "https://apps.fortnox.test"
TOKEN_URL = f"{AUTH}/oauth-v1/token"


@pytest.fixture
def auth(settings):
    settings.FORTNOX_AUTH_BASE_URL = AUTH
    settings.FORTNOX_CLIENT_ID = "client-id"
    settings.FORTNOX_CLIENT_SECRET = "client-secret"
    settings.FORTNOX_REDIRECT_URI = "https://app.example.com/fortnox/callback/"
    with responses.RequestsMock() as mock:
        yield mock


def pair(*, refresh="refresh-2", tenant_id=42):
    access = jwt.encode({"tenantId": tenant_id, "userId": 1}, "k" * 32, algorithm="HS256")
    body = {"access_token": access, "scope": "article order", "expires_in": 3600}
    if refresh:
        body["refresh_token"] = refresh
    return body


def form(call) -> dict:
    return {key: values[0] for key, values in parse_qs(call.request.body).items()}


def test_authorization_url(auth, settings):
    url = authorization_url_build(state="s1")
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{AUTH}/oauth-v1/auth"
    assert query == {
        "response_type": "code",
        "client_id": "client-id",
        "redirect_uri": "https://app.example.com/fortnox/callback/",
        "scope": " ".join(settings.FORTNOX_SCOPES),
        "state": "s1",
        "access_type": "offline",
    }


def test_code_exchange_uses_basic_auth_and_the_same_redirect_uri(auth):
    auth.add("POST", TOKEN_URL, json=pair())
    with metering() as meter:
        tokens = oauth_code_exchange(code="abc")
    call = auth.calls[0]
    expected = base64.b64encode(b"client-id:client-secret").decode()
    assert call.request.headers["Authorization"] == f"Basic {expected}"
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(call) == {
        "grant_type": "authorization_code",
        "code": "abc",
        "redirect_uri": "https://app.example.com/fortnox/callback/",
    }
    assert tokens.refresh_token == "refresh-2"
    assert tokens.scopes == ["article", "order"]
    assert tokens.fortnox_tenant_id == 42
    assert tokens.expires_at > timezone.now() + timedelta(minutes=59)
    assert meter["fortnox"] == 1


def test_refresh_body(auth):
    auth.add("POST", TOKEN_URL, json=pair())
    oauth_token_refresh(refresh_token="refresh-1")
    assert form(auth.calls[0]) == {"grant_type": "refresh_token", "refresh_token": "refresh-1"}


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            400,
            {"error": "invalid_grant", "error_description": "Invalid refresh token"},
            OAuthInvalidGrant,
        ),
        (
            400,
            {"error": "invalid_request", "error_description": "Invalid refresh token"},
            OAuthInvalidGrant,
        ),
        (401, {"error": "invalid_client", "error_description": "Bad client"}, OAuthError),
        (500, {"error": "server_error"}, FortnoxUnavailable),
        (502, None, FortnoxUnavailable),
        (429, {"error": "rate_limited"}, FortnoxUnavailable),
    ],
)
def test_refresh_errors(auth, status, body, error):
    if body is None:
        auth.add("POST", TOKEN_URL, status=status, body="Bad Gateway")
    else:
        auth.add("POST", TOKEN_URL, status=status, json=body)
    with pytest.raises(error) as caught:
        oauth_token_refresh(refresh_token="r")
    # Only a dead token is invalid_grant: everything transient stays transient.
    assert isinstance(caught.value, OAuthInvalidGrant) == (error is OAuthInvalidGrant)


def test_refresh_network_error_is_transient(auth):
    auth.add("POST", TOKEN_URL, body=requests.ConnectionError("reset"))
    with pytest.raises(FortnoxUnavailable):
        oauth_token_refresh(refresh_token="r")


def test_revoke(auth):
    auth.add("POST", f"{AUTH}/oauth-v1/revoke", json={"revoked": True})
    oauth_token_revoke(refresh_token="r")
    assert form(auth.calls[0]) == {"token_type_hint": "refresh_token", "token": "r"}
    assert auth.calls[0].request.headers["Authorization"].startswith("Basic ")


def test_a_refresh_answer_without_refresh_token_keeps_the_old_one(auth, member):
    connection = FortnoxConnection.objects.create(
        tenant=member.tenant,
        fortnox_tenant_id=42,
        access_token="old-access",
        refresh_token="refresh-1",
        access_expires_at=timezone.now() + timedelta(seconds=10),
        connected_at=timezone.now(),
    )
    auth.add("POST", TOKEN_URL, json=pair(refresh=None))
    token = connection_access_token(connection_id=connection.pk)
    connection.refresh_from_db()
    assert token == connection.access_token != "old-access"
    assert connection.refresh_token == "refresh-1"
