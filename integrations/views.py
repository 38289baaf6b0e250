from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fortnox.models import FortnoxConnection
from ongoing.models import OngoingConnection
from tenants.decorators import tenant_member_required

from .forms import IntegrationSettingsForm
from .selectors import (
    failures_for_run,
    integration_for_tenant,
    open_failures,
    process_states,
    run_for_tenant,
    runs_for_integration,
)
from .services import integrations as services


@tenant_member_required
def home_view(request):
    integration = integration_for_tenant(tenant=request.tenant)
    return render(
        request,
        "integrations/home.html",
        {
            "integration": integration,
            "fortnox_connection": FortnoxConnection.objects.filter(tenant=request.tenant).first(),
            "ongoing_connection": OngoingConnection.objects.filter(tenant=request.tenant).first(),
            "processes": [s for s in process_states(integration=integration) if s.enabled],
            "runs": runs_for_integration(integration=integration)[:20],
            "failures": open_failures(integration=integration).select_related("run")[:50],
        },
    )


@tenant_member_required
def settings_view(request):
    integration = integration_for_tenant(tenant=request.tenant)
    form = IntegrationSettingsForm(request.POST or None, integration=integration)
    if request.method == "POST":
        if not request.membership.can_manage:
            messages.error(request, _("Viewers cannot change the settings."))
            return redirect("integrations:settings")
        if form.is_valid():
            try:
                changes = form.save(actor=request.user)
            except ValidationError:
                pass
            else:
                if changes:
                    messages.success(request, _("Settings saved. They apply from the next run."))
                else:
                    messages.info(request, _("Nothing was changed."))
                return redirect("integrations:settings")
    return render(request, "integrations/settings.html", {"form": form, "integration": integration})


@tenant_member_required
def run_detail_view(request, run_id: int):
    run = run_for_tenant(tenant=request.tenant, run_id=run_id)
    return render(
        request,
        "integrations/run_detail.html",
        {"run": run, "failures": failures_for_run(run=run)},
    )


def _lifecycle_view(action, success_message):
    @tenant_member_required(manage=True)
    @require_POST
    def view(request):
        integration = integration_for_tenant(tenant=request.tenant)
        try:
            action(integration=integration, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, success_message())
        return redirect("integrations:home")

    return view


activate_view = _lifecycle_view(
    services.integration_activate, lambda: _("The integration is active. The first run starts now.")
)
pause_view = _lifecycle_view(
    services.integration_pause, lambda: _("The integration is paused; no runs start until resumed.")
)
resume_view = _lifecycle_view(
    services.integration_resume, lambda: _("The integration is running again.")
)
run_now_view = _lifecycle_view(
    services.integration_request_run,
    lambda: _("A run has been queued. It appears below when it starts."),
)
