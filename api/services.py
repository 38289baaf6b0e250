"""API keys: created with a secret shown once, stored hashed, revocable, checked in constant
time."""

import hashlib
import hmac
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from integrations.models import IntegrationEvent
from integrations.selectors import integration_for_tenant
from integrations.services.events import integration_event_record
from tenants.models import Tenant

from .models import ApiKey

KEY_PREFIX = "wf"
# last_used_at is written at most this often per key, so busy tooling costs no write per call.
LAST_USED_RESOLUTION = timedelta(minutes=5)


def _hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(*, tenant: Tenant, name: str, actor=None) -> tuple[ApiKey, str]:
    """The new key and its secret form, which is never stored and cannot be shown again."""
    prefix = secrets.token_hex(6)
    raw_key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        tenant=tenant, name=name, prefix=prefix, key_hash=_hash(raw_key), created_by=actor
    )
    integration_event_record(
        integration=integration_for_tenant(tenant=tenant),
        kind=IntegrationEvent.Kind.SETTINGS,
        message=f"API key {key.name!r} ({prefix}…) created.",
        actor=actor,
    )
    return key, raw_key


def api_key_revoke(*, key: ApiKey, actor=None) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        integration_event_record(
            integration=integration_for_tenant(tenant=key.tenant),
            kind=IntegrationEvent.Kind.SETTINGS,
            message=f"API key {key.name!r} ({key.prefix}…) revoked.",
            actor=actor,
        )
    return key


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key this secret belongs to, or None."""
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key = (
        ApiKey.objects.select_related("tenant")
        .filter(prefix=parts[1], revoked_at__isnull=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, _hash(raw_key)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def client_address(request) -> str:
    """The address a request came from: with TRUSTED_PROXY_COUNT proxies in front, the one the
    outermost of them saw (the earlier X-Forwarded-For entries are the client's to forge)."""
    count = settings.ALLAUTH_TRUSTED_PROXY_COUNT
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    if count and len(hops) >= count:
        return hops[-count]
    return request.META.get("REMOTE_ADDR", "")


def _failures_key(address: str) -> str:
    return f"api-key-failures:{address}:{int(time.time() // 60)}"


def api_key_failures_exceeded(*, address: str) -> bool:
    """Whether this address has used up its failed attempts for the current minute."""
    limit = settings.API_KEY_FAILURES_PER_MINUTE
    return bool(limit) and cache.get(_failures_key(address), 0) >= limit


def api_key_failure_count(*, address: str) -> None:
    if not settings.API_KEY_FAILURES_PER_MINUTE:
        return
    key = _failures_key(address)
    cache.add(key, 0, timeout=61)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=61)
