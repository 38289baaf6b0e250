from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from .decorators import tenant_member_required
from .forms import InvitationForm, RoleForm, TenantForm
from .middleware import SESSION_KEY
from .models import Membership
from .selectors import (
    invitations_pending,
    membership_for_user,
    memberships_for_user,
    memberships_of_tenant,
)
from .services import (
    InvitationInvalid,
    invitation_accept,
    invitation_create,
    invitation_for_token,
    invitation_revoke,
    membership_remove,
    membership_role_change,
    tenant_create,
)


@login_required
def tenant_create_view(request):
    form = TenantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        tenant = tenant_create(owner=request.user, language=get_language()[:2], **form.cleaned_data)
        request.session[SESSION_KEY] = tenant.pk
        messages.success(request, _("%(name)s has been created.") % {"name": tenant.name})
        return redirect("integrations:home")
    return render(
        request,
        "tenants/tenant_create.html",
        {"form": form, "memberships": memberships_for_user(user=request.user)},
    )


@login_required
@require_POST
def tenant_switch_view(request, tenant_id: int):
    membership = membership_for_user(user=request.user, tenant_id=tenant_id)
    if membership is None or membership.tenant_id != tenant_id:
        raise Http404
    request.session[SESSION_KEY] = membership.tenant_id
    return redirect("integrations:home")


# --- The team ---------------------------------------------------------------------------------

INVITATION_SESSION_KEY = "pending_invitation"


def _team_page(request, *, invite_form=None, status: int = 200):
    return render(
        request,
        "tenants/team.html",
        {
            "members": memberships_of_tenant(tenant=request.tenant),
            "invitations": invitations_pending(tenant=request.tenant),
            "invite_form": invite_form or InvitationForm(),
            "roles": Membership.Role.choices,
            "now": timezone.now(),
        },
        status=status,
    )


@tenant_member_required
@require_safe
def team_view(request):
    return _team_page(request)


@tenant_member_required(manage=True)
@require_POST
def team_invite_view(request):
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation, _token = invitation_create(
                tenant=request.tenant,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.membership,
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field, message)
        else:
            messages.success(
                request,
                _("An invitation has been e-mailed to %(email)s.") % {"email": invitation.email},
            )
            return redirect("tenants:team")
    return _team_page(request, invite_form=form)


def _member_of_current_tenant(request, membership_id: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user", "tenant"),
        pk=membership_id,
        tenant=request.tenant,
    )


@tenant_member_required(manage=True)
@require_POST
def team_role_view(request, membership_id: int):
    membership = _member_of_current_tenant(request, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["role"]))
        return redirect("tenants:team")
    try:
        membership_role_change(
            membership=membership, role=form.cleaned_data["role"], actor=request.membership
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("%(email)s is now %(role)s.")
            % {"email": membership.user.email, "role": membership.get_role_display().lower()},
        )
    return redirect("tenants:team")


@tenant_member_required(manage=True)
@require_POST
def team_remove_view(request, membership_id: int):
    membership = _member_of_current_tenant(request, membership_id)
    try:
        membership_remove(membership=membership, actor=request.membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("tenants:team")
    messages.success(request, _("%(email)s has been removed.") % {"email": membership.user.email})
    if membership.user_id == request.user.pk:
        request.session.pop(SESSION_KEY, None)
        return redirect("integrations:home")
    return redirect("tenants:team")


@tenant_member_required(manage=True)
@require_POST
def team_revoke_view(request, invitation_id: int):
    invitation = get_object_or_404(invitations_pending(tenant=request.tenant), pk=invitation_id)
    invitation_revoke(invitation=invitation)
    messages.success(
        request, _("The invitation to %(email)s has been revoked.") % {"email": invitation.email}
    )
    return redirect("tenants:team")


def _invitation_refused(request, refusal: InvitationInvalid):
    text = {
        "unknown": _(
            "This invitation link is not valid: it was revoked, or the address was not copied "
            "whole. Ask the person who invited you for a new invitation."
        ),
        "expired": _(
            "This invitation is older than seven days and no longer works. Ask the person who "
            "invited you for a new one."
        ),
        "used": _("This invitation has already been accepted. Sign in to reach the company."),
    }[refusal.code]
    request.session.pop(INVITATION_SESSION_KEY, None)
    return render(
        request,
        "tenants/invitation_invalid.html",
        {"message": text},
        status=404 if refusal.code == "unknown" else 410,
    )


@require_http_methods(["GET", "POST"])
def invitation_view(request, token: str):
    """Where the e-mailed link lands: sign in or sign up (e-mail filled in), then join."""
    try:
        invitation = invitation_for_token(token=token)
    except InvitationInvalid as refusal:
        return _invitation_refused(request, refusal)
    if not request.user.is_authenticated:
        # Remembered so that sign-up with e-mail verification still ends here.
        request.session[INVITATION_SESSION_KEY] = token
        here = reverse("tenants:invitation", args=[token])
        query = urlencode({"next": here, "email": invitation.email})
        return render(
            request,
            "tenants/invitation.html",
            {
                "invitation": invitation,
                "login_url": f"{reverse('account_login')}?{query}",
                "signup_url": f"{reverse('account_signup')}?{query}",
            },
        )
    if request.method == "POST":
        try:
            membership = invitation_accept(token=token, user=request.user)
        except InvitationInvalid as refusal:
            return _invitation_refused(request, refusal)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("tenants:invitation", token=token)
        request.session.pop(INVITATION_SESSION_KEY, None)
        request.session[SESSION_KEY] = membership.tenant_id
        messages.success(request, _("Welcome to %(name)s.") % {"name": membership.tenant.name})
        return redirect("integrations:home")
    return render(
        request,
        "tenants/invitation.html",
        {
            "invitation": invitation,
            "wrong_person": invitation.email.lower() != request.user.email.lower(),
        },
    )
