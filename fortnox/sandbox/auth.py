"""The emulated Fortnox auth server: codes, JWT access tokens, rotating refresh tokens, and the API
rate limit. Behaviour follows ../shared/reference/fortnox-api.md."""

import hashlib
import math
import secrets
import uuid
from datetime import timedelta

import jwt
from django.conf import settings
from django.db import transaction

from . import clock
from .models import (
    SandboxApiRequest,
    SandboxApp,
    SandboxAuthorizationCode,
    SandboxCompany,
    SandboxRefreshToken,
    SandboxUser,
    token_hash,
)

CODE_LIFETIME = timedelta(minutes=10)
ACCESS_TOKEN_LIFETIME_SECONDS = 3600
REFRESH_TOKEN_LIFETIME = timedelta(days=31)
RATE_LIMIT_REQUESTS = 25
RATE_LIMIT_WINDOW_SECONDS = 5.0
# Request log rows older than this are pruned now and then.
REQUEST_LOG_KEEP_SECONDS = 3600

# The scopes Fortnox knows, with the text its consent page shows.
SCOPES = {
    "article": "Artiklar",
    "companyinformation": "Företagsinformation",
    "customer": "Kunder",
    "invoice": "Fakturering",
    "order": "Order",
    "supplier": "Leverantörer",
    "price": "Priser",
    "settings": "Inställningar",
    "warehouse": "Lager",
    "warehousecustomdocument": "Lager: egna dokument",
}


class InvalidGrant(Exception):
    """Answered as 400 {"error": "invalid_grant", "error_description": <message>}."""


def _jwt_secret() -> str:
    return hashlib.sha256(f"fortnox-sandbox-jwt:{settings.SECRET_KEY}".encode()).hexdigest()


def access_token_issue(*, app: SandboxApp, user: SandboxUser, scopes: list[str]) -> str:
    issued = int(clock.now())
    tenant_id = user.company.tenant_id
    return jwt.encode(
        {
            "tenantId": tenant_id,
            "userId": user.user_id,
            "clientId": app.client_id,
            "scopes": scopes,
            "sub": f"{user.user_id}@{tenant_id}",
            "iat": issued,
            "exp": issued + ACCESS_TOKEN_LIFETIME_SECONDS,
            "jti": uuid.uuid4().hex,
        },
        _jwt_secret(),
        algorithm="HS256",
    )


