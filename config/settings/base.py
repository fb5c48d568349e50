"""Settings shared by every environment.

Everything comes from the environment through one django-environ ``env``; every variable is
documented in README.md ("Configuration"). Base settings hold no secrets and no insecure
defaults: ``local``/``test`` add developer conveniences, ``production`` refuses to start without
the secrets and hosts it needs.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A developer may keep their variables in .env (see .env.example); the real environment wins.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# GENERAL
# https://docs.djangoproject.com/en/5.2/ref/settings/#debug
DEBUG = env.bool("DJANGO_DEBUG", default=False)
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])

# APPS
DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served from our static files (CSP 'self')
    "django_filters",
    "corsheaders",
    "csp",
    "simple_history",
    "django_celery_beat",
    "waffle",  # feature switches: the retirement of /api/v1 route groups (compat)
    "django_structlog",  # request and Celery task log context (core/logging.py)
]
LOCAL_APPS = ["core", "accounts", "market", "strategy", "portfolio", "operations", "compat"]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

# MIDDLEWARE
# https://docs.djangoproject.com/en/5.2/topics/http/middleware/
MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    # request_started/request_finished lines; binds our request id, user and client address
    # into every line of the request (core/logging.py). After the request id is known.
    "django_structlog.middlewares.RequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin and API-docs assets from gunicorn itself (compressed, cache headers).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Inside CommonMiddleware: an /api/ 404 tries the path with the slash toggled, else answers
    # problem+json even with DEBUG on (core/api_paths.py).
    "core.api_paths.ApiPathMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Replica-safe reads may use the read replica (core/db_router.py); nothing without one.
    "core.db_router.ReplicaRoutingMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# PASSWORDS
# https://docs.djangoproject.com/en/5.2/topics/auth/passwords/#password-validation
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Django's default hashers (PBKDF2 first: new and upgraded hashes) plus bcrypt, which only
# verifies the hashes ``manage.py import_mvp`` brings from the MVP (``bcrypt$$2b$12$…``);
# each is upgraded to PBKDF2 on that user's first sign-in (docs/import-mvp.md).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
]

# STATIC
# https://docs.djangoproject.com/en/5.2/howto/static-files/
STATIC_URL = "/static/"
# Local runs and tests serve files straight from the apps (WhiteNoise finders); only a
# deployment collects them (production settings give STATIC_ROOT a default).
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
# Front-end libraries come from their npm packages (package.json, installed by `make install`)
# and are served as our own static files under /static/vendor/ (never a CDN: the CSP is
# 'self'). Without npm the directory is absent and the admin pages draw no charts.
NODE_MODULES_DIR = BASE_DIR / "node_modules"
CHARTJS_DIR = NODE_MODULES_DIR / "chart.js" / "dist"
CHARTS_AVAILABLE = (CHARTJS_DIR / "chart.umd.min.js").is_file()
STATICFILES_DIRS = [("vendor/chartjs", str(CHARTJS_DIR))] if CHARTS_AVAILABLE else []


# DATABASE
# https://docs.djangoproject.com/en/5.2/ref/databases/#connection-pool
# psycopg 3 with Django's native pool: CONN_MAX_AGE must stay 0 (the pool keeps connections);
# CONN_HEALTH_CHECKS makes the pool check a connection before handing it out.
DB_POOL_MIN_SIZE = env.int("DB_POOL_MIN_SIZE", default=1)
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=10)
DB_POOL_ENABLED = env.bool("DB_POOL_ENABLED", default=True)
# FAILING FAST WHEN POSTGRESQL IS DOWN (docs/operations.md, "Process model and failure
# behaviour"). A request waits at most DB_POOL_TIMEOUT for a connection, then answers 503
# ``database-unavailable``; a worker may set a longer one in its own environment. A stopped or
# unreachable server fails a connection attempt within DB_CONNECT_TIMEOUT (libpq: whole
# seconds, at least 2). The pool gives up a series of reconnection attempts after
# DB_POOL_RECONNECT_TIMEOUT and starts a fresh one at the next request, so its backoff (1, 2,
# 4, 8 s …) never keeps requests failing long after the server is back.
DB_POOL_TIMEOUT = env.float("DB_POOL_TIMEOUT", default=3.0)
DB_CONNECT_TIMEOUT = env.int("DB_CONNECT_TIMEOUT", default=2)
DB_POOL_RECONNECT_TIMEOUT = env.float("DB_POOL_RECONNECT_TIMEOUT", default=2.0)


def database_settings(config: dict[str, Any]) -> dict[str, Any]:
    """Complete one DATABASES entry with the project's engine, pool and health-check options."""
    config = {**config, "ENGINE": "django.db.backends.postgresql"}
    if METRICS_ENABLED:  # the same backend, counting queries and their durations
        config["ENGINE"] = "django_prometheus.db.backends.postgresql"
    config["CONN_MAX_AGE"] = 0
    config["CONN_HEALTH_CHECKS"] = True
    options = dict(config.get("OPTIONS", {}))
    if DB_POOL_ENABLED:
        options["pool"] = {
            "min_size": DB_POOL_MIN_SIZE,
            "max_size": DB_POOL_MAX_SIZE,
            "timeout": DB_POOL_TIMEOUT,
            "reconnect_timeout": DB_POOL_RECONNECT_TIMEOUT,
        }
    options.setdefault("application_name", "autoindex")
    options.setdefault("connect_timeout", DB_CONNECT_TIMEOUT)
    config["OPTIONS"] = options
    return config


