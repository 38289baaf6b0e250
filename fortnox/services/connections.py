"""Connecting a company to Fortnox (consent or Marketplace activation), and disconnecting it.

One Fortnox company belongs to one company here: its Fortnox tenant id is recorded on the Tenant
(unique) the first time it connects, and a later consent for another Fortnox company is refused
rather than silently syncing a different set of books."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.models import Integration, IntegrationEvent
from integrations.services.events import integration_event_record
from integrations.services.integrations import integration_activate, integration_pause
from integrations.text import printable
from tenants.models import Tenant

from ..client import ConsentTokens, FortnoxClient
from ..errors import FortnoxError
from ..models import FortnoxConnection, PendingFortnoxActivation
from ..oauth import TokenSet, oauth_token_revoke
from ..signals import connection_connected

logger = logging.getLogger(__name__)

# How long a Marketplace activation waits for someone to sign in and claim it.
PENDING_ACTIVATION_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class FortnoxCompany:
    fortnox_tenant_id: int
    name: str
    organisation_number: str


def fortnox_company_identify(*, tokens: TokenSet, client: FortnoxClient | None = None):
    """Who the fresh tokens belong to: the JWT's tenantId, and name and organisation number from
    companyinformation."""
    client = client or FortnoxClient(tokens=ConsentTokens(tokens))
    info = client.company_information()
    tenant_id = tokens.fortnox_tenant_id
    if tenant_id is None:
        # Not a JWT we can read: Fortnox's database number identifies the company as well.
        try:
            tenant_id = int(info.get("DatabaseNumber"))
        except (TypeError, ValueError):
            tenant_id = None
    if tenant_id is None or not 0 < tenant_id < 2**63:
        raise FortnoxError("Fortnox did not say which company the consent is for.")
    organisation_number = printable(str(info.get("OrganizationNumber") or "")).strip()
    return FortnoxCompany(
        fortnox_tenant_id=tenant_id,
        name=printable(str(info.get("CompanyName") or ""), max_length=200).strip(),
        # Swedish organisation numbers are 10 or 12 digits with a dash; anything that does not
        # fit our column is not one.
        organisation_number=organisation_number if len(organisation_number) <= 20 else "",
    )


def _integration(tenant: Tenant) -> Integration | None:
    return tenant.integrations.first()


def connection_connect(
    *, tenant: Tenant, tokens: TokenSet, company: FortnoxCompany, actor=None
) -> FortnoxConnection:
    """Store a new consent for the company: a first connection, or the reactivation of one that
    lost its tokens. Raises ValidationError when the Fortnox company is not this company's."""
    now = timezone.now()
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if tenant.fortnox_tenant_id not in (None, company.fortnox_tenant_id):
            raise ValidationError(
                _(
                    "You signed in to the Fortnox company %(fortnox)s, but %(company)s is "
                    "connected to another Fortnox company. Sign in to Fortnox with a user of "
                    "the right company and try again."
                ),
                params={"fortnox": company.name or company.fortnox_tenant_id, "company": tenant},
                code="other_fortnox_company",
            )
        taken = (
            Tenant.objects.filter(fortnox_tenant_id=company.fortnox_tenant_id)
            .exclude(pk=tenant.pk)
            .exists()
            or FortnoxConnection.objects.filter(fortnox_tenant_id=company.fortnox_tenant_id)
            .exclude(tenant=tenant)
            .exists()
        )
        if taken:
            raise ValidationError(
                _(
                    "The Fortnox company %(fortnox)s is already connected to another company in "
                    "this service."
                ),
                params={"fortnox": company.name or company.fortnox_tenant_id},
                code="fortnox_company_taken",
            )
        tenant_fields = []
        if tenant.fortnox_tenant_id is None:
            tenant.fortnox_tenant_id = company.fortnox_tenant_id
            tenant_fields.append("fortnox_tenant_id")
        if not tenant.organisation_number and company.organisation_number:
            tenant.organisation_number = company.organisation_number
            tenant_fields.append("organisation_number")
        if tenant_fields:
            tenant.save(update_fields=tenant_fields)

        previous = FortnoxConnection.objects.select_for_update().filter(tenant=tenant).first()
        connection, _created = FortnoxConnection.objects.update_or_create(
            tenant=tenant,
            defaults={
                "fortnox_tenant_id": company.fortnox_tenant_id,
                "company_name": company.name,
                "organisation_number": company.organisation_number,
                "scopes": tokens.scopes,
                "status": FortnoxConnection.Status.ACTIVE,
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token or None,
                "access_expires_at": tokens.expires_at,
                "refresh_token_issued_at": now,
                "refresh_failures": 0,
                "last_refresh_error": "",
                "needs_reactivation_since": None,
                "revoked_at": None,
                "connected_at": now,
                "connected_by": actor if actor is not None and actor.is_authenticated else None,
            },
        )
        integration = _integration(tenant)
        reactivated = False
        if integration is not None:
            reconnected = previous is not None
            integration_event_record(
                integration=integration,
                kind=IntegrationEvent.Kind.TOKEN,
                message=(
                    f"Fortnox {'reconnected' if reconnected else 'connected'}: "
                    f"{company.name} ({company.organisation_number})."
                ),
                actor=actor,
                data={"connection": connection.pk, "fortnox_tenant_id": company.fortnox_tenant_id},
            )
            if integration.status == Integration.Status.NEEDS_REACTIVATION:
                # The seed's promise: once the permissions are accepted, it runs again. If the
                # integration cannot start yet (the warehouse connection is missing too), the
                # consent is still kept; the status page says what is left to do.
                try:
                    with transaction.atomic():
                        integration_activate(integration=integration, actor=actor)
                    reactivated = True
                except ValidationError as error:
                    logger.info(
                        "integration %s stays in reactivation after the Fortnox consent: %s",
                        integration.pk,
                        " ".join(error.messages),
                    )
        transaction.on_commit(
            lambda: connection_connected.send(
                sender=FortnoxConnection, connection=connection, reactivated=reactivated
            )
        )
    return connection


