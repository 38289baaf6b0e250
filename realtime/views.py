from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .services.webhooks import WebhookRefused, webhook_receive


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
