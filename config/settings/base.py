"""Settings shared by every environment; each value that differs between deployments comes from the
environment (see .env.example)."""

from datetime import timedelta
from os import cpu_count
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parents[2]
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
# Local state (the file cache, locks, the filesystem broker); a benchmark points it elsewhere to
# run beside a `make run` without sharing its queues.
VAR_DIR = Path(env("VAR_DIR", default="") or BASE_DIR / "var")

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
SITE_URL = env("SITE_URL", default="http://localhost:8000").rstrip("/")

# --- Encryption of secrets at rest (tokens, WMS passwords) --------------------------------------
# django-fernet-encrypted-fields derives its Fernet keys from SECRET_KEY and SALT_KEY; a list of
# salts (newest first) lets old ciphertexts decrypt while new ones use the first.
SALT_KEY = env.list("ENCRYPTION_KEYS", default=[])

# --- Applications -------------------------------------------------------------------------------
INSTALLED_APPS = [
    "config.admin.SupportAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "django_celery_beat",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tenants",
    "integrations",
    "fortnox",
    "ongoing",
    "api",
    "realtime",
    # The emulated APIs. Their tables always exist (one migration history everywhere); their URLs
    # are mounted only with SANDBOX_ENABLED, which production settings refuse.
    "fortnox.sandbox",
    "ongoing.sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tenants.middleware.CurrentTenantMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.current_tenant",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file in local runs: WAL lets readers and the writer
    # work at once, IMMEDIATE transactions take the write lock up front instead of failing with
    # "database is locked" half-way, and the timeout waits for the other process.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (also the cross-process lock and throttle store when Redis is configured) ------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Accounts (django-allauth, e-mail login) ----------------------------------------------------
AUTH_USER_MODEL = "tenants.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Ongoing ⇄ Fortnox] "
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
# How many proxies in front of the app append to X-Forwarded-For: the client address the rate
# limits count by is the one the outermost trusted proxy saw. 0: REMOTE_ADDR (no proxy).
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "integrations:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "landing"
# The reactivation e-mail's link sends people to sign in with their address already filled in.
ACCOUNT_FORMS = {"login": "tenants.login_form.PrefilledLoginForm"}

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", _("Swedish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- E-mail -------------------------------------------------------------------------------------
# EMAIL_URL (smtp+tls://user:pass@host:587, smtp://mailpit:1025, consolemail://) sets EMAIL_*
globals().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Ongoing ⇄ Fortnox <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery (JSON only, bounded tasks, DatabaseScheduler) --------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
# A sync that outgrows these is cut off so one tenant can never hold a worker: the soft limit
# raises inside the run (which then closes itself as failed), the hard limit kills the process.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("SYNC_SOFT_TIME_LIMIT", default=600)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes the database connections before and after every task unless this
# is set, and then only every this many tasks; config/celery.py drops a broken or old
# (CONN_MAX_AGE) connection at each task's start and end instead, as Django does per request.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "integrations-tick": {
        "task": "integrations.tasks.integrations_tick",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    "fortnox-connections-keep-alive": {
        "task": "fortnox.tasks.fortnox_connections_keep_alive",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3000},
    },
    "sync-runs-prune": {
        "task": "integrations.tasks.sync_runs_prune",
        "schedule": timedelta(hours=6),
        "options": {"expires": 3600},
    },
    "pending-syncs-sweep": {
        "task": "realtime.tasks.pending_syncs_sweep",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
}

