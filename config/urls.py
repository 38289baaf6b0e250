from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from integrations.health import healthz
from integrations.processes import registry

urlpatterns = [
    path(
        "",
        TemplateView.as_view(
            template_name="landing.html", extra_context={"processes": list(registry)}
        ),
        name="landing",
    ),
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("allauth.urls")),
    path("companies/", include("tenants.urls")),
    path("app/api-keys/", include("api.pages_urls")),
    path("app/webhook/", include("realtime.pages_urls")),
    path("app/", include("integrations.urls")),
    path("fortnox/", include("fortnox.urls")),
    path("ongoing/", include("ongoing.urls")),
    path("api/v1/", include("api.urls")),
    path("hooks/", include("realtime.urls")),
    path("admin/", admin.site.urls),
]

if settings.SANDBOX_ENABLED:
    urlpatterns += [
        path("sandbox/fortnox/", include("fortnox.sandbox.urls")),
        path("sandbox/ongoing/", include("ongoing.sandbox.urls")),
    ]
