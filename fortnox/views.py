"""Consent with Fortnox. Two ways in:

- From here: "Connect" (POST) keeps a random `state` in the session, bound to the company and the
  person, and sends the browser to Fortnox's consent page. The callback takes the state out of
  the session (single use) and only then exchanges the code.
- From the Fortnox Marketplace: Fortnox opens the callback with a code and no state of ours. The
  code is exchanged at once (it lives 10 minutes), the company identified, and the tokens parked
  as a PendingFortnoxActivation whose id stays in the session while the person signs up or signs
  in; the activation page then creates their company from the Fortnox data (or reconnects the one
  that already has this Fortnox company) and claims the tokens.
- From a consent link (fortnox/services/consent_links.py) an owner sent to whoever administers
  Fortnox: the state is bound to that browser and to the link's company instead of to a person, so
  no account is needed; the callback connects that company and thanks the visitor.
"""

import logging
import secrets
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from tenants.decorators import tenant_member_required
from tenants.middleware import SESSION_KEY as CURRENT_TENANT_SESSION_KEY
from tenants.models import Membership, Tenant
from tenants.services import tenant_create

from .errors import FortnoxError
from .forms import ConsentLinkForm
from .oauth import TokenSet, authorization_url_build, oauth_code_exchange, oauth_token_revoke
from .selectors import connection_for_tenant, pending_activation_unclaimed
from .services.connections import (
    connection_connect,
    connection_disconnect,
    fortnox_company_identify,
    pending_activation_claim,
    pending_activation_create,
)
from .services.consent_links import (
    ConsentLink,
    ConsentLinkInvalid,
    consent_link_create,
    consent_link_read,
    consent_link_send,
    consent_link_url,
)

logger = logging.getLogger(__name__)

STATE_SESSION_KEY = "fortnox_oauth"
PENDING_SESSION_KEY = "fortnox_pending_activation"
# Long enough to sign in to Fortnox and read the permissions; the code itself lives 10 minutes.
STATE_LIFETIME_SECONDS = 30 * 60
# What the consent link's page tells the Fortnox administrator each permission is for.
SCOPE_PURPOSES = {
    "article": gettext_lazy("Articles: read them for the warehouse, write the stock balance"),
    "companyinformation": gettext_lazy("Company information: which Fortnox company this is"),
    "customer": gettext_lazy("Customers: read the customer of each order"),
    "invoice": gettext_lazy("Invoices: create the invoice when an order has been delivered"),
    "order": gettext_lazy("Orders: read new orders, write delivered quantities"),
    "supplier": gettext_lazy("Suppliers: read them for the warehouse's articles"),
    "warehouse": gettext_lazy("Warehouse: purchase orders, incoming goods and stock"),
    "warehousecustomdocument": gettext_lazy(
        "Warehouse documents: report returns and inventory adjustments"
    ),
}


def _state_begin(request, *, link: ConsentLink | None = None) -> str:
    state = secrets.token_urlsafe(32)
    request.session[STATE_SESSION_KEY] = {
        "state": state,
        "tenant_id": link.tenant.pk if link else request.tenant.pk,
        "user_id": request.user.pk,
        "consent_link": link.token if link else "",
        "expires": time.time() + STATE_LIFETIME_SECONDS,
    }
    return state


def _state_take(request, state: str) -> dict | None:
    """The consent this state belongs to, or None. Removed from the session whatever the outcome,
    so a state works once."""
    stored = request.session.pop(STATE_SESSION_KEY, None)
    if not isinstance(stored, dict) or not state:
        return None
    if not constant_time_compare(str(stored.get("state", "")), state):
        return None
    if stored.get("expires", 0) < time.time():
        return None
    if stored.get("consent_link"):
        # Bound to the browser that opened a valid consent link, whoever (if anyone) signed in.
        return stored
    if not request.user.is_authenticated or request.user.pk != stored.get("user_id"):
        return None
    return stored


def _problem(request, message: str, *, status: int = 400):
    return render(request, "fortnox/problem.html", {"message": message}, status=status)


def _revoke_quietly(tokens: TokenSet) -> None:
    """A consent we will not use should not stay valid at Fortnox."""
    if tokens.refresh_token:
        try:
            oauth_token_revoke(refresh_token=tokens.refresh_token)
        except FortnoxError as error:
            logger.warning("fortnox: could not revoke an unused consent: %s", error)