# --- The sync engine ----------------------------------------------------------------------------
SYNC_DEFAULT_INTERVAL_MINUTES = 15
# Upper bound of the random delay added to each integration's next run, so integrations activated
# together drift apart instead of hitting the APIs in the same second forever.
SYNC_SCHEDULE_JITTER_SECONDS = env.int("SYNC_SCHEDULE_JITTER_SECONDS", default=30)
# Runs older than this are deleted by a beat task; their failures stay until resolved.
SYNC_RUN_RETENTION_DAYS = env.int("SYNC_RUN_RETENTION_DAYS", default=90)
# How many due integrations one tick claims; the rest wait for the next minute's tick.
SYNC_TICK_BATCH_SIZE = env.int("SYNC_TICK_BATCH_SIZE", default=20000)
# A tick that claims more integrations than this sends one fan-out message per this many, and a
# worker queues their syncs, so the tick sends a few messages instead of thousands.
SYNC_FANOUT_BATCH_SIZE = env.int("SYNC_FANOUT_BATCH_SIZE", default=500)
# How long the e-mailed reactivation link works (it works once).
REACTIVATION_LINK_MAX_AGE_DAYS = env.int("REACTIVATION_LINK_MAX_AGE_DAYS", default=7)
# The support dashboard's figures are kept this many seconds in the cache: with 10,000 companies
# each view counts the current hour's and the last half hour's runs (tens of thousands of rows),
# and uncached the page missed its 100 ms p95 (BENCHMARKS.md, section 4). 0: count on every view.
ADMIN_DASHBOARD_CACHE_SECONDS = env.int("ADMIN_DASHBOARD_CACHE_SECONDS", default=30)

# --- Near-real-time sync: Fortnox's event stream and Ongoing's webhooks -------------------------
# `manage.py fortnox_events` holds one WebSocket for every active tenant; each event queues a
# targeted sync of its object, held back this long so a burst of events makes one sync.
FORTNOX_EVENTS_ENABLED = env.bool("FORTNOX_EVENTS_ENABLED", default=True)
FORTNOX_EVENTS_URL = env("FORTNOX_EVENTS_URL", default="wss://ws.fortnox.se/topics-v1")
EVENT_DEBOUNCE_SECONDS = env.float("EVENT_DEBOUNCE_SECONDS", default=2.0)
# Ongoing's webhooks are small JSON objects; anything larger is refused before it is parsed.
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=64 * 1024)
# Deliveries are kept this long for their idempotency (Ongoing retries for a day).
WEBHOOK_DELIVERY_RETENTION_DAYS = env.int("WEBHOOK_DELIVERY_RETENTION_DAYS", default=7)

# --- Sandboxes (emulated Fortnox and Ongoing WMS; never in production) --------------------------
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=False)
SANDBOX_BASE_URL = f"{SITE_URL}/sandbox"
# The emulated Fortnox event stream: WSGI cannot serve a WebSocket, so `manage.py sandbox_events`
# serves it on its own port (and delivers the emulated warehouse's webhooks).
SANDBOX_EVENTS_HOST = env("SANDBOX_EVENTS_HOST", default="127.0.0.1")
SANDBOX_EVENTS_PORT = env.int("SANDBOX_EVENTS_PORT", default=8001)