def connection_disconnect(*, connection: FortnoxConnection, actor=None) -> FortnoxConnection:
    """Revoke the refresh token at Fortnox and forget both tokens. Runs stop until a new consent:
    an active integration is paused."""
    with transaction.atomic():
        connection = FortnoxConnection.objects.select_for_update().get(pk=connection.pk)
        refresh_token = connection.refresh_token
        revoke_error = ""
        if refresh_token:
            try:
                oauth_token_revoke(refresh_token=refresh_token)
            except FortnoxError as error:
                # Forgetting the token still ends our use of it; Fortnox lets it expire.
                revoke_error = str(error)
                logger.warning("fortnox connection %s: revoke failed: %s", connection.pk, error)
        connection.status = FortnoxConnection.Status.REVOKED
        connection.revoked_at = timezone.now()
        forgotten = connection.forget_tokens()
        connection.save(update_fields=["status", "revoked_at", *forgotten, "updated_at"])
        integration = _integration(connection.tenant)
        if integration is not None:
            integration_event_record(
                integration=integration,
                kind=IntegrationEvent.Kind.TOKEN,
                message="Fortnox disconnected"
                + (f" (revocation failed: {revoke_error})" if revoke_error else "."),
                actor=actor,
                data={"connection": connection.pk, "revoked": not revoke_error},
            )
            if integration.status == Integration.Status.ACTIVE:
                integration_pause(integration=integration, actor=actor)
    return connection


def pending_activation_create(
    *, tokens: TokenSet, company: FortnoxCompany
) -> PendingFortnoxActivation:
    return PendingFortnoxActivation.objects.create(
        fortnox_tenant_id=company.fortnox_tenant_id,
        company_name=company.name,
        organisation_number=company.organisation_number,
        scopes=tokens.scopes,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token or None,
        access_expires_at=tokens.expires_at,
    )


def pending_activation_claim(
    *, activation: PendingFortnoxActivation, tenant: Tenant, actor
) -> FortnoxConnection:
    """Connect the company with the tokens the Marketplace activation brought. Single use."""
    with transaction.atomic():
        activation = PendingFortnoxActivation.objects.select_for_update().get(pk=activation.pk)
        if activation.claimed_at is not None:
            raise ValidationError(_("This Fortnox activation has already been used."))
        if activation.created_at < timezone.now() - PENDING_ACTIVATION_LIFETIME:
            raise ValidationError(
                _("This Fortnox activation has expired. Activate the app in Fortnox again.")
            )
        connection = connection_connect(
            tenant=tenant,
            tokens=TokenSet(
                access_token=activation.access_token or "",
                refresh_token=activation.refresh_token or "",
                expires_at=activation.access_expires_at,
                scopes=activation.scopes,
            ),
            company=FortnoxCompany(
                fortnox_tenant_id=activation.fortnox_tenant_id,
                name=activation.company_name,
                organisation_number=activation.organisation_number,
            ),
            actor=actor,
        )
        activation.claimed_at = timezone.now()
        activation.claimed_by = actor
        activation.access_token = None
        activation.refresh_token = None
        activation.save(update_fields=["claimed_at", "claimed_by", "access_token", "refresh_token"])
    return connection


def pending_activations_delete_stale(*, now=None) -> int:
    """Claimed or abandoned activations hold nothing anyone needs (and abandoned ones hold
    tokens): delete them."""
    now = now or timezone.now()
    deleted, _counts = PendingFortnoxActivation.objects.filter(
        created_at__lt=now - PENDING_ACTIVATION_LIFETIME
    ).delete()
    return deleted