# READ REPLICA (docs/scale-out.md, "Read replica"). DATABASE_REPLICA_URL (optional): a streaming
# standby of the primary, the ``replica`` alias (built like ``default``). Published index reads
# and catalogues (core.db_router.REPLICA_SAFE_READS) use it while it answers and lags at most
# DATABASE_REPLICA_MAX_LAG_SECONDS (each process measures it every DATABASE_REPLICA_CHECK_SECONDS);
# else they fall back to the primary. A client that sent an unsafe request reads from the primary
# for DATABASE_READ_YOUR_WRITES_SECONDS afterwards, which must cover the lag allowed plus one
# check interval: a read after the window then sees the write.
# https://docs.djangoproject.com/en/5.2/topics/db/multi-db/#automatic-database-routing
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
DATABASE_REPLICA_MAX_LAG_SECONDS = env.float("DATABASE_REPLICA_MAX_LAG_SECONDS", default=10.0)
DATABASE_REPLICA_CHECK_SECONDS = env.float("DATABASE_REPLICA_CHECK_SECONDS", default=5.0)
DATABASE_READ_YOUR_WRITES_SECONDS = env.float("DATABASE_READ_YOUR_WRITES_SECONDS", default=15.0)
if (
    DATABASE_READ_YOUR_WRITES_SECONDS
    < DATABASE_REPLICA_MAX_LAG_SECONDS + DATABASE_REPLICA_CHECK_SECONDS
):
    raise ImproperlyConfigured(
        "DATABASE_READ_YOUR_WRITES_SECONDS must be at least DATABASE_REPLICA_MAX_LAG_SECONDS + "
        "DATABASE_REPLICA_CHECK_SECONDS"
    )
DATABASE_ROUTERS = ["core.db_router.ReplicaRouter"]


def replica_database_settings() -> dict[str, dict[str, Any]]:
    """``{"replica": …}`` from DATABASE_REPLICA_URL (same options as ``default``), or ``{}``.

    ``TEST.MIRROR``: a test run creates no database on it; the alias reads the primary's test
    database through the standby (streaming replication copies every database).
    """
    if not DATABASE_REPLICA_URL:
        return {}
    replica = database_settings(env.db_url("DATABASE_REPLICA_URL"))
    replica["TEST"] = {"MIRROR": "default"}
    return {"replica": replica}


# DATABASES / REDIS_URL are set by each environment module (production: required from the
# environment; local and test: the embedded servers when the variables are unset).
DATABASES: dict[str, dict[str, Any]] = {}
REDIS_URL = ""


def redis_settings(redis_url: str) -> dict[str, Any]:
    """Cache, Celery broker and result backend on one Redis (django-redis, kombu, celery)."""
    # kombu names the unix-socket scheme differently from redis-py.
    broker_url = redis_url.replace("unix://", "redis+socket://", 1)
    return {
        "CACHES": {
            # Reads fail soft: a Redis outage degrades to the database, it never becomes a 5xx.
            "default": {
                "BACKEND": (
                    # django-redis counting gets, hits and misses (docs/metrics.md)
                    "core.cache_metrics.RedisCache"
                    if METRICS_ENABLED
                    else "django_redis.cache.RedisCache"
                ),
                "LOCATION": redis_url,
                "KEY_PREFIX": "autoindex",
                "OPTIONS": {
                    "IGNORE_EXCEPTIONS": True,
                    "SOCKET_CONNECT_TIMEOUT": 1,
                    "SOCKET_TIMEOUT": 1,
                },
            },
            # Locks, limiters, breaker state and brute-force counters must not fail open.
            "strict": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": redis_url,
                "KEY_PREFIX": "autoindex",
                "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 5},
            },
        },
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": broker_url,
    }


DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# CELERY
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# CRASH RECOVERY (docs/operations.md, "Crash recovery"). A killed worker child's message is
# requeued at once (late acks + reject on worker lost). A whole worker's unacked messages are
# redelivered after the visibility timeout, derived from the hard time limit (no task runs
# longer, so none is redelivered while it still runs) plus JOB_REDELIVERY_MARGIN_SECONDS. A
# refresh reaching the soft limit stops between batches (nothing lost) and queues a
# continuation, so the limits can stay short. Every retry countdown must stay below the
# visibility timeout (an ETA message is held unacked until it runs).
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=12 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=15 * 60)
JOB_REDELIVERY_MARGIN_SECONDS = env.int("JOB_REDELIVERY_MARGIN_SECONDS", default=5 * 60)
# A running refresh or computation renews its run's heartbeat_at (and the refresh its Redis
# lease, TTL 3 heartbeats) every JOB_HEARTBEAT_SECONDS; a run silent for longer than
# JOB_STALE_AFTER_SECONDS belongs to a dead process and the next start marks it abandoned.
JOB_HEARTBEAT_SECONDS = env.float("JOB_HEARTBEAT_SECONDS", default=15.0)
JOB_STALE_AFTER_SECONDS = env.float("JOB_STALE_AFTER_SECONDS", default=60.0)
CELERY_RESULT_EXPIRES = timedelta(days=1)
_VISIBILITY_TIMEOUT = CELERY_TASK_TIME_LIMIT + JOB_REDELIVERY_MARGIN_SECONDS
# Every worker looks for messages past the visibility timeout every JOB_REDELIVERY_SWEEP_SECONDS
# (kombu's default sweep is 10 × 10 s) and at start-up.
JOB_REDELIVERY_SWEEP_SECONDS = env.int("JOB_REDELIVERY_SWEEP_SECONDS", default=10)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _VISIBILITY_TIMEOUT,
    "unacked_restore_interval": JOB_REDELIVERY_SWEEP_SECONDS,
    "unacked_restore_throttle": 1,
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": _VISIBILITY_TIMEOUT}
CELERY_VISIBILITY_TIMEOUT = _VISIBILITY_TIMEOUT
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A late ack is only safe for idempotent tasks (ours are); a task that fails or times out is
# acked (not redelivered in a loop) and retried only through its own autoretry policy.
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
CELERY_TASK_TRACK_STARTED = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Task events on, so Flower (`make flower`) and `celery events` see every task; SENT events
# too, so a task queued but never started shows as such (docs/operations-monitoring.md).
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
# SENDING A TASK FAILS FAST WHEN REDIS IS DOWN (core/queue.py; docs/operations.md, "Process
# model and failure behaviour"). ``enqueue`` never subscribes to a result (nobody waits on
# one: a job's state is its run row), and a publish makes one connection attempt of at most
# CELERY_SEND_TIMEOUT seconds plus one quick retry (a pooled connection left dead by a Redis
# restart is replaced), so a stopped Redis is a 503 ``queue-unavailable`` within ~2 s; a
# Redis that accepts connections but never answers, within 2 × CELERY_BROKER_SOCKET_TIMEOUT.
# Where a result is subscribed to, the backend reconnects once (Celery's default: 20 times,
# 1 s apart — a 19 s wait).
CELERY_SEND_TIMEOUT = env.float("CELERY_SEND_TIMEOUT", default=1.0)
# Above the transport's 1 s BRPOP poll, so an idle consumer's blocking read never times out.
CELERY_BROKER_SOCKET_TIMEOUT = env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=2.0)
CELERY_BROKER_CONNECTION_TIMEOUT = CELERY_SEND_TIMEOUT
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
_REDIS_SOCKET_TIMEOUTS = {
    "socket_connect_timeout": CELERY_SEND_TIMEOUT,
    "socket_timeout": max(CELERY_BROKER_SOCKET_TIMEOUT, 1.5),
}
CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, **_REDIS_SOCKET_TIMEOUTS}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    **CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS,
    "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2},
}
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = CELERY_SEND_TIMEOUT
CELERY_REDIS_SOCKET_TIMEOUT = _REDIS_SOCKET_TIMEOUTS["socket_timeout"]

