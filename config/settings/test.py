"""Test run: real PostgreSQL and Redis (embedded unless the URLs are set), fast hashing."""

from __future__ import annotations

import os

from .base import *  # noqa: F403
from .base import database_settings, redis_settings
from .embedded import database_config, redis_url

DEBUG = False
SECRET_KEY = "test-only-not-secret-autoindex-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
# Fast hashing; bcrypt only verifies the MVP hashes the import tests bring in (then upgraded).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
]

DATABASES = {"default": database_settings(database_config())}
# DATABASE_REPLICA_URL is ignored: most tests read what they wrote in their own transaction.
# The replica tests start a real standby and add the ``replica`` alias themselves
# (tests/core/test_replica_routing.py).
# A test database per test run, so concurrent runs against one server cannot clobber each
# other; child processes (a Celery worker started by a test) inherit the same name.
_TEST_DB_SUFFIX = os.environ.setdefault("AUTOINDEX_TEST_DB_SUFFIX", str(os.getpid()))
DATABASES["default"]["TEST"] = {"NAME": f"test_autoindex_{_TEST_DB_SUFFIX}"}
REDIS_URL = redis_url()
globals().update(redis_settings(REDIS_URL))
# Each test run gets its own key space so runs against a shared Redis do not collide (the
# cleanup fixture deletes only this prefix's keys).
for _cache in CACHES.values():  # type: ignore[name-defined]
    _cache["KEY_PREFIX"] = f"autoindex-test-{_TEST_DB_SUFFIX}"

LOG_FORMAT = "console"
# Tests attach an in-memory span exporter after start-up and assert the SQL spans of a trace
# (the overhead bench sets the production default, auto, in its own processes).
TRACING_CLIENT_SPANS = os.environ.get("TRACING_CLIENT_SPANS", "on")
TWELVEDATA_BASE_URL = "http://127.0.0.1:9"  # tests point the client at their own fake server
# A Celery worker subprocess started by a fault drill (tests/faults/worker.py) is pointed at
# the drill's fake server through this variable; the test process itself never sets it.
TWELVEDATA_BASE_URL = os.environ.get("AUTOINDEX_TEST_TWELVEDATA_URL", TWELVEDATA_BASE_URL)
TWELVEDATA_API_KEY = "test-key"

# Celery: every broker and result key of a test run carries the run's own prefix, so a
# developer's worker (``make run``, same Redis) never receives a task sent by a test, and the
# session's teardown (tests/conftest.py) deletes what the run left behind.
CELERY_TEST_KEY_PREFIX = f"autoindex-test-{_TEST_DB_SUFFIX}:"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "global_keyprefix": CELERY_TEST_KEY_PREFIX,
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    **CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS,
    "global_keyprefix": CELERY_TEST_KEY_PREFIX,
}
# The chain's retries of a refused recompute wait in production; in tests they would only slow
# the suite (tests that exercise the retry pass their own delays).
RECOMPUTE_ENQUEUE_RETRY_SECONDS = []
