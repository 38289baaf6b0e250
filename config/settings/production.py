"""Production: PostgreSQL + Redis, HTTPS behind a proxy. Refuses to start when a setting would make
it unsafe, instead of running with a guessable key or an emulated Fortnox."""

from django.core.exceptions import ImproperlyConfigured

from .base import *
from .base import DATABASES, MIDDLEWARE, SALT_KEY, SANDBOX_ENABLED, SECRET_KEY, env

DEBUG = False


def _refuse(reason: str) -> None:
    raise ImproperlyConfigured(f"Production settings refused: {reason}")


if SANDBOX_ENABLED:
    _refuse("SANDBOX_ENABLED must be off; the sandboxes emulate Fortnox and Ongoing for demos.")
if not SECRET_KEY or SECRET_KEY.startswith("django-insecure") or len(set(SECRET_KEY)) < 5:
    _refuse("SECRET_KEY is missing or a development default.")
if len(SECRET_KEY) < 50:
    _refuse("SECRET_KEY must be at least 50 characters.")
if not SALT_KEY or any(len(key) < 16 or "local-only" in key for key in SALT_KEY):
    _refuse("ENCRYPTION_KEYS must hold at least one random key of 16+ characters.")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _refuse("DATABASE_URL must point at PostgreSQL.")

CELERY_BROKER_URL = env("CELERY_BROKER_URL")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Compose and load-balancer health checks speak plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Production runs behind the TLS-terminating proxy trusted above: without counting it, every
# request would come from the proxy's address and one client's failed logins would lock out all.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
# gunicorn serves the static files itself (collected into STATIC_ROOT at image build).
MIDDLEWARE = [MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
ADMINS = [("Support", addr) for addr in env.list("ADMINS", default=[])]