@tenant_member_required
@require_safe
def connection_view(request):
    return render(
        request,
        "fortnox/connection.html",
        {
            "connection": connection_for_tenant(tenant=request.tenant),
            "consent_link_form": ConsentLinkForm(),
        },
    )


@tenant_member_required(manage=True)
@require_POST
def consent_link_create_view(request):
    """A new consent link for the current company, shown to copy and e-mailed when asked."""
    form = ConsentLinkForm(request.POST)
    context = {
        "connection": connection_for_tenant(tenant=request.tenant),
        "consent_link_form": form,
    }
    if form.is_valid():
        token = consent_link_create(tenant=request.tenant)
        email = form.cleaned_data["email"]
        if email:
            consent_link_send(tenant=request.tenant, email=email, token=token, actor=request.user)
            messages.success(
                request, _("The consent link has been e-mailed to %(email)s.") % {"email": email}
            )
        context.update(
            consent_link_form=ConsentLinkForm(), consent_link=consent_link_url(token=token)
        )
    return render(request, "fortnox/connection.html", context)


def _consent_link_refused(request, refusal: ConsentLinkInvalid):
    messages_by_code = {
        "expired": _(
            "This consent link is older than seven days and no longer works. Ask the person who "
            "sent it for a new one."
        ),
        "used": _(
            "Fortnox has already been connected since this link was made, so it no longer works. "
            "If something is still missing, ask the person who sent it for a new link."
        ),
        "tampered": _(
            "This consent link is not valid. Check that the whole address was copied, or ask the "
            "person who sent it for a new one."
        ),
    }
    return render(
        request,
        "fortnox/consent_link_invalid.html",
        {"message": messages_by_code[refusal.code]},
        status=400 if refusal.code == "tampered" else 410,
    )


@require_http_methods(["GET", "POST"])
def consent_link_view(request, token: str):
    """The page a consent link opens: the company, what is asked, and a button to Fortnox."""
    try:
        link = consent_link_read(token=token)
    except ConsentLinkInvalid as refusal:
        return _consent_link_refused(request, refusal)
    if request.method == "POST":
        return redirect(authorization_url_build(state=_state_begin(request, link=link)))
    scopes = [SCOPE_PURPOSES.get(scope, scope) for scope in dict.fromkeys(settings.FORTNOX_SCOPES)]
    return render(request, "fortnox/consent_link.html", {"tenant": link.tenant, "scopes": scopes})


@tenant_member_required(manage=True)
@require_POST
def connect_view(request):
    return redirect(authorization_url_build(state=_state_begin(request)))


@tenant_member_required(manage=True)
@require_POST
def disconnect_view(request):
    connection = connection_for_tenant(tenant=request.tenant)
    if connection is not None:
        connection_disconnect(connection=connection, actor=request.user)
        messages.success(request, _("Fortnox has been disconnected."))
    return redirect("fortnox:connection")


@require_GET
def callback_view(request):
    error = request.GET.get("error", "")
    state = request.GET.get("state", "")
    code = request.GET.get("code", "")
    if error:
        consent = _state_take(request, state) if state else None
        if error == "access_denied":
            link = (consent or {}).get("consent_link")
            retry_url = reverse("fortnox:consent_link", args=[link]) if link else ""
            return render(request, "fortnox/denied.html", {"retry_url": retry_url})
        return _problem(
            request,
            _("Fortnox did not complete the connection (%(error)s). Please try again.")
            % {"error": error[:100]},
        )
    if not code:
        return _problem(request, _("Fortnox sent no authorisation code. Please try again."))
    if not state:
        return _marketplace_activation(request, code)

    consent = _state_take(request, state)
    if consent is None:
        return _problem(
            request,
            _(
                "This answer from Fortnox does not belong to a connection started here, or it "
                "has already been used. Start the connection again."
            ),
        )
    if consent.get("consent_link"):
        return _consent_link_finish(request, consent, code)
    membership = Membership.objects.filter(
        user=request.user, tenant_id=consent["tenant_id"]
    ).first()
    if membership is None or not membership.can_manage:
        return _problem(request, _("You may not connect Fortnox for this company."), status=403)
    try:
        tokens = oauth_code_exchange(code=code)
        company = fortnox_company_identify(tokens=tokens)
    except FortnoxError as error:
        logger.warning("fortnox consent for tenant %s failed: %s", membership.tenant_id, error)
        return _problem(
            request,
            _("Fortnox could not complete the connection. Please try again in a moment."),
            status=502,
        )
    try:
        connection_connect(
            tenant=membership.tenant, tokens=tokens, company=company, actor=request.user
        )
    except ValidationError as error:
        _revoke_quietly(tokens)
        return _problem(request, " ".join(error.messages), status=409)
    request.session[CURRENT_TENANT_SESSION_KEY] = membership.tenant_id
    messages.success(
        request,
        _("Fortnox is connected: %(company)s.") % {"company": company.name},
    )
    return redirect("integrations:home")