# REST FRAMEWORK
# https://www.django-rest-framework.org/api-guide/settings/
# Every setting added for the API is documented in docs/settings-api.md.
API_PAGE_SIZE = env.int("API_PAGE_SIZE", default=50)
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=200)
API_SERIES_PAGE_SIZE = env.int("API_SERIES_PAGE_SIZE", default=500)
API_SERIES_MAX_PAGE_SIZE = env.int("API_SERIES_MAX_PAGE_SIZE", default=5000)
# Reverse proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
REGISTRATION_OPEN = env.bool("REGISTRATION_OPEN", default=False)
PUBLIC_INDEX_SUMMARY = env.bool("PUBLIC_INDEX_SUMMARY", default=False)
# How long a cached published-run pointer may serve (portfolio/cache.py): publishing and index
# edits through the services replace it at once; this bounds anything else (docs/api.md).
PUBLISHED_POINTER_CACHE_SECONDS = env.float("PUBLISHED_POINTER_CACHE_SECONDS", default=30.0)
# Per worker process: full-view responses of published reads kept for replay without DRF
# (portfolio/api/replay.py), bounded by their bodies' bytes; 0 turns replays off.
PUBLISHED_READ_REPLAY_MAX_BYTES = env.int(
    "PUBLISHED_READ_REPLAY_MAX_BYTES", default=32 * 1024 * 1024
)
# /api/v1/ is reserved for the MVP's clients: 410 with these Deprecation/Sunset dates.
API_V1_DEPRECATED_AT = env.str("API_V1_DEPRECATED_AT", default="2026-01-01T00:00:00+00:00")
API_V1_SUNSET = env.str("API_V1_SUNSET", default="2026-12-31T00:00:00+00:00")
# /api/v1 compatibility (compat app, docs/api-v1.md): the one index the MVP's routes serve
# (the MVP had a single index). Route groups are retired with waffle switches, not settings.
API_V1_INDEX_SLUG = env.str("API_V1_INDEX_SLUG", default="autoindex")
# HOSTILE INPUT (docs/settings-api.md; docs/api.md "Hostile input"): a body over
# DATA_UPLOAD_MAX_MEMORY_SIZE bytes is a 413 (core/parsers.py for API bodies, Django elsewhere),
# JSON nested deeper than API_JSON_MAX_DEPTH a 400, and every date the API accepts lies between
# API_DATE_MIN and one year after today (core/validators.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)
API_DATE_MIN = date.fromisoformat(env.str("API_DATE_MIN", default="1990-01-01"))

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "core.openapi.ProblemAutoSchema",
    # simplejwt's token checks, the user from its snapshot (accounts/user_cache.py): no query
    # within AUTH_USER_CACHE_SECONDS of the user's last read.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.CachedUserJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: no browsable API (it needs sessions, CSRF and inline scripts).
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON bounded in size and depth (core/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["core.parsers.BoundedJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.CataloguePagination",
    "PAGE_SIZE": API_PAGE_SIZE,
    "DEFAULT_VERSIONING_CLASS": "rest_framework.versioning.URLPathVersioning",
    "ALLOWED_VERSIONS": ["v2"],
    "DEFAULT_VERSION": "v2",
    "EXCEPTION_HANDLER": "core.errors.problem_exception_handler",
    # THROTTLING (capacity, per role; fails open on a Redis outage — see core/throttling.py)
    # https://www.django-rest-framework.org/api-guide/throttling/
    "DEFAULT_THROTTLE_CLASSES": [
        "accounts.throttling.RoleRateThrottle",
        "core.throttling.FailOpenScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_RATE_ANON", default="60/min"),
        "viewer": env.str("API_THROTTLE_RATE_VIEWER", default="600/min"),
        "analyst": env.str("API_THROTTLE_RATE_ANALYST", default="1200/min"),
        "admin": env.str("API_THROTTLE_RATE_ADMIN", default="1200/min"),
        # Scoped (``throttle_scope = "simulation"`` on the view): CPU-heavy what-if runs.
        "simulation": env.str("API_THROTTLE_RATE_SIMULATION", default="30/min"),
    },
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
API_THROTTLE_CACHE = "default"  # the fail-soft alias: throttles fail open

# BRUTE-FORCE LIMITS (django-ratelimit; fail closed)
# https://django-ratelimit.readthedocs.io/en/stable/settings.html
RATELIMIT_USE_CACHE = "strict"  # no IGNORE_EXCEPTIONS: an outage is seen, and answered 503
RATELIMIT_FAIL_OPEN = False
RATELIMIT_ENABLE = True
AUTH_LOGIN_RATE_PER_IP = env.str("AUTH_LOGIN_RATE_PER_IP", default="30/5m")
AUTH_LOGIN_RATE_PER_EMAIL = env.str("AUTH_LOGIN_RATE_PER_EMAIL", default="5/5m")
AUTH_REGISTER_RATE_PER_IP = env.str("AUTH_REGISTER_RATE_PER_IP", default="10/h")
AUTH_REGISTER_RATE_PER_EMAIL = env.str("AUTH_REGISTER_RATE_PER_EMAIL", default="3/h")

# OPENAPI
# https://drf-spectacular.readthedocs.io/en/latest/settings.html
SPECTACULAR_SETTINGS = {
    "TITLE": "AutoIndex API",
    "DESCRIPTION": (
        "Rules-based investment index: levels, allocations, risk metrics, simulations.\n\n"
        "Sign in with `POST /api/v2/auth/token` and send `Authorization: Bearer <access>`. "
        "Every error is `application/problem+json` (RFC 9457) with a `request_id`."
    ),
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # The schema and docs are public: a stale token sent along must not make them 401.
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "accounts.roles.Role",
        # `kind` of the level series (values, drawdown, benchmark): price or total return.
        "LevelKindEnum": "portfolio.selectors.LEVEL_KINDS",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.openapi.blank_text_any_of",
    ],
}

# JWT
# https://django-rest-framework-simplejwt.readthedocs.io/en/latest/settings.html
# How long an authenticated request may use the user's cached row and role (accounts/user_cache.py)
# instead of reading them: a role change, deactivation or password change made outside the
# account services is seen within this many seconds (0: read them on every request).
AUTH_USER_CACHE_SECONDS = env.float("AUTH_USER_CACHE_SECONDS", default=30.0)
# Every value that matters is explicit (library defaults changed between releases).
JWT_REFRESH_CHAIN_LIFETIME = timedelta(days=env.int("JWT_REFRESH_CHAIN_DAYS", default=30))
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # accounts.services.login_with_password updates last_login itself (on sign-in only).
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "AUDIENCE": env.str("JWT_AUDIENCE", default="autoindex-api"),
    "ISSUER": env.str("JWT_ISSUER", default="autoindex"),
    "LEEWAY": 0,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    # A password change invalidates the tokens issued before it.
    "CHECK_REVOKE_TOKEN": True,
}

