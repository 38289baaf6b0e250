"""Test settings: SQLite and an in-memory broker unless DATABASE_URL / CELERY_BROKER_URL point at
PostgreSQL and Redis (as CI does)."""

import os
import tempfile

from .base import *
from .base import REDIS_URL, env

DEBUG = False
SECRET_KEY = "django-insecure-test-only-5b8e1c7a9d3f4e6b2a0c8d7e5f1a3b9c"
SALT_KEY = ["test-encryption-salt"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SANDBOX_ENABLED = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_RATE_LIMITS = False
API_KEY_FAILURES_PER_MINUTE = 0
LANGUAGE_CODE = "en"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="memory://")
SYNC_SCHEDULE_JITTER_SECONDS = 30
# Tests see the dashboard as counted now (one test may not be shown another's figures).
ADMIN_DASHBOARD_CACHE_SECONDS = env.int("ADMIN_DASHBOARD_CACHE_SECONDS", default=0)

# Parallel test workers (pytest-xdist) share one Redis: keep their keys apart.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
# Each test process has its own slow-call slots (a test that waits holds one), unless told.
HTTP_SLOW_CALL_DIR = env.str("HTTP_SLOW_CALL_DIR", default="") or os.path.join(
    tempfile.gettempdir(), f"slow-call-slots-{os.getpid()}"
)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"test-{_worker}",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
