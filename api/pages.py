"""The settings page where owners and administrators create and revoke their company's API keys."""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tenants.decorators import tenant_member_required

from .models import ApiKey
from .services import api_key_create, api_key_revoke


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        help_text=gettext_lazy("What the key is for, e.g. “BI dashboard”."),
    )


@tenant_member_required(manage=True)
def api_keys_view(request):
    form = ApiKeyForm(request.POST or None)
    created_key = None
    if request.method == "POST" and form.is_valid():
        _key, created_key = api_key_create(
            tenant=request.tenant, name=form.cleaned_data["name"], actor=request.user
        )
        form = ApiKeyForm()
    return render(
        request,
        "api/keys.html",
        {
            "form": form,
            "created_key": created_key,
            "keys": ApiKey.objects.filter(tenant=request.tenant).select_related("created_by"),
        },
    )


@tenant_member_required(manage=True)
@require_POST
def api_key_revoke_view(request, key_id: int):
    key = get_object_or_404(ApiKey, pk=key_id, tenant=request.tenant)
    api_key_revoke(key=key, actor=request.user)
    messages.success(request, _("The key %(name)s is revoked.") % {"name": key.name})
    return redirect("api_keys:list")