# CORS
# https://github.com/adamchainz/django-cors-headers#configuration — explicit allow-list only
# (django-cors-headers rejects "*" in CORS_ALLOWED_ORIGINS; CORS_ALLOW_ALL_ORIGINS stays off).
CORS_ALLOWED_ORIGINS: list[str] = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = ("accept", "authorization", "content-type", "x-request-id")
CORS_EXPOSE_HEADERS = ("x-request-id", "retry-after", "deprecation", "sunset", "link")
CORS_PREFLIGHT_MAX_AGE = 600

# SECURITY
# https://docs.djangoproject.com/en/5.2/ref/middleware/#module-django.middleware.security
# (HSTS, SSL redirect and secure cookies are in production.py.)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# CONTENT SECURITY POLICY (django-csp 4)
# https://django-csp.readthedocs.io/en/latest/configuration.html
# Nothing loads from another origin: Swagger UI comes from drf-spectacular-sidecar.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "manifest-src": ["'self'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
}
# Per path prefix, added to the policy (core.middleware.ContentSecurityPolicyMiddleware):
# the admin and Swagger UI pages carry inline <style> blocks; scripts stay 'self' only.
CONTENT_SECURITY_POLICY_PATH_UPDATES = {
    "/admin/": {"style-src": ["'unsafe-inline'"]},
    "/api/docs/": {"style-src": ["'unsafe-inline'"]},
}

# MARKET DATA
TWELVEDATA_BASE_URL = env.str("TWELVEDATA_BASE_URL", default="https://api.twelvedata.com")
TWELVEDATA_API_KEY = env.str("TWELVEDATA_API_KEY", default="")
TWELVEDATA_CREDITS_PER_MINUTE = env.int("TWELVEDATA_CREDITS_PER_MINUTE", default=8)
BENCHMARK_SYMBOL = env.str("BENCHMARK_SYMBOL", default="SPY")
PRICE_PARTITION_YEARS_AHEAD = env.int("PRICE_PARTITION_YEARS_AHEAD", default=1)
# Every setting below is documented in docs/settings-market.md.
TWELVEDATA_CONNECT_TIMEOUT = env.float("TWELVEDATA_CONNECT_TIMEOUT", default=5.0)
TWELVEDATA_READ_TIMEOUT = env.float("TWELVEDATA_READ_TIMEOUT", default=30.0)
TWELVEDATA_MAX_OUTPUTSIZE = env.int("TWELVEDATA_MAX_OUTPUTSIZE", default=5000)
TWELVEDATA_BATCH_SIZE = env.int("TWELVEDATA_BATCH_SIZE", default=8)
TWELVEDATA_MAX_RETRIES = env.int("TWELVEDATA_MAX_RETRIES", default=3)
TWELVEDATA_BACKOFF_SECONDS = env.float("TWELVEDATA_BACKOFF_SECONDS", default=1.0)
TWELVEDATA_BACKOFF_MAX_SECONDS = env.float("TWELVEDATA_BACKOFF_MAX_SECONDS", default=30.0)
TWELVEDATA_BREAKER_FAIL_MAX = env.int("TWELVEDATA_BREAKER_FAIL_MAX", default=5)
TWELVEDATA_BREAKER_RESET_SECONDS = env.int("TWELVEDATA_BREAKER_RESET_SECONDS", default=60)
# Our symbol -> TwelveData's (e.g. "^GSPC=SPX" on a plan that serves indices). Symbols in
# Yahoo's "^" notation that are not mapped here are skipped by the refresh with a note.
TWELVEDATA_SYMBOL_MAP: dict[str, str] = env.dict("TWELVEDATA_SYMBOL_MAP", default={})
REFRESH_OVERLAP_DAYS = env.int("REFRESH_OVERLAP_DAYS", default=5)
ASSET_DEFAULT_START = date.fromisoformat(env.str("ASSET_DEFAULT_START", default="2015-01-01"))
REFRESH_SCHEDULE_HOUR = env.int("REFRESH_SCHEDULE_HOUR", default=22)
REFRESH_SCHEDULE_MINUTE = env.int("REFRESH_SCHEDULE_MINUTE", default=30)

# VENDOR CREDIT BUDGET AND REQUEST DEADLINE (docs/settings-market.md, "Credit budget")
# The plan's credits per UTC day (Basic: 800; 0 = no daily cap, as on paid plans), counted in
# Redis next to the per-minute ones; a refresh asked for by hand is refused (422) when it needs
# more than remain today or more than REFRESH_MAX_CREDITS_PER_REQUEST (0 = no cap); the nightly
# refresh runs what fits and defers the rest. Every vendor request, body included, is abandoned
# after TWELVEDATA_REQUEST_DEADLINE seconds (a timeout: retried, counted by the breaker).
TWELVEDATA_CREDITS_PER_DAY = env.int("TWELVEDATA_CREDITS_PER_DAY", default=800)
REFRESH_MAX_CREDITS_PER_REQUEST = env.int("REFRESH_MAX_CREDITS_PER_REQUEST", default=100)
TWELVEDATA_REQUEST_DEADLINE = env.float("TWELVEDATA_REQUEST_DEADLINE", default=60.0)

