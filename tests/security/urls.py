"""Every URL pattern of the root URLconf, found by walking it, and what kind of access each one
allows. A pattern that is not classified here fails tests/security/test_url_access.py until it is:
new URLs are refused by default until someone says who may use them and why."""

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Pattern:
    route: str
    name: str  # "namespace:name", or "" for an unnamed pattern
    params: tuple[str, ...]
    callback: object

    @property
    def family(self) -> str:
        return classify(self)


def patterns() -> list[Pattern]:
    found = []

    def walk(entries, prefix: str, namespace: str | None):
        for entry in entries:
            if isinstance(entry, URLResolver):
                inner = namespace
                if entry.namespace:
                    inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
                walk(entry.url_patterns, prefix + str(entry.pattern), inner)
            elif isinstance(entry, URLPattern):
                name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or ""
                found.append(
                    Pattern(
                        route=prefix + str(entry.pattern),
                        name=name,
                        params=tuple(entry.pattern.regex.groupindex),
                        callback=entry.callback,
                    )
                )

    walk(get_resolver().url_patterns, "", None)
    return found


# Open to anyone, each for a reason; what protects it is tested where the reason says.
PUBLIC = {
    "": "the landing page",
    "healthz": "the load balancer's health check: database, broker and tick status, no tenant data",
    "i18n/setlang/": "switches the language of the session (CSRF-protected POST)",
    "accounts/login/": "sign in (rate-limited, tests/security/test_login_rate_limit.py)",
    "accounts/signup/": "sign up",
    "accounts/inactive/": "the page for an inactive account",
    "accounts/confirm-email/": "'check your e-mail' after sign-up",
    "accounts/^confirm-email/(?P<key>[-:\\w]+)/$": (
        "e-mail confirmation: the key is allauth's signed token"
    ),
    "accounts/password/reset/": "asks for a reset link by e-mail",
    "accounts/password/reset/done/": "'the link is sent'",
    "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": (
        "the password reset link: allauth's token, checked before the form is shown"
    ),
    "accounts/password/reset/key/done/": "'password changed'",
    "accounts/login/code/confirm/": "allauth's login-by-code step (off: no code is ever sent)",
    "fortnox/callback/": (
        "the OAuth redirect: refused unless the state this browser was given comes back, once "
        "and in time (tests/fortnox/test_views.py); without a state it is a Marketplace "
        "activation, which only parks the tokens until someone signs in and claims them"
    ),
    "fortnox/consent/<str:token>/": (
        "the signed consent link (tests/fortnox/test_consent_link.py: forged, tampered, expired, "
        "used, another browser)"
    ),
    "app/reactivate/<str:token>/": (
        "the e-mailed reactivation link (tests/integrations/test_reactivation.py: forged, "
        "tampered, expired, reused, another company's, a viewer)"
    ),
    "companies/invitations/<str:token>/": (
        "the invitation link: only the token's hash is stored; expired, used and revoked tokens "
        "are refused (tests/tenants/test_team.py)"
    ),
    "api/v1/schema/": "the REST API's OpenAPI schema (no data)",
    "api/v1/docs/": "the REST API's documentation page (no data)",
    "hooks/ongoing/<str:token>/": (
        "Ongoing WMS's webhook: the unguessable token names the company, the secret in "
        "X-Auth-Token proves it is Ongoing, the body is capped; it only queues a targeted sync "
        "(realtime tests; hostile bodies: tests/realtime/test_webhooks_hostile.py)"
    ),
    "admin/login/": "the admin's sign-in page",
    "admin/logout/": "signs the session out (POST only): nothing of anyone's to protect",
    "accounts/logout/": "signs the session out (POST only): nothing of anyone's to protect",
}
# Only for a signed-in person, and only about themselves: anonymous requests go to sign in.
SIGNED_IN = {
    "accounts/reauthenticate/",
    "accounts/email/",
    "accounts/password/change/",
    "accounts/password/set/",
    "companies/new/",
    "companies/<int:tenant_id>/switch/",
    "fortnox/activation/",
}
# A company's pages: a member of the current company; writes (POST) for owners and
# administrators only.
MEMBER = {
    "companies/team/",
    "companies/team/invite/",
    "companies/team/members/<int:membership_id>/role/",
    "companies/team/members/<int:membership_id>/remove/",
    "companies/team/invitations/<int:invitation_id>/revoke/",
    "app/api-keys/",
    "app/api-keys/<int:key_id>/revoke/",
    "app/",
    "app/settings/",
    "app/runs/<int:run_id>/",
    "app/activate/",
    "app/pause/",
    "app/resume/",
    "app/run-now/",
    "app/failures/<int:failure_id>/retry/",
    "fortnox/",
    "fortnox/connect/",
    "fortnox/disconnect/",
    "fortnox/consent-link/",
    "ongoing/",
    "ongoing/disconnect/",
    "app/webhook/renew/",
}
# Whole families, each guarded in one place; every pattern of a family is swept.
FAMILIES = {
    "admin/": "admin",  # staff only (the admin site's own check); Support sees no secrets
    "api/v1/": "api",  # an API key of the company, nothing else
    # The emulated Fortnox and Ongoing, with their own OAuth and basic auth: mounted only with
    # SANDBOX_ENABLED, which production settings refuse (tests/config/test_settings.py).
    "sandbox/": "sandbox",
}


def classify(pattern: Pattern) -> str:
    if pattern.route in PUBLIC:
        return "public"
    if pattern.route in SIGNED_IN:
        return "signed_in"
    if pattern.route in MEMBER:
        return "member"
    for prefix, family in FAMILIES.items():
        if pattern.route.startswith(prefix):
            return family
    return "unclassified"


_CONVERTER = re.compile(r"(?<!\?P)<(?:\w+:)?(\w+)>")
_GROUP = re.compile(r"\(\?P<(\w+)>")


def url_for(pattern: Pattern, values: dict) -> str:
    """The pattern's path with its parameters filled from `values` by name."""
    missing = [name for name in pattern.params if name not in values]
    assert not missing, f"{pattern.route}: add a value for {missing} to the URL sweep"
    route = _CONVERTER.sub(lambda match: str(values[match.group(1)]), pattern.route)
    while (match := _GROUP.search(route)) is not None:
        depth, end = 0, match.start()
        for end in range(match.start(), len(route)):
            depth += {"(": 1, ")": -1}.get(route[end], 0)
            if depth == 0:
                break
        route = route[: match.start()] + str(values[match.group(1)]) + route[end + 1 :]
    return "/" + route.replace("^", "").replace("$", "")