def access_token_claims(token: str) -> dict | None:
    """The claims of a valid, unexpired sandbox access token; None otherwise."""
    try:
        # Time claims are checked against the sandbox clock below, not the machine's (PyJWT would
        # refuse an iat that lies ahead of real time when tests run the sandbox clock ahead).
        claims = jwt.decode(
            token,
            _jwt_secret(),
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError:
        return None
    # Expiry is checked against the sandbox clock, which tests may run ahead.
    if claims.get("exp", 0) <= clock.now():
        return None
    return claims


def authorization_code_issue(
    *, app: SandboxApp, user: SandboxUser, scopes: list[str], redirect_uri: str
) -> str:
    code = secrets.token_urlsafe(24)
    SandboxAuthorizationCode.objects.create(
        code_hash=token_hash(code),
        app=app,
        user=user,
        scopes=scopes,
        redirect_uri=redirect_uri,
        expires_at=clock.now_datetime() + CODE_LIFETIME,
    )
    return code


def _token_pair(*, app: SandboxApp, user: SandboxUser, scopes: list[str]) -> dict:
    refresh_token = secrets.token_urlsafe(32)
    now = clock.now_datetime()
    SandboxRefreshToken.objects.create(
        token_hash=token_hash(refresh_token),
        app=app,
        user=user,
        scopes=scopes,
        issued_at=now,
        expires_at=now + REFRESH_TOKEN_LIFETIME,
    )
    return {
        "access_token": access_token_issue(app=app, user=user, scopes=scopes),
        "refresh_token": refresh_token,
        "scope": " ".join(scopes),
        "expires_in": ACCESS_TOKEN_LIFETIME_SECONDS,
        "token_type": "bearer",
    }


def code_company(*, app: SandboxApp, code: str) -> SandboxCompany | None:
    found = (
        SandboxAuthorizationCode.objects.select_related("user__company")
        .filter(code_hash=token_hash(code), app=app)
        .first()
    )
    return found.user.company if found else None


def code_exchange(*, app: SandboxApp, code: str, redirect_uri: str) -> dict:
    """Single use, 10 minutes, and only with the redirect_uri the consent was given for."""
    with transaction.atomic():
        found = (
            SandboxAuthorizationCode.objects.select_for_update()
            .select_related("user__company")
            .filter(code_hash=token_hash(code), app=app)
            .first()
        )
        if (
            found is None
            or found.used_at is not None
            or found.expires_at <= clock.now_datetime()
            or found.redirect_uri != redirect_uri
        ):
            raise InvalidGrant("Invalid authorization code")
        found.used_at = clock.now_datetime()
        found.save(update_fields=["used_at"])
        return _token_pair(app=app, user=found.user, scopes=found.scopes)


def refresh_token_company(*, app: SandboxApp, refresh_token: str) -> SandboxCompany | None:
    found = (
        SandboxRefreshToken.objects.select_related("user__company")
        .filter(token_hash=token_hash(refresh_token), app=app)
        .first()
    )
    return found.user.company if found else None


def refresh_token_rotate(*, app: SandboxApp, refresh_token: str) -> dict:
    """A new pair; the old refresh token stops working at once, answered or not."""
    with transaction.atomic():
        found = (
            SandboxRefreshToken.objects.select_for_update()
            .select_related("user__company")
            .filter(token_hash=token_hash(refresh_token), app=app)
            .first()
        )
        now = clock.now_datetime()
        if (
            found is None
            or found.rotated_at is not None
            or found.revoked_at is not None
            or found.expires_at <= now
        ):
            raise InvalidGrant("Invalid refresh token")
        found.rotated_at = now
        found.save(update_fields=["rotated_at"])
        return _token_pair(app=app, user=found.user, scopes=found.scopes)


def refresh_token_revoke(*, app: SandboxApp, token: str) -> None:
    SandboxRefreshToken.objects.filter(
        token_hash=token_hash(token), app=app, revoked_at__isnull=True
    ).update(revoked_at=clock.now_datetime())


def rate_limit_admit(
    *, company: SandboxCompany, client_id: str, method: str, path: str
) -> float | None:
    """Log the request; None when it is within 25 per 5 s for (client, tenant), otherwise the
    seconds until it would be. Serialised per company, so several processes share the count."""
    now = clock.now()
    with transaction.atomic():
        SandboxCompany.objects.select_for_update().filter(pk=company.pk).values("pk").first()
        recent = SandboxApiRequest.objects.filter(
            company=company,
            client_id=client_id,
            at__gt=now - RATE_LIMIT_WINDOW_SECONDS,
            limited=False,
        )
        limited = recent.count() >= RATE_LIMIT_REQUESTS
        logged = SandboxApiRequest.objects.create(
            company=company,
            client_id=client_id,
            at=now,
            method=method,
            path=path[:300],
            limited=limited,
        )
        if logged.pk % 500 == 0:
            SandboxApiRequest.objects.filter(
                company=company, at__lt=now - REQUEST_LOG_KEEP_SECONDS
            ).delete()
        if not limited:
            return None
        oldest = recent.order_by("at").values_list("at", flat=True).first() or now
        return max(oldest + RATE_LIMIT_WINDOW_SECONDS - now, 0.001)


def retry_after_header(wait: float) -> str:
    return str(max(1, math.ceil(wait)))


def requests_max_in_window(
    *, company: SandboxCompany, client_id: str | None = None, window: float | None = None
) -> int:
    """The most requests received inside any window (default 5 s), rate-limited ones included:
    what a test asserts our throttle keeps under Fortnox's limit."""
    window = window or RATE_LIMIT_WINDOW_SECONDS
    log = SandboxApiRequest.objects.filter(company=company)
    if client_id is not None:
        log = log.filter(client_id=client_id)
    times = sorted(log.values_list("at", flat=True))
    most = 0
    start = 0
    for end, at in enumerate(times):
        while times[start] <= at - window:
            start += 1
        most = max(most, end - start + 1)
    return most