# CORPORATE ACTIONS (docs/settings-market.md, "Corporate actions"): the weekly refresh of
# /splits and /dividends (20 credits per symbol each; Grow plans and above) also fetches the
# daily /market_cap series (5 credits per request) only when the plan allows it (Ultra).
TWELVEDATA_MARKET_CAP_ENABLED = env.bool("TWELVEDATA_MARKET_CAP_ENABLED", default=False)

# PRICE SANITY (docs/settings-market.md, "Price sanity"): a vendor bar whose close moved more
# than this fraction from the previous close (or revises a stored close by more) is quarantined
# for an analyst instead of stored (market/services/sanity.py). FX pairs get a tighter band.
PRICE_SANITY_MAX_DAILY_MOVE = env.float("PRICE_SANITY_MAX_DAILY_MOVE", default=0.5)
PRICE_SANITY_MAX_DAILY_MOVE_FX = env.float("PRICE_SANITY_MAX_DAILY_MOVE_FX", default=0.1)

# JOBS (docs/settings-market.md)
# What a "refresh" queued by the API or the admin runs: the portfolio chain (refresh, then
# recompute the indexes whose inputs changed) by default, or "market.tasks.refresh_market_data"
# for a refresh alone. Sent by name, so the market app never imports the portfolio app.
REFRESH_JOB_TASK = env.str("REFRESH_JOB_TASK", default="portfolio.tasks.refresh_and_recompute")
# Seconds to wait before each new attempt to queue the recomputes after a good refresh when the
# broker refuses them; the refresh itself stays succeeded. After the last attempt the next
# chain (or `manage.py compute_index`) picks the indexes up: their inputs are still newer
# than their published runs.
RECOMPUTE_ENQUEUE_RETRY_SECONDS: list[float] = [
    float(seconds)
    for seconds in env.list("RECOMPUTE_ENQUEUE_RETRY_SECONDS", default=["5", "30", "120"])
]
# How many indexes one recompute task of the chain computes from one shared market load
# (portfolio/services/batch.py). Smaller batches spread better over the workers; each batch
# must finish within CELERY_TASK_SOFT_TIME_LIMIT (about 1-3 s per index of a few hundred assets).
RECOMPUTE_BATCH_SIZE = env.int("RECOMPUTE_BATCH_SIZE", default=10)

# OPERATIONS: backups, point-in-time recovery, archiving of superseded runs (docs/operations.md)
# Where backups go: "local" (a folder, BACKUP_DIR) or "s3" (any S3-compatible store, through
# django-storages: BACKUP_S3_BUCKET, BACKUP_S3_ENDPOINT_URL for a non-AWS store, credentials
# from BACKUP_S3_ACCESS_KEY_ID/BACKUP_S3_SECRET_ACCESS_KEY or the usual AWS environment).
# Local defaults live next to the embedded servers' data (AUTOINDEX_DATA_DIR, default .data/).
_LOCAL_DATA_DIR = Path(env.str("AUTOINDEX_DATA_DIR", default=str(BASE_DIR / ".data")))
BACKUP_STORAGE = env.str("BACKUP_STORAGE", default="local")
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(_LOCAL_DATA_DIR / "backups")))
BACKUP_S3_BUCKET = env.str("BACKUP_S3_BUCKET", default="")
BACKUP_S3_PREFIX = env.str("BACKUP_S3_PREFIX", default="autoindex/backups/")
BACKUP_S3_ENDPOINT_URL = env.str("BACKUP_S3_ENDPOINT_URL", default="") or None
BACKUP_S3_REGION = env.str("BACKUP_S3_REGION", default="") or None
BACKUP_S3_ACCESS_KEY_ID = env.str("BACKUP_S3_ACCESS_KEY_ID", default="") or None
BACKUP_S3_SECRET_ACCESS_KEY = env.str("BACKUP_S3_SECRET_ACCESS_KEY", default="") or None
# Retention: the newest backup of each of the last N days, and of each of the last N ISO weeks.
BACKUP_KEEP_DAILY = env.int("BACKUP_KEEP_DAILY", default=7)
BACKUP_KEEP_WEEKLY = env.int("BACKUP_KEEP_WEEKLY", default=8)
# A last verified backup older than this is a readiness warning (and a stale metric).
BACKUP_VERIFY_MAX_AGE_HOURS = env.int("BACKUP_VERIFY_MAX_AGE_HOURS", default=48)
# Folder of the PostgreSQL client programs (pg_dump, pg_restore, psql) for backups. Empty: the
# embedded pgserver wheel's when installed (dev, the embedded server's version), else PATH.
# They must be at least the server's major version.
BACKUP_PG_BIN_DIR = env.str("BACKUP_PG_BIN_DIR", default="")
# Non-fatal readiness entries: name -> dotted path of a function returning {"status": ...}.
# /health/ready reports them under "advisories" and never fails on them (core imports no app,
# so the check is named here, by the layer that wires the apps together).
HEALTH_READY_ADVISORIES = {"backup": "operations.selectors.backup_health"}
# OBSERVABILITY: health (docs/operations-monitoring.md). /health/ready's app checks: name ->
# dotted path of a function returning {"status": "ok" | "degraded" | "down", ...figures}; they
# make readiness degraded (200), never 503 (only the database down does).
HEALTH_READY_CHECKS = {
    "worker_heartbeat": "operations.heartbeats.worker_health",
    "beat_heartbeat": "operations.heartbeats.beat_health",
    "data_freshness": "market.health.data_freshness",
    "published_runs": "portfolio.health.published_runs",
    "twelvedata_circuit": "market.health.circuit_breaker",
}
if DATABASE_REPLICA_URL:  # ok, or degraded while reads fall back to the primary (never 503)
    HEALTH_READY_CHECKS["database_replica"] = "core.replica_health.replica_lag"
