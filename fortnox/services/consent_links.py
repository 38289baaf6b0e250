"""The consent link: a signed address an owner sends to whoever administers the company's Fortnox,
so that person can give consent without an account here.

The link carries the company and when it was made, signed with SECRET_KEY; it is valid for seven
days and used up once Fortnox was connected after it was made (a consent through it, or any other),
so nothing needs storing."""

import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse

from integrations.models import IntegrationEvent
from integrations.services.events import integration_event_record
from tenants.models import Tenant

from ..models import FortnoxConnection

CONSENT_LINK_LIFETIME = timedelta(days=7)
_SALT = "fortnox.consent-link"


class ConsentLinkInvalid(Exception):
    """Why a link cannot be used: code is "tampered", "expired" or "used"."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class ConsentLink:
    tenant: Tenant
    issued_at: float
    token: str


def consent_link_create(*, tenant: Tenant) -> str:
    """A fresh token for the company's consent link."""
    return signing.dumps({"tenant": tenant.pk, "at": time.time()}, salt=_SALT)


def consent_link_url(*, token: str) -> str:
    return settings.SITE_URL + reverse("fortnox:consent_link", args=[token])


def consent_link_read(*, token: str) -> ConsentLink:
    """The company a link is for; raises ConsentLinkInvalid when it was altered, is older than
    seven days, or Fortnox was connected since it was made."""
    try:
        payload = signing.loads(token, salt=_SALT, max_age=CONSENT_LINK_LIFETIME)
    except signing.SignatureExpired:
        raise ConsentLinkInvalid("expired") from None
    except signing.BadSignature:
        raise ConsentLinkInvalid("tampered") from None
    try:
        tenant_id, issued_at = int(payload["tenant"]), float(payload["at"])
    except (KeyError, TypeError, ValueError):
        raise ConsentLinkInvalid("tampered") from None
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        raise ConsentLinkInvalid("tampered")
    connection = FortnoxConnection.objects.filter(tenant=tenant).only("connected_at").first()
    if connection is not None and connection.connected_at.timestamp() >= issued_at:
        raise ConsentLinkInvalid("used")
    return ConsentLink(tenant=tenant, issued_at=issued_at, token=token)


def consent_link_send(*, tenant: Tenant, email: str, token: str, actor=None) -> None:
    """E-mail the link (after the transaction commits) and note it on the timeline."""
    from ..tasks import fortnox_consent_link_send

    with transaction.atomic():
        integration = tenant.integrations.first()
        if integration is not None:
            integration_event_record(
                integration=integration,
                kind=IntegrationEvent.Kind.EMAIL,
                message=f"Fortnox consent link sent to {email}.",
                actor=actor,
            )
        transaction.on_commit(
            lambda: fortnox_consent_link_send.delay(
                tenant.pk, email, token, getattr(actor, "pk", None)
            )
        )
