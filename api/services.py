"""API keys: created with a secret shown once, stored hashed, revocable, checked in constant
time."""

import hashlib
import hmac
import secrets
from datetime import timedelta

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
