"""Settings shared by every environment.

Everything comes from the environment through one django-environ ``env``; every variable is
documented in README.md ("Configuration"). Base settings hold no secrets and no insecure
defaults: ``local``/``test`` add developer conveniences, ``production`` refuses to start without
the secrets and hosts it needs.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ

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
    "django_filters",
    "corsheaders",
    "simple_history",
    "django_celery_beat",
]
LOCAL_APPS = ["core", "accounts", "market", "strategy", "portfolio"]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

# MIDDLEWARE
# https://docs.djangoproject.com/en/5.2/topics/http/middleware/
MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
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

# STATIC
# https://docs.djangoproject.com/en/5.2/howto/static-files/
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")


# DATABASE
# https://docs.djangoproject.com/en/5.2/ref/databases/#connection-pool
# psycopg 3 with Django's native pool: CONN_MAX_AGE must stay 0 (the pool keeps connections);
# CONN_HEALTH_CHECKS makes the pool check a connection before handing it out.
DB_POOL_MIN_SIZE = env.int("DB_POOL_MIN_SIZE", default=1)
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=10)
DB_POOL_TIMEOUT = env.float("DB_POOL_TIMEOUT", default=10.0)
DB_POOL_ENABLED = env.bool("DB_POOL_ENABLED", default=True)


def database_settings(config: dict[str, Any]) -> dict[str, Any]:
    """Complete one DATABASES entry with the project's engine, pool and health-check options."""
    config = {**config, "ENGINE": "django.db.backends.postgresql"}
    config["CONN_MAX_AGE"] = 0
    config["CONN_HEALTH_CHECKS"] = True
    options = dict(config.get("OPTIONS", {}))
    if DB_POOL_ENABLED:
        options["pool"] = {
            "min_size": DB_POOL_MIN_SIZE,
            "max_size": DB_POOL_MAX_SIZE,
            "timeout": DB_POOL_TIMEOUT,
        }
    options.setdefault("application_name", "autoindex")
    config["OPTIONS"] = options
    return config


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
                "BACKEND": "django_redis.cache.RedisCache",
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
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=30 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=35 * 60)
CELERY_RESULT_EXPIRES = timedelta(days=1)
# Unacked messages are redelivered after the visibility timeout: keep it above the hard limit.
_VISIBILITY_TIMEOUT = CELERY_TASK_TIME_LIMIT + 60 * 60
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": _VISIBILITY_TIMEOUT}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": _VISIBILITY_TIMEOUT}
CELERY_VISIBILITY_TIMEOUT = _VISIBILITY_TIMEOUT
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# REST FRAMEWORK
# https://www.django-rest-framework.org/api-guide/settings/
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_VERSIONING_CLASS": "rest_framework.versioning.URLPathVersioning",
    "ALLOWED_VERSIONS": ["v2"],
    "DEFAULT_VERSION": "v2",
    "EXCEPTION_HANDLER": "core.errors.problem_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AutoIndex API",
    "DESCRIPTION": "Rules-based investment index: levels, allocations, risk metrics, simulations.",
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
}

# CORS
# https://github.com/adamchainz/django-cors-headers#configuration — explicit allow-list only.
CORS_ALLOWED_ORIGINS: list[str] = env.list("CORS_ALLOWED_ORIGINS", default=[])

# SECURITY
# https://docs.djangoproject.com/en/5.2/ref/middleware/#module-django.middleware.security
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# MARKET DATA
TWELVEDATA_BASE_URL = env.str("TWELVEDATA_BASE_URL", default="https://api.twelvedata.com")
TWELVEDATA_API_KEY = env.str("TWELVEDATA_API_KEY", default="")
TWELVEDATA_CREDITS_PER_MINUTE = env.int("TWELVEDATA_CREDITS_PER_MINUTE", default=8)
BENCHMARK_SYMBOL = env.str("BENCHMARK_SYMBOL", default="SPY")
PRICE_PARTITION_YEARS_AHEAD = env.int("PRICE_PARTITION_YEARS_AHEAD", default=1)

# LOGGING
# Structured (JSON in production, key=value locally); every line carries the request id.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logging.RequestIdFilter"}},
    "formatters": {"structured": {"()": "core.logging.StructuredFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "structured",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
    },
}
