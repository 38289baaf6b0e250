from django.db import transaction

from integrations.services.integrations import integration_create

from .models import Membership, Tenant, User


@transaction.atomic
def tenant_create(
    *, owner: User, name: str, organisation_number: str = "", language: str = "sv"
) -> Tenant:
    """A new company with its owner and an integration waiting to be set up."""
    tenant = Tenant.objects.create(
        name=name, organisation_number=organisation_number, language=language
    )
    Membership.objects.create(user=owner, tenant=tenant, role=Membership.Role.OWNER)
    integration_create(tenant=tenant, problem_email=owner.email)
    return tenant