# --- Fortnox ------------------------------------------------------------------------------------
FORTNOX_CLIENT_ID = env("FORTNOX_CLIENT_ID", default="")
FORTNOX_CLIENT_SECRET = env("FORTNOX_CLIENT_SECRET", default="")
FORTNOX_REDIRECT_URI = env("FORTNOX_REDIRECT_URI", default=f"{SITE_URL}/fortnox/callback/")
# Where OAuth (oauth-v1/…) and the API (3/…, api/warehouse/…) live; the sandbox mirrors both paths
# under one prefix, so pointing these at it is the only difference for the client.
FORTNOX_AUTH_BASE_URL = env("FORTNOX_AUTH_BASE_URL", default="https://apps.fortnox.se")
FORTNOX_API_BASE_URL = env("FORTNOX_API_BASE_URL", default="https://api.fortnox.se")
# Asked for at consent. Changing them later needs a new consent from every customer, so the
# warehouse scope is asked for up front even though the warehouse module starts switched off.
FORTNOX_SCOPES = env.list(
    "FORTNOX_SCOPES",
    default=[
        "article",
        "companyinformation",
        "customer",
        "invoice",
        "order",
        "supplier",
        "warehouse",
        # UNVERIFIED whether Fortnox's custom warehouse documents need their own scope (SDKs list
        # one); asked for now, because adding a scope later means every customer consents again.
        "warehousecustomdocument",
    ],
)
# Access tokens are refreshed this long before they expire, so no request carries a dying token.
FORTNOX_REFRESH_MARGIN_SECONDS = env.int("FORTNOX_REFRESH_MARGIN_SECONDS", default=300)
# A worker waits at most this long for another worker's refresh of the same connection (which
# takes well under a second, unless Fortnox's answer never comes: then it would hold every waiter
# for the whole read timeout). 0 waits forever.
FORTNOX_REFRESH_LOCK_WAIT_SECONDS = env.float("FORTNOX_REFRESH_LOCK_WAIT_SECONDS", default=10.0)
# An unused refresh token dies after 31 days (some sources say 45); idle connections are
# refreshed once this many days have passed, long before that.
FORTNOX_REFRESH_TOKEN_LIFETIME_DAYS = env.int("FORTNOX_REFRESH_TOKEN_LIFETIME_DAYS", default=31)
FORTNOX_KEEP_ALIVE_AFTER_DAYS = env.int("FORTNOX_KEEP_ALIVE_AFTER_DAYS", default=7)
# Fortnox allows 25 requests per 5 s per client and Fortnox tenant; 25 still trips it now and then.
FORTNOX_THROTTLE_REQUESTS = env.int("FORTNOX_THROTTLE_REQUESTS", default=24)
FORTNOX_THROTTLE_WINDOW_SECONDS = env.float("FORTNOX_THROTTLE_WINDOW_SECONDS", default=5.0)
# How often one request is retried after 429 before the run gives up on it.
FORTNOX_RATE_LIMIT_RETRIES = env.int("FORTNOX_RATE_LIMIT_RETRIES", default=5)
# The most seconds one run spends waiting on Fortnox's 429 answers (Retry-After or backoff), all
# requests together: past it the run stops with a recorded failure and the next run continues,
# instead of sleeping in a worker that other companies' runs are waiting for.
FORTNOX_RATE_LIMIT_WAIT_SECONDS = env.float("FORTNOX_RATE_LIMIT_WAIT_SECONDS", default=30)
# (connect, read) seconds for every Fortnox call; the read timeout counts from the last byte.
FORTNOX_TIMEOUT = (
    env.float("FORTNOX_CONNECT_TIMEOUT", default=5),
    env.float("FORTNOX_READ_TIMEOUT", default=30),
)
# The most seconds one whole Fortnox exchange may take (connect, send, wait, read the whole
# answer), however slowly the server trickles it; then the run stops and the next one continues.
FORTNOX_REQUEST_DEADLINE_SECONDS = env.float("FORTNOX_REQUEST_DEADLINE_SECONDS", default=60)

# Server-error e-mails to ADMINS hide secret-looking POST fields, GET parameters and variables
# even in views not marked sensitive (config/errors.py).
DEFAULT_EXCEPTION_REPORTER = "config.errors.SecretsReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.errors.SecretsFilter"

# --- Logging: one line per record, secrets never passed to loggers ------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Ongoing WMS --------------------------------------------------------------------------------
# The System a customer types is user input that decides where their credentials go: only hosts
# ending in this suffix are accepted, and only the API hosts below are ever contacted.
ONGOING_ALLOWED_HOST_SUFFIX = ".ongoingsystems.se"
# Production systems answer on api., demo systems on wms1.; a login URL cannot tell them apart,
# so the credential check tries them in this order and stores the one that answered.
ONGOING_API_HOSTS = env.list(
    "ONGOING_API_HOSTS", default=["api.ongoingsystems.se", "wms1.ongoingsystems.se"]
)
# Ongoing publishes no lookup from customer ID to system (UNVERIFIED: none found), so customer IDs
# resolve only through this mapping kept by support, e.g. {"1234": "https://x.ongoingsystems.se/x/"}
# (and, with SANDBOX_ENABLED, through the sandbox warehouses' own customer IDs).
ONGOING_CUSTOMER_SYSTEMS = env.json("ONGOING_CUSTOMER_SYSTEMS", default={})
# With SANDBOX_ENABLED, a System URL on the sandbox's own origin under /sandbox/ongoing/<warehouse>/
# (the address of that warehouse's operator page, e.g. http://localhost:8000/sandbox/ongoing/
# demolager/) reaches the emulator, and nothing else on that host does; production settings refuse
# SANDBOX_ENABLED, so there this path does not exist.
# (connect, read) seconds for every Ongoing call.
ONGOING_TIMEOUT = (
    env.float("ONGOING_CONNECT_TIMEOUT", default=5),
    env.float("ONGOING_READ_TIMEOUT", default=30),
)
# The most seconds one whole Ongoing exchange may take, as FORTNOX_REQUEST_DEADLINE_SECONDS.
ONGOING_REQUEST_DEADLINE_SECONDS = env.float("ONGOING_REQUEST_DEADLINE_SECONDS", default=60)
# Ongoing handles one goods owner's calls one at a time and asks integrators not to parallelise:
# every call takes a per-goods-owner lock shared by all workers. It waits at most LOCK_WAIT seconds
# for it, and a lock is dropped after LOCK_TIMEOUT seconds even if its worker died holding it.
ONGOING_LOCK_WAIT = env.float("ONGOING_LOCK_WAIT", default=60)
ONGOING_LOCK_TIMEOUT = env.float(
    "ONGOING_LOCK_TIMEOUT", default=max(ONGOING_TIMEOUT[1], ONGOING_REQUEST_DEADLINE_SECONDS) + 30
)
# Without Redis the lock is a file lock (flock) in this folder: good between the processes of one
# machine, which is what local runs on SQLite are.
ONGOING_LOCK_DIR = VAR_DIR / "locks"

