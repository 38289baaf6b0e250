from django.conf import settings
from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ongoing.models import OngoingConnection
from tenants.decorators import tenant_member_required

from .selectors import realtime_status
from .services.webhooks import (
    WebhookRefused,
    webhook_endpoint_for,
    webhook_endpoint_renew,
    webhook_receive,
    webhook_url,
)


def settings_context(request) -> dict:
    """The settings page's card: event and webhook health for everyone, the webhook address and
    secret for those who manage the integration (they paste them into Ongoing WMS)."""
    connection = OngoingConnection.objects.filter(
        tenant=request.tenant, status=OngoingConnection.Status.VERIFIED
    ).first()
    endpoint = None
    if connection is not None and request.membership.can_manage:
        endpoint = webhook_endpoint_for(connection=connection)
    return {
        "realtime": realtime_status(tenant=request.tenant, endpoint=endpoint),
        "webhook": {"url": webhook_url(endpoint=endpoint), "secret": endpoint.secret}
        if endpoint is not None
        else None,
    }


@tenant_member_required(manage=True)
@require_POST
def webhook_renew_view(request):
    connection = OngoingConnection.objects.filter(
        tenant=request.tenant, status=OngoingConnection.Status.VERIFIED
    ).first()
    if connection is not None:
        webhook_endpoint_renew(endpoint=webhook_endpoint_for(connection=connection))
        messages.success(
            request,
            _("New webhook address and secret made. Paste both into Ongoing WMS."),
        )
    return redirect(reverse("integrations:settings") + "#realtime")


@csrf_exempt
@require_POST
def ongoing_webhook_view(request, token: str):
    """POST /hooks/ongoing/<token>/ from Ongoing WMS: answered within milliseconds (the sync runs
    later, in a worker), so Ongoing's retries start only when we really did not take it."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > settings.WEBHOOK_MAX_BODY_BYTES:
        return JsonResponse({"error": "The body is too large."}, status=413)
    try:
        outcome = webhook_receive(
            token=token,
            auth_token=request.headers.get("X-Auth-Token", ""),
            body=request.body,
        )
    except WebhookRefused as refused:
        return JsonResponse({"error": refused.message}, status=refused.status)
    return JsonResponse(
        {
            "received": True,
            "duplicate": outcome.duplicate,
            "queued": outcome.queued,
            **({"ignored": outcome.ignored} if outcome.ignored else {}),
        }
    )