def _consent_link_finish(request, consent: dict, code: str):
    """The Fortnox administrator came back from consent through a consent link."""
    try:
        link = consent_link_read(token=consent["consent_link"])
    except ConsentLinkInvalid as refusal:
        return _consent_link_refused(request, refusal)
    try:
        tokens = oauth_code_exchange(code=code)
        company = fortnox_company_identify(tokens=tokens)
    except FortnoxError as error:
        logger.warning("fortnox consent by link for tenant %s failed: %s", link.tenant.pk, error)
        return _problem(
            request,
            _("Fortnox could not complete the connection. Please try again in a moment."),
            status=502,
        )
    try:
        connection_connect(tenant=link.tenant, tokens=tokens, company=company, actor=request.user)
    except ValidationError as error:
        _revoke_quietly(tokens)
        return _problem(request, " ".join(error.messages), status=409)
    return render(
        request, "fortnox/consent_link_done.html", {"tenant": link.tenant, "company": company}
    )


def _marketplace_activation(request, code: str):
    try:
        tokens = oauth_code_exchange(code=code)
        company = fortnox_company_identify(tokens=tokens)
    except FortnoxError as error:
        logger.warning("fortnox marketplace activation failed: %s", error)
        return _problem(
            request,
            _(
                "The activation from Fortnox could not be completed. Activate the app in the "
                "Fortnox Marketplace again."
            ),
            status=502,
        )
    activation = pending_activation_create(tokens=tokens, company=company)
    request.session[PENDING_SESSION_KEY] = str(activation.pk)
    return redirect("fortnox:activation")


@login_required
@require_http_methods(["GET", "POST"])
def activation_view(request):
    """Where a Marketplace activation lands once the person is signed in."""
    activation = pending_activation_unclaimed(
        activation_id=request.session.get(PENDING_SESSION_KEY)
    )
    if activation is None:
        messages.info(request, _("There is no Fortnox activation waiting."))
        return redirect("integrations:home")
    managed = {
        membership.tenant_id: membership.tenant
        for membership in Membership.objects.filter(user=request.user).select_related("tenant")
        if membership.can_manage
    }
    owner_tenant = Tenant.objects.filter(fortnox_tenant_id=activation.fortnox_tenant_id).first()
    if owner_tenant is not None:
        choices = [owner_tenant] if owner_tenant.pk in managed else []
    else:
        choices = [tenant for tenant in managed.values() if tenant.fortnox_tenant_id is None]

    if request.method == "POST":
        try:
            with transaction.atomic():
                if request.POST.get("action") == "create" and owner_tenant is None:
                    tenant = tenant_create(
                        owner=request.user,
                        name=activation.company_name or _("My company"),
                        organisation_number=activation.organisation_number,
                        language=(request.LANGUAGE_CODE or "sv")[:2],
                    )
                else:
                    chosen = request.POST.get("tenant_id", "")
                    tenant = next((t for t in choices if str(t.pk) == chosen), None)
                    if tenant is None:
                        raise ValidationError(_("Choose one of the companies offered."))
                pending_activation_claim(activation=activation, tenant=tenant, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("fortnox:activation")
        request.session.pop(PENDING_SESSION_KEY, None)
        request.session[CURRENT_TENANT_SESSION_KEY] = tenant.pk
        messages.success(
            request,
            _("Fortnox is connected to %(company)s. Continue with the warehouse settings.")
            % {"company": tenant.name},
        )
        return redirect("integrations:home")

    return render(
        request,
        "fortnox/activation.html",
        {"activation": activation, "choices": choices, "owner_tenant": owner_tenant},
    )