# --- Slow answers: what one machine's worker processes may spend waiting -------------------------
# An answer of Fortnox or Ongoing slower than HTTP_SLOW_CALL_SECONDS (or a run's 429 waits past
# that) is waited on further only while holding one of HTTP_SLOW_CALL_SLOTS slots of the machine
# (file locks in HTTP_SLOW_CALL_DIR); without a free one the call gives way at once and its run
# stops (the next run continues). So companies whose systems hang can never hold every worker
# process: keep the slots below the worker's concurrency (default: cores - 1, at least 1). 0
# seconds turns this off.
HTTP_SLOW_CALL_SECONDS = env.float("HTTP_SLOW_CALL_SECONDS", default=5)
HTTP_SLOW_CALL_SLOTS = env.int("HTTP_SLOW_CALL_SLOTS", default=max(1, (cpu_count() or 2) - 1))
HTTP_SLOW_CALL_DIR = Path(env("HTTP_SLOW_CALL_DIR", default="") or VAR_DIR / "locks")
# A company whose last run stopped because its Fortnox or warehouse was too slow runs in the slow
# lane: only while holding one of those slots for the whole run. With none free its run waits
# this many seconds (its next run is moved) instead of taking the process healthy companies need.
SLOW_LANE_RETRY_SECONDS = env.int("SLOW_LANE_RETRY_SECONDS", default=60)
# maxXToGet for id-cursor paging; Ongoing returns everything without a limit, which can time out.
ONGOING_PAGE_SIZE = env.int("ONGOING_PAGE_SIZE", default=100)
# Purchase-order receipts and the warehouse module list what the warehouse received, returned
# and adjusted only when some article's stock moved since their last full pass, and at least
# this often (ongoing/processes/common.py, warehouse_quiet). 0: list every run.
ONGOING_FULL_PASS_HOURS = env.float("ONGOING_FULL_PASS_HOURS", default=24)

# Requests with an unknown or revoked API key per client address and minute before the API answers
# 429. A key is 256 random bits, so this is not about guessing one: it keeps a misconfigured
# client or a scanner from costing a database lookup per request without end. 0 turns it off.
API_KEY_FAILURES_PER_MINUTE = env.int("API_KEY_FAILURES_PER_MINUTE", default=30)

# The REST API for customers' tooling (/api/v1/): API keys only, JSON only, paged lists.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.authentication.HasApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Ongoing WMS ⇄ Fortnox API",
    "DESCRIPTION": (
        "Read a company's integration status, settings, runs, failures and record links, and "
        "run, pause or resume it. Authenticate with `Authorization: Bearer <API key>`; a key "
        "sees only its own company."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "IntegrationStatusEnum": "integrations.models.Integration.Status",
        "RunStatusEnum": "integrations.models.SyncRun.Status",
    },
}
