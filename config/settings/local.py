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
# MARKET DATA (docs/settings-market.md): the local fake TwelveData (the Procfile's `fake`
# process, manage.py fake_twelvedata on TWELVEDATA_FAKE_PORT) unless pointed elsewhere.
TWELVEDATA_FAKE_PORT = env.int("TWELVEDATA_FAKE_PORT", default=8765)
TWELVEDATA_FAKE_URL = f"http://127.0.0.1:{TWELVEDATA_FAKE_PORT}"
TWELVEDATA_BASE_URL = env.str("TWELVEDATA_BASE_URL", default=TWELVEDATA_FAKE_URL)
TWELVEDATA_API_KEY = env.str("TWELVEDATA_API_KEY", default="demo")
# Against the fake, a generous plan (no daily cap) so a demo refresh takes seconds, not the
# Basic plan's 8 credits a minute; against the real API the plan's limits stay the defaults.
if TWELVEDATA_BASE_URL == TWELVEDATA_FAKE_URL:
    TWELVEDATA_CREDITS_PER_MINUTE = env.int("TWELVEDATA_CREDITS_PER_MINUTE", default=6000)
    TWELVEDATA_CREDITS_PER_DAY = env.int("TWELVEDATA_CREDITS_PER_DAY", default=0)
