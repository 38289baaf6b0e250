from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST, require_safe

from fortnox.models import FortnoxConnection
from ongoing.models import OngoingConnection
from realtime.views import settings_context as realtime_settings_context
from tenants.decorators import tenant_member_required
from tenants.middleware import SESSION_KEY as CURRENT_TENANT_SESSION_KEY

from .forms import IntegrationSettingsForm
from .models import SyncFailure
from .selectors import (
    failures_for_run,
    integration_for_tenant,
    integration_health,
    onboarding_steps,
    open_failures,
    process_states,
    run_for_tenant,
    run_progress,
    runs_for_integration,
)
from .services import integrations as services
from .services.failures import sync_failure_retry
from .services.reactivation import LinkProblem, reactivation_link_check, reactivation_link_use


@tenant_member_required
@require_safe
def home_view(request):
    integration = integration_for_tenant(tenant=request.tenant)
    runs = list(runs_for_integration(integration=integration)[:20])
    processes = [s for s in process_states(integration=integration) if s.enabled]
    failures = list(open_failures(integration=integration).select_related("run")[:50])
    return render(
        request,
        "integrations/home.html",
        {
            "integration": integration,
            "fortnox_connection": FortnoxConnection.objects.filter(tenant=request.tenant).first(),
            "ongoing_connection": OngoingConnection.objects.filter(tenant=request.tenant).first(),
            "processes": processes,
            "runs": runs,
            "progress": run_progress(integration=integration, runs=runs, processes=processes),
            "steps": onboarding_steps(integration=integration)
            if integration.status == integration.Status.SETUP
            else None,
            "failures": failures,
            "health": integration_health(integration=integration, failing=bool(failures)),
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
    return render(
        request,
        "integrations/settings.html",
        {
            "form": form,
            "integration": integration,
            "fortnox_connection": FortnoxConnection.objects.filter(tenant=request.tenant).first(),
            **realtime_settings_context(request),
        },
    )


@tenant_member_required
@require_safe
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


@tenant_member_required(manage=True)
@require_POST
def failure_retry_view(request, failure_id: int):
    failure = get_object_or_404(
        SyncFailure,
        pk=failure_id,
        integration__tenant=request.tenant,
        resolved_at__isnull=True,
    )
    if sync_failure_retry(failure=failure, actor=request.user):
        messages.success(
            request,
            _("%(object)s will be tried again in the run that has just been queued.")
            % {"object": f"{failure.object_type} {failure.object_ref}"},
        )
    else:
        messages.info(
            request,
            _("%(object)s will be tried again in the next run, once the integration runs.")
            % {"object": f"{failure.object_type} {failure.object_ref}"},
        )
    return redirect("integrations:home")


LINK_PROBLEMS = {
    LinkProblem.INVALID: (
        400,
        lambda: _(
            "This reactivation link is not valid. Check that you opened the whole link from the "
            "e-mail, or sign in and reactivate the integration from its status page."
        ),
    ),
    LinkProblem.EXPIRED: (
        410,
        lambda: _(
            "This reactivation link has expired. Sign in and reactivate the integration from "
            "its status page or its settings page."
        ),
    ),
    LinkProblem.USED: (
        410,
        lambda: _(
            "This reactivation link has already been used. If the integration still needs "
            "reactivation, sign in and use the Reactivate button on its status page."
        ),
    ),
    LinkProblem.RESOLVED: (
        410,
        lambda: _("The integration has already been reactivated. This link is no longer needed."),
    ),
    LinkProblem.OTHER_COMPANY: (
        403,
        lambda: _(
            "This link belongs to a company you do not administer. Sign in with the address "
            "the e-mail was sent to, or ask an owner or administrator of the company to "
            "reactivate the integration."
        ),
    ),
}


@require_GET
def reactivate_view(request, token: str):
    """The e-mailed link: sign in (address filled in), be an owner or administrator of its
    company, then on to the Fortnox consent with that company chosen."""
    check = reactivation_link_check(token=token)
    if check.ok and not request.user.is_authenticated:
        recipients = check.link.recipients
        query = {"next": request.path, "email": recipients[0] if len(recipients) == 1 else ""}
        return redirect(f"{reverse('account_login')}?{urlencode(query)}")
    if check.ok:
        check = reactivation_link_use(token=token, user=request.user)
    if not check.ok:
        status, message = LINK_PROBLEMS[check.problem]
        return render(
            request,
            "integrations/reactivate_problem.html",
            {"message": message(), "problem": check.problem.value},
            status=status,
        )
    request.session[CURRENT_TENANT_SESSION_KEY] = check.link.integration.tenant_id
    return render(
        request, "integrations/reactivate.html", {"tenant": check.link.integration.tenant}
    )
