"""Local development and demo: no server needed (SQLite, a filesystem broker, the sandboxes on)."""

from .base import *
from .base import SANDBOX_BASE_URL, SANDBOX_EVENTS_HOST, SANDBOX_EVENTS_PORT, VAR_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="django-insecure-local-only-0f3c9a6e1b7d4e2a8c5f9b1d7e3a6c0")
SALT_KEY = env.list("ENCRYPTION_KEYS", default=["local-only-encryption-salt"])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "0.0.0.0"])
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=True)
if SANDBOX_ENABLED:
    FORTNOX_CLIENT_ID = env("FORTNOX_CLIENT_ID", default="sandbox-client")
    FORTNOX_CLIENT_SECRET = env("FORTNOX_CLIENT_SECRET", default="sandbox-secret")
    FORTNOX_AUTH_BASE_URL = env("FORTNOX_AUTH_BASE_URL", default=f"{SANDBOX_BASE_URL}/fortnox")
    FORTNOX_API_BASE_URL = env("FORTNOX_API_BASE_URL", default=f"{SANDBOX_BASE_URL}/fortnox")
    FORTNOX_EVENTS_URL = env(
        "FORTNOX_EVENTS_URL", default=f"ws://{SANDBOX_EVENTS_HOST}:{SANDBOX_EVENTS_PORT}/topics-v1"
    )
# A person clicking through the demo should not have to dig a verification link out of the log.
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="optional")

# kombu's filesystem transport: a broker that web, worker and beat share through a folder, so the
# demo needs no Redis. Any CELERY_BROKER_URL in the environment (redis://…) replaces it.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