# Beat sends operations.tasks.heartbeat every minute: a worker that ran none for this long (3
# missed beats) or a Beat that sent none is degraded.
HEALTH_WORKER_HEARTBEAT_MAX_AGE_SECONDS = env.float(
    "HEALTH_WORKER_HEARTBEAT_MAX_AGE_SECONDS", default=180.0
)
HEALTH_BEAT_HEARTBEAT_MAX_AGE_SECONDS = env.float(
    "HEALTH_BEAT_HEARTBEAT_MAX_AGE_SECONDS", default=180.0
)
# Weekdays an active asset class's latest price may lag behind the last expected trading day
# (the weekday before today, UTC) before data freshness is degraded: holidays, a failed night.
HEALTH_DATA_FRESHNESS_GRACE_DAYS = env.int("HEALTH_DATA_FRESHNESS_GRACE_DAYS", default=1)
# A live index whose published run is older than this many weekday hours (Saturdays and
# Sundays do not count: the nightly chain runs Monday to Friday) is degraded.
HEALTH_PUBLISHED_RUN_MAX_AGE_HOURS = env.int("HEALTH_PUBLISHED_RUN_MAX_AGE_HOURS", default=36)
# WAL archive for point-in-time recovery (the embedded server archives into it).
WAL_ARCHIVE_DIR = Path(env.str("WAL_ARCHIVE_DIR", default=str(_LOCAL_DATA_DIR / "wal-archive")))
# Superseded index runs older than this many days are archived to files, except the published
# run and the newest RUN_ARCHIVE_KEEP_SUPERSEDED superseded runs of each index.
RUN_ARCHIVE_AFTER_DAYS = env.int("RUN_ARCHIVE_AFTER_DAYS", default=30)
RUN_ARCHIVE_KEEP_SUPERSEDED = env.int("RUN_ARCHIVE_KEEP_SUPERSEDED", default=3)
RUN_ARCHIVE_DIR = Path(env.str("RUN_ARCHIVE_DIR", default=str(_LOCAL_DATA_DIR / "run-archive")))
# Maintenance tasks (backup, its verification, run archiving) may run longer than the jobs'
# CELERY_TASK_TIME_LIMIT, i.e. past the broker's visibility timeout: they are acknowledged on
# receipt (never redelivered, so never run twice at once) and have their own hard limit. A
# worker killed during one loses that night's run; the next night runs again, and readiness
# reports a stale backup. docs/operations.md, "Crash recovery".
MAINTENANCE_TASK_TIME_LIMIT_SECONDS = env.int(
    "MAINTENANCE_TASK_TIME_LIMIT_SECONDS", default=3 * 3600
)

# OBSERVABILITY: tracing (core/tracing.py; docs/observability.md, "Tracing")
# https://opentelemetry.io/docs/languages/sdk-configuration/
# Django, psycopg, requests, Celery and Redis are instrumented unless TRACING_ENABLED is false;
# spans are exported only when OTEL_EXPORTER_OTLP_ENDPOINT is set (OTLP over HTTP, e.g.
# http://localhost:4318 for a local collector or Jaeger; the exporter also reads the other
# OTEL_EXPORTER_OTLP_* variables itself) or OTEL_TRACES_EXPORTER is "console" (spans printed
# as JSON, local debugging). With neither, nothing is recorded or exported: spans keep only
# their ids, which log lines carry and tasks inherit.
TRACING_ENABLED = env.bool("TRACING_ENABLED", default=True)
# psycopg and Redis spans (a wrapper on every query and cache call): "auto" records them only
# in a process that exports (an exporter configured at start-up), "on"/"off" force it.
TRACING_CLIENT_SPANS = env.str("TRACING_CLIENT_SPANS", default="auto")
if TRACING_CLIENT_SPANS not in ("auto", "on", "off"):
    raise ImproperlyConfigured("TRACING_CLIENT_SPANS must be auto, on or off")
OTEL_EXPORTER_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
OTEL_TRACES_EXPORTER = env.str("OTEL_TRACES_EXPORTER", default="")
OTEL_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="autoindex")

# LOGGING (core/logging.py; docs/observability.md, "Logs")
# structlog through the standard library: every line (ours, Django's, Celery's) is one JSON
# object (LOG_FORMAT=json, production) or a key=value line (console, local runs) with ts, level,
# logger, event, request_id, and trace_id, span_id, user_id, task_id when known.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": {"()": "core.logging.StructuredFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
    },
}
# django-structlog (https://django-structlog.readthedocs.io/en/latest/configuration.html): the
# client address comes from core.throttling.client_ip (trusted proxies only), not from ipware;
# Celery's task context is wired in config/celery.py.
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False
DJANGO_STRUCTLOG_CELERY_ENABLED = False

