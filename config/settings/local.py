"""Developer machine: ``make run``. Embedded PostgreSQL/Redis unless the URLs are set."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import database_settings, env, redis_settings, replica_database_settings
from .embedded import database_config, redis_url

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# A development key: local settings are never deployed (production refuses to start without one).
SECRET_KEY = env.str("SECRET_KEY", default="local-development-only-not-secret-autoindex-0123456789")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=["http://localhost:3000"])

# Local runs archive the embedded server's WAL (WAL_ARCHIVE_DIR) for `manage.py pitr_drill`.
DATABASES = {
    "default": database_settings(database_config(archive_wal=True)),
    # `python -m core.embedded env --replica` prints the embedded standby's URL.
    **replica_database_settings(),
}
REDIS_URL = redis_url()
globals().update(redis_settings(REDIS_URL))

LOG_FORMAT = env.str("LOG_FORMAT", default="console")
# The local fake TwelveData (manage.py fake_twelvedata) unless pointed elsewhere.
TWELVEDATA_BASE_URL = env.str("TWELVEDATA_BASE_URL", default="http://127.0.0.1:8765")
TWELVEDATA_API_KEY = env.str("TWELVEDATA_API_KEY", default="demo")
