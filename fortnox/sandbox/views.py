"""The emulated Fortnox auth server and its pages: sign-in, consent (oauth-v1/auth), the token and
revoke endpoints, and the Marketplace page with its Activate button."""

import base64
import binascii
from urllib.parse import urlencode

from django.contrib.auth.hashers import check_password
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from integrations.sandbox_faults import inject_after, inject_before

from .auth import (
    SCOPES,
    InvalidGrant,
    authorization_code_issue,
    code_company,
    code_exchange,
    refresh_token_company,
    refresh_token_revoke,
    refresh_token_rotate,
)
from .models import SandboxApp, SandboxUser

SESSION_USER = "fortnox_sandbox_user_id"


def signed_in_user(request: HttpRequest) -> SandboxUser | None:
    user_id = request.session.get(SESSION_USER)
    if not user_id:
        return None
    return SandboxUser.objects.select_related("company").filter(pk=user_id).first()


def _login_page(request: HttpRequest, *, next_url: str, error: str = "", status: int = 200):
    return render(
        request,
        "fortnox_sandbox/login.html",
        {"next": next_url, "error": error, "users": SandboxUser.objects.order_by("pk")[:5]},
        status=status,
    )


def _problem(request: HttpRequest, message: str, *, status: int = 400):
    return render(request, "fortnox_sandbox/problem.html", {"message": message}, status=status)


@require_http_methods(["GET", "POST"])
def login_view(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("fortnox_sandbox:index")
    if request.method == "POST":
        user = SandboxUser.objects.filter(email__iexact=request.POST.get("email", "")).first()
        if user is None or not check_password(request.POST.get("password", ""), user.password):
            return _login_page(
                request, next_url=next_url, error="Fel e-postadress eller lösenord.", status=401
            )
        request.session[SESSION_USER] = user.pk
        return redirect(next_url)
    return _login_page(request, next_url=next_url)


@require_POST
def logout_view(request):
    request.session.pop(SESSION_USER, None)
    return redirect("fortnox_sandbox:index")


def _back_to_app(redirect_uri: str, state: str, **query) -> HttpResponseRedirect:
    if state:
        query["state"] = state
    separator = "&" if "?" in redirect_uri else "?"
    return HttpResponseRedirect(f"{redirect_uri}{separator}{urlencode(query)}")


@require_http_methods(["GET", "POST"])
def authorize_view(request):
    """oauth-v1/auth: sign in, read the permissions, Allow or Deny."""
    params = request.GET
    app = SandboxApp.objects.filter(client_id=params.get("client_id", "")).first()
    if app is None:
        return _problem(request, "Okänd klient (client_id).")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri != app.redirect_uri:
        # Never send a code to an address the app did not register.
        return _problem(request, "redirect_uri matchar inte den registrerade adressen.")
    state = params.get("state", "")
    if params.get("response_type") != "code":
        return _back_to_app(redirect_uri, state, error="unsupported_response_type")
    scopes = params.get("scope", "").split()
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if not scopes or unknown:
        return _back_to_app(
            redirect_uri,
            state,
            error="invalid_scope",
            error_description=f"Okända scopes: {' '.join(unknown) or '(inga)'}",
        )
    user = signed_in_user(request)
    if user is None:
        return _login_page(request, next_url=request.get_full_path())
    if request.method == "POST":
        if request.POST.get("decision") == "allow":
            code = authorization_code_issue(
                app=app, user=user, scopes=scopes, redirect_uri=redirect_uri
            )
            return _back_to_app(redirect_uri, state, code=code)
        return _back_to_app(
            redirect_uri,
            state,
            error="access_denied",
            error_description="The resource owner denied the request.",
        )
    return render(
        request,
        "fortnox_sandbox/consent.html",
        {
            "app": app,
            "sandbox_user": user,
            "scopes": [(scope, SCOPES[scope]) for scope in scopes],
            "offline": params.get("access_type") == "offline",
        },
    )


def _client(request: HttpRequest) -> SandboxApp | None:
    """HTTP Basic client authentication, as Fortnox requires at the token endpoint."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        client_id, _sep, secret = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    app = SandboxApp.objects.filter(client_id=client_id).first()
    if app is None or not constant_time_compare(app.client_secret, secret):
        return None
    return app


def _oauth_error(error: str, description: str, status: int) -> JsonResponse:
    return JsonResponse({"error": error, "error_description": description}, status=status)


def _faults(company):
    return inject_before(
        company,
        server_error=lambda: _oauth_error("server_error", "Internal error", 500),
        rate_limited=lambda: _oauth_error("rate_limited", "Too many requests", 429),
    )


@csrf_exempt
@require_POST
def token_view(request):
    app = _client(request)
    if app is None:
        return _oauth_error("invalid_client", "Invalid client credentials", 401)
    grant_type = request.POST.get("grant_type", "")
    if grant_type == "authorization_code":
        code = request.POST.get("code", "")
        company = code_company(app=app, code=code)
        faulty = _faults(company)
        if faulty is not None:
            return faulty
        try:
            body = code_exchange(
                app=app, code=code, redirect_uri=request.POST.get("redirect_uri", "")
            )
        except InvalidGrant as error:
            return _oauth_error("invalid_grant", str(error), 400)
    elif grant_type == "refresh_token":
        refresh_token = request.POST.get("refresh_token", "")
        company = refresh_token_company(app=app, refresh_token=refresh_token)
        faulty = _faults(company)
        if faulty is not None:
            return faulty
        try:
            body = refresh_token_rotate(app=app, refresh_token=refresh_token)
        except InvalidGrant as error:
            return _oauth_error("invalid_grant", str(error), 400)
    else:
        return _oauth_error("unsupported_grant_type", "Unsupported grant type", 400)
    # The new pair is committed; a "lost response" fault now loses it the way a dropped
    # connection would.
    return inject_after(company, JsonResponse(body))


@csrf_exempt
@require_POST
def revoke_view(request):
    app = _client(request)
    if app is None:
        return _oauth_error("invalid_client", "Invalid client credentials", 401)
    token = request.POST.get("token", "")
    company = refresh_token_company(app=app, refresh_token=token)
    faulty = _faults(company)
    if faulty is not None:
        return faulty
    refresh_token_revoke(app=app, token=token)
    return inject_after(company, JsonResponse({"revoked": True}))


@require_http_methods(["GET", "POST"])
def marketplace_view(request):
    """The app's page in the Fortnox Marketplace: Activate sends the browser to the app's
    redirect URI with a code (and no state)."""
    user = signed_in_user(request)
    if user is None:
        return _login_page(request, next_url=request.get_full_path())
    if request.method == "POST":
        app = get_object_or_404(SandboxApp, pk=request.POST.get("app"))
        code = authorization_code_issue(
            app=app, user=user, scopes=list(app.scopes), redirect_uri=app.redirect_uri
        )
        return _back_to_app(app.redirect_uri, "", code=code)
    return render(
        request,
        "fortnox_sandbox/marketplace.html",
        {
            "sandbox_user": user,
            "apps": [
                (app, [(scope, SCOPES.get(scope, scope)) for scope in app.scopes])
                for app in SandboxApp.objects.order_by("name")
            ],
        },
    )
