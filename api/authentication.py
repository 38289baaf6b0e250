from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from .models import ApiKey
from .services import (
    api_key_authenticate,
    api_key_failure_count,
    api_key_failures_exceeded,
    client_address,
)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <key>` (or `Api-Key <key>`). The request's auth is the ApiKey; its
    tenant is the only company the request can see."""

    keywords = ("bearer", "api-key")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header."))
        address = client_address(request._request)
        if api_key_failures_exceeded(address=address):
            raise exceptions.Throttled(
                wait=60, detail=_("Too many requests with an unknown API key. Wait a minute.")
            )
        key = api_key_authenticate(raw_key=header[1])
        if key is None:
            api_key_failure_count(address=address)
            raise exceptions.AuthenticationFailed(_("Unknown or revoked API key."))
        return (key.created_by or AnonymousUser(), key)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class HasApiKey(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, ApiKey)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Describes ApiKeyAuthentication in the OpenAPI schema."""

    target_class = "api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A company's API key."}
