"""Connecting a company to its Ongoing WMS: check what the customer typed, then store it."""

import logging
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations.models import Integration, IntegrationEvent
from integrations.services.events import integration_event_record
from integrations.services.integrations import integration_pause
from tenants.models import Tenant

from .client import (
    OngoingAuthError,
    OngoingClient,
    OngoingError,
    OngoingNotFound,
)
from .models import OngoingConnection
from .systems import SystemRefused, system_parse

logger = logging.getLogger(__name__)

UNKNOWN_SYSTEM = _(
    "We could not find an Ongoing WMS at that address. Check the System: the address you sign in "
    "to your WMS with, for example https://demo.ongoingsystems.se/demo/, or your customer ID."
)
BAD_CREDENTIALS = _(
    "The WMS did not accept that username and password. Use the API user your warehouse created "
    "for the integration (its name starts with WSI) and check the password."
)
NO_GOODS_OWNER = _(
    "That user is not connected to a goods owner in the WMS. Ask your warehouse to give the user "
    "API access for your goods owner."
)
UNREACHABLE = _(
    "The WMS could not be reached just now. Nothing was saved; please try again in a few minutes."
)


@dataclass(frozen=True)
class VerifiedSystem:
    """Credentials the WMS accepted, and what it told us about them."""

    system: str
    warehouse: str
    api_base_url: str
    goods_owner_id: int
    goods_owner_name: str
    username: str
    password: str = field(repr=False)


def ongoing_connection_verify(*, system: str, username: str, password: str) -> VerifiedSystem:
    """Find the WMS the System names and check the credentials with one cheap read on each API
    host in turn (production, then demo). Raises ValidationError with a message for the customer
    (codes: unknown_system, bad_credentials, no_goods_owner, unreachable)."""
    try:
        parsed = system_parse(system=system)
    except SystemRefused as refused:
        raise ValidationError(refused.message, code="unknown_system") from None

    unreachable = False
    for base_url in parsed.api_base_urls:
        client = OngoingClient(base_url=base_url, username=username, password=password)
        try:
            goods_owners = client.goods_owners_list()
        except OngoingNotFound:
            continue  # No such warehouse on this host; it may be on the next one.
        except OngoingAuthError:
            raise ValidationError(BAD_CREDENTIALS, code="bad_credentials") from None
        except OngoingError as error:
            logger.warning("ongoing verify %s: %s", base_url, error)
            unreachable = True
            continue
        if not goods_owners:
            raise ValidationError(NO_GOODS_OWNER, code="no_goods_owner")
        # An API user belongs to exactly one goods owner; the oldest wins should that ever change.
        goods_owner = min(goods_owners, key=lambda owner: owner["id"])
        return VerifiedSystem(
            system=parsed.system,
            warehouse=parsed.warehouse,
            api_base_url=base_url,
            goods_owner_id=int(goods_owner["id"]),
            goods_owner_name=goods_owner.get("name") or "",
            username=username,
            password=password,
        )
    if unreachable:
        raise ValidationError(UNREACHABLE, code="unreachable")
    raise ValidationError(UNKNOWN_SYSTEM, code="unknown_system")


def ongoing_connection_save(*, tenant: Tenant, verified: VerifiedSystem) -> OngoingConnection:
    """Store (or replace) the company's connection with credentials ongoing_connection_verify
    accepted."""
    connection, _created = OngoingConnection.objects.update_or_create(
        tenant=tenant,
        defaults={
            "system": verified.system,
            "warehouse": verified.warehouse,
            "api_base_url": verified.api_base_url,
            "goods_owner_id": verified.goods_owner_id,
            "goods_owner_name": verified.goods_owner_name,
            "username": verified.username,
            "password": verified.password,
            "status": OngoingConnection.Status.VERIFIED,
            "verified_at": timezone.now(),
        },
    )
    return connection


def ongoing_connection_mark_rejected(*, connection: OngoingConnection) -> None:
    """The WMS stopped accepting the stored credentials (a sync got OngoingAuthError): runs stop
    asking it, and the connect page asks for the password again."""
    OngoingConnection.objects.filter(pk=connection.pk).update(
        status=OngoingConnection.Status.REJECTED, updated_at=timezone.now()
    )
    connection.status = OngoingConnection.Status.REJECTED


def ongoing_connection_forget(*, connection: OngoingConnection, actor=None) -> OngoingConnection:
    """Disconnect the warehouse: forget the password and stop using the connection. System and
    username stay, so reconnecting means typing the password again. As with Fortnox, an active
    integration is paused (on its timeline) rather than left failing every run."""
    with transaction.atomic():
        connection = OngoingConnection.objects.select_for_update().get(pk=connection.pk)
        connection.password = None
        connection.status = OngoingConnection.Status.DISCONNECTED
        connection.save(update_fields=["password", "status", "updated_at"])
        integration = connection.tenant.integrations.first()
        if integration is not None:
            integration_event_record(
                integration=integration,
                kind=IntegrationEvent.Kind.STATUS,
                message="Warehouse disconnected: the WMS password was forgotten.",
                actor=actor,
                data={"ongoing_connection": connection.pk},
            )
            if integration.status == Integration.Status.ACTIVE:
                integration_pause(integration=integration, actor=actor)
    return connection
