from django.db.models import QuerySet

from .models import Invitation, Membership, Tenant, User


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__name")


def membership_for_user(*, user: User, tenant_id: int | None) -> Membership | None:
    """The user's membership of that company, or of their first company when none is asked for
    (or when the asked-for one is not theirs)."""
    memberships = memberships_for_user(user=user)
    if tenant_id is not None:
        chosen = memberships.filter(tenant_id=tenant_id).first()
        if chosen is not None:
            return chosen
    return memberships.first()


def tenants_for_user(*, user: User) -> QuerySet[Tenant]:
    return Tenant.objects.filter(memberships__user=user).order_by("name")


def invitations_pending(*, tenant: Tenant) -> QuerySet[Invitation]:
    """Invitations not accepted yet, expired ones included (the team page marks them)."""
    return Invitation.objects.filter(tenant=tenant, accepted_at__isnull=True).order_by("email")


def memberships_of_tenant(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__email")
