"""Companies and their teams. Owners and administrators manage the team; only an owner may make
someone an owner, or change or remove an owner. A company always keeps at least one owner."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.services.integrations import integration_create

from .models import Invitation, Membership, Tenant, User
from .selectors import invitations_pending


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


INVITATION_LIFETIME = timedelta(days=7)


class InvitationInvalid(Exception):
    """Why an invitation link cannot be used: code is "unknown", "expired" or "used"."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_url(*, token: str) -> str:
    return settings.SITE_URL + reverse("tenants:invitation", args=[token])


def invitation_create(
    *, tenant: Tenant, email: str, role: str, invited_by: Membership
) -> tuple[Invitation, str]:
    """A pending invitation and its token (only its hash is stored); the e-mail goes out after the
    transaction commits. Raises ValidationError (field "email" or "role") when it cannot be."""
    from .tasks import tenant_invitation_send

    email = email.strip().lower()
    if role == Membership.Role.OWNER and invited_by.role != Membership.Role.OWNER:
        raise ValidationError({"role": _("Only an owner can invite another owner.")})
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        raise ValidationError({"email": _("%(email)s is already a member.") % {"email": email}})
    if invitations_pending(tenant=tenant).filter(email__iexact=email).exists():
        raise ValidationError(
            {
                "email": _(
                    "%(email)s has already been invited. Revoke that invitation to send a new one."
                )
                % {"email": email}
            }
        )
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = Invitation.objects.create(
            tenant=tenant,
            email=email,
            role=role,
            invited_by=invited_by.user,
            token_hash=_hash(token),
            expires_at=timezone.now() + INVITATION_LIFETIME,
        )
        transaction.on_commit(lambda: tenant_invitation_send.delay(invitation.pk, token))
    return invitation, token


def invitation_for_token(*, token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_related("tenant", "invited_by")
        .filter(token_hash=_hash(token))
        .first()
    )
    if invitation is None:
        raise InvitationInvalid("unknown")
    if invitation.accepted_at is not None:
        raise InvitationInvalid("used")
    if invitation.expires_at <= timezone.now():
        raise InvitationInvalid("expired")
    return invitation


def invitation_accept(*, token: str, user: User) -> Membership:
    """Join the company with the invited role, once. The signed-in person must have the address
    the invitation was sent to: a forwarded link does not let someone else in."""
    with transaction.atomic():
        invitation = invitation_for_token(token=token)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at is not None:
            raise InvitationInvalid("used")
        if invitation.email.lower() != user.email.lower():
            raise ValidationError(
                _(
                    "This invitation was sent to %(invited)s, but you are signed in as "
                    "%(user)s. Sign out and sign in (or create an account) with %(invited)s."
                )
                % {"invited": invitation.email, "user": user.email}
            )
        membership, _created = Membership.objects.get_or_create(
            user=user, tenant=invitation.tenant, defaults={"role": invitation.role}
        )
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
    return membership


def invitation_revoke(*, invitation: Invitation) -> None:
    invitation.delete()


def _owners_left(*, tenant: Tenant, without: Membership) -> int:
    return (
        Membership.objects.filter(tenant=tenant, role=Membership.Role.OWNER)
        .exclude(pk=without.pk)
        .count()
    )


def _check_may_change(*, membership: Membership, actor: Membership, new_role: str | None) -> None:
    touches_owner = membership.role == Membership.Role.OWNER or new_role == Membership.Role.OWNER
    if touches_owner and actor.role != Membership.Role.OWNER:
        raise ValidationError(_("Only an owner can make someone an owner or change an owner."))
    if (
        membership.role == Membership.Role.OWNER
        and new_role != Membership.Role.OWNER
        and _owners_left(tenant=membership.tenant, without=membership) == 0
    ):
        raise ValidationError(
            _("A company needs at least one owner. Make someone else an owner first.")
        )


def membership_role_change(*, membership: Membership, role: str, actor: Membership) -> Membership:
    with transaction.atomic():
        # Lock the company's owners so two changes cannot both remove "the other" last owner.
        list(Membership.objects.select_for_update().filter(tenant=membership.tenant).order_by("pk"))
        membership.refresh_from_db()
        _check_may_change(membership=membership, actor=actor, new_role=role)
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def membership_remove(*, membership: Membership, actor: Membership) -> None:
    with transaction.atomic():
        list(Membership.objects.select_for_update().filter(tenant=membership.tenant).order_by("pk"))
        membership.refresh_from_db()
        _check_may_change(membership=membership, actor=actor, new_role=None)
        membership.delete()
