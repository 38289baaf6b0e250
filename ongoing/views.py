from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from tenants.decorators import tenant_member_required

from .forms import OngoingConnectionForm
from .models import OngoingConnection
from .selectors import ongoing_connection_for_tenant
from .services import ongoing_connection_forget


@sensitive_post_parameters("password")
@tenant_member_required(manage=True)
def connection_view(request):
    """The warehouse step of onboarding and of reactivation: System, username and password for the
    current company (request.tenant). Nothing is stored unless the WMS accepted the credentials."""
    connection = ongoing_connection_for_tenant(tenant=request.tenant)
    if request.method == "POST":
        form = OngoingConnectionForm(request.POST)
        if form.is_valid():
            connection = form.save(tenant=request.tenant)
            messages.success(
                request,
                _("Connected to %(warehouse)s as goods owner %(goods_owner)s.")
                % {
                    "warehouse": connection.warehouse,
                    "goods_owner": connection.goods_owner_name or connection.goods_owner_id,
                },
            )
            return redirect("ongoing:connection")
    else:
        # As on Ongoing's own reactivation page, System and username are filled in: only the
        # password has to be typed again (it is never sent back to the browser).
        initial = (
            {"system": connection.system, "username": connection.username} if connection else {}
        )
        form = OngoingConnectionForm(initial=initial)
    return render(request, "ongoing/connection.html", {"form": form, "connection": connection})


@tenant_member_required(manage=True)
@require_POST
def disconnect_view(request):
    connection = ongoing_connection_for_tenant(tenant=request.tenant)
    if connection is not None and connection.status != OngoingConnection.Status.DISCONNECTED:
        ongoing_connection_forget(connection=connection, actor=request.user)
        messages.success(
            request,
            _("The warehouse has been disconnected and its password forgotten."),
        )
    return redirect("ongoing:connection")
