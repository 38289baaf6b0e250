from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .forms import TenantForm
from .middleware import SESSION_KEY
from .selectors import membership_for_user, memberships_for_user
from .services import tenant_create


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