# OBSERVABILITY: metrics (docs/metrics.md)
# https://github.com/korfuri/django-prometheus · https://prometheus.github.io/client_python/
# METRICS_ENABLED: django-prometheus's HTTP/database/cache series and GET /metrics (404 when
# off; the app's own counters still count, at no measurable cost). /metrics answers a request
# with "Authorization: Bearer <METRICS_TOKEN>" (when a token is set) or from an address in
# METRICS_ALLOWED_NETWORKS (CIDRs; loopback and private ranges by default, none in production),
# anyone else a 401/403 problem. Several processes (gunicorn workers, Celery children) share
# their counters through the PROMETHEUS_MULTIPROC_DIR folder (an environment variable read by
# prometheus_client itself, not a setting).
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=True)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS: list[str] = env.list(
    "METRICS_ALLOWED_NETWORKS",
    default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
)
# Scrape-time series: dotted paths of collectors (an object with collect()) whose queries run
# when Prometheus scrapes (core imports no app, so they are named here).
METRICS_COLLECTORS = [
    "core.metrics.DatabasePoolCollector",
    "core.celery_metrics.QueueLengthCollector",
    "market.metrics.MarketDataCollector",
    "portfolio.metrics.IndexCollector",
    "operations.metrics.HeartbeatCollector",
]
if METRICS_ENABLED:
    INSTALLED_APPS = [*INSTALLED_APPS, "django_prometheus"]
    # django-prometheus's HTTP series, recorded by our lighter pair (core/http_metrics.py).
    # First and last: one latency covers every other middleware, the other the view.
    MIDDLEWARE = [
        "core.http_metrics.RequestMetricsBeforeMiddleware",
        *MIDDLEWARE,
        "core.http_metrics.RequestMetricsAfterMiddleware",
    ]

# ---- LIVE EVENTS (Server-Sent Events; docs/events.md) -------------------------------------
# Published through Redis (pub/sub + a bounded stream for Last-Event-ID replay) and served at
# /api/v2/events/ — open-ended by the ``stream`` process (uvicorn, ASGI), bounded to
# EVENTS_WSGI_MAX_SECONDS per connection when gunicorn ``web`` answers it.
EVENTS_REDIS_URL = env.str("EVENTS_REDIS_URL", default="")  # empty: REDIS_URL
EVENTS_REDIS_TIMEOUT_SECONDS = env.float("EVENTS_REDIS_TIMEOUT_SECONDS", default=1.5)
EVENTS_BUFFER_LENGTH = env.int("EVENTS_BUFFER_LENGTH", default=5000)
EVENTS_HEARTBEAT_SECONDS = env.float("EVENTS_HEARTBEAT_SECONDS", default=15.0)
EVENTS_RETRY_MILLISECONDS = env.int("EVENTS_RETRY_MILLISECONDS", default=3000)
EVENTS_WSGI_MAX_SECONDS = env.float("EVENTS_WSGI_MAX_SECONDS", default=25.0)
# At most this many streams per ``web`` process at once (each holds a thread of its 8); past it
# a stream is answered at once with a longer retry hint (EVENTS_WSGI_BUSY_RETRY_MILLISECONDS).
EVENTS_WSGI_MAX_STREAMS = env.int("EVENTS_WSGI_MAX_STREAMS", default=2)
EVENTS_WSGI_BUSY_RETRY_MILLISECONDS = env.int("EVENTS_WSGI_BUSY_RETRY_MILLISECONDS", default=30000)
# On the stream process a stream ends after this long (at its next heartbeat or event) so the
# reader's credentials and role are checked again when it reconnects.
EVENTS_STREAM_MAX_SECONDS = env.float("EVENTS_STREAM_MAX_SECONDS", default=3600.0)
STREAM_HOST = env.str("STREAM_HOST", default="127.0.0.1")
STREAM_PORT = env.int("STREAM_PORT", default=8001)
# Where browsers reach the stream process (e.g. "https://app.example.com:8001"); empty: the
# admin pages use their own origin (a proxy routes /api/v2/events/ to the stream process).
STREAM_PUBLIC_URL = env.str("STREAM_PUBLIC_URL", default="").rstrip("/")
# Origins of the admin pages allowed to read the stream process with their session cookie
# (credentialed CORS on /api/v2/events/ only), e.g. "https://app.example.com".
EVENTS_ALLOWED_ORIGINS: list[str] = env.list("EVENTS_ALLOWED_ORIGINS", default=[])
if STREAM_PUBLIC_URL:
    from urllib.parse import urlsplit as _urlsplit

    _stream = _urlsplit(STREAM_PUBLIC_URL)
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["connect-src"] = [
        "'self'",
        f"{_stream.scheme}://{_stream.netloc}",
    ]
# core/templates (admin/base_site.html: the live-events script on every admin page) must win
# over django.contrib.admin's own, which comes first in INSTALLED_APPS.
TEMPLATES[0]["DIRS"] = [BASE_DIR / "core" / "templates"]
# ---- END LIVE EVENTS ----------------------------------------------------------------------
