"""The emulated auth server: Fortnox's rules for codes, access tokens and refresh tokens."""

import base64

import jwt
import pytest

from fortnox.sandbox import auth

BASIC = "Basic " + base64.b64encode(b"sandbox-client:sandbox-secret").decode()


def token(client, **data):
    return client.post("/sandbox/fortnox/oauth-v1/token", data, HTTP_AUTHORIZATION=BASIC)


def code_for(sandbox, redirect_uri=None):
    return auth.authorization_code_issue(
        app=sandbox.app,
        user=sandbox.user,
        scopes=["article", "companyinformation"],
        redirect_uri=redirect_uri or sandbox.app.redirect_uri,
    )


def exchange(client, sandbox, code):
    return token(
        client, grant_type="authorization_code", code=code, redirect_uri=sandbox.app.redirect_uri
    )


def test_code_is_single_use_and_tokens_carry_the_tenant(client, sandbox):
    code = code_for(sandbox)
    answer = exchange(client, sandbox, code)
    assert answer.status_code == 200
    body = answer.json()
    assert body["expires_in"] == 3600 and body["token_type"] == "bearer"
    assert body["scope"] == "article companyinformation"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["tenantId"] == sandbox.company.tenant_id
    assert claims["sub"] == f"{sandbox.user.user_id}@{sandbox.company.tenant_id}"
    assert claims["exp"] - claims["iat"] == 3600
    again = exchange(client, sandbox, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_code_expires_after_ten_minutes(client, sandbox):
    code = code_for(sandbox)
    sandbox.clock.sleep(601)
    assert exchange(client, sandbox, code).status_code == 400


def test_code_needs_the_same_redirect_uri(client, sandbox):
    code = code_for(sandbox)
    answer = token(
        client, grant_type="authorization_code", code=code, redirect_uri="https://evil.example/"
    )
    assert answer.status_code == 400


def test_client_must_authenticate_with_basic(client, sandbox):
    answer = client.post(
        "/sandbox/fortnox/oauth-v1/token", {"grant_type": "authorization_code", "code": "x"}
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_rotation_invalidates_the_old_refresh_token_at_once(client, sandbox):
    first = exchange(client, sandbox, code_for(sandbox)).json()["refresh_token"]
    second = token(client, grant_type="refresh_token", refresh_token=first).json()
    assert second["refresh_token"] != first
    old = token(client, grant_type="refresh_token", refresh_token=first)
    assert old.status_code == 400
    assert old.json() == {"error": "invalid_grant", "error_description": "Invalid refresh token"}
    assert (
        token(client, grant_type="refresh_token", refresh_token=second["refresh_token"]).status_code
        == 200
    )


def test_expired_access_token_is_refused_with_401(client, sandbox):
    access = exchange(client, sandbox, code_for(sandbox)).json()["access_token"]
    url = "/sandbox/fortnox/3/companyinformation"
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 200
    sandbox.clock.sleep(3601)
    refused = client.get(url, HTTP_AUTHORIZATION=f"Bearer {access}")
    assert refused.status_code == 401
    assert refused.json()["ErrorInformation"]["code"] == 2000311


def test_missing_scope_is_refused(client, sandbox):
    access = exchange(client, sandbox, code_for(sandbox)).json()["access_token"]
    refused = client.get("/sandbox/fortnox/3/orders", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert refused.status_code == 403


def test_rate_limit_25_per_5_seconds(client, sandbox):
    access = exchange(client, sandbox, code_for(sandbox)).json()["access_token"]
    url = "/sandbox/fortnox/3/companyinformation"
    statuses = [
        client.get(url, HTTP_AUTHORIZATION=f"Bearer {access}").status_code for _ in range(26)
    ]
    assert statuses[:25] == [200] * 25
    assert statuses[25] == 429
    limited = client.get(url, HTTP_AUTHORIZATION=f"Bearer {access}")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1
    sandbox.clock.sleep(5)
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 200


@pytest.mark.parametrize("decision", ["allow", "deny"])
def test_unknown_redirect_uri_gets_no_code(client, sandbox, decision):
    page = client.get(
        "/sandbox/fortnox/oauth-v1/auth",
        {
            "client_id": "sandbox-client",
            "redirect_uri": "https://evil.example/",
            "response_type": "code",
            "scope": "article",
        },
    )
    assert page.status_code == 400
