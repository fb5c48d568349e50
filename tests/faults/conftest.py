"""Fixtures of the fault suite: proxies in front of the test run's PostgreSQL and Redis, and a
real gunicorn that reaches them only through the proxies.

A test that uses :func:`live_stack` is transactional (``django_db(transaction=True,
serialized_rollback=True)``): the rows it creates are committed, so the gunicorn subprocess
sees them. The subprocess runs the test settings against the test database itself (its name
goes into ``DATABASE_URL``, which the test settings use as is) and shares the run's key prefix
(``AUTOINDEX_TEST_DB_SUFFIX`` is inherited), so the ``task_queue`` fixture sees what it sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User

from .stack import Gunicorn, Target, TcpProxy, TcpTarget, UnixTarget


def postgres_target() -> Target:
    """Where the test run's PostgreSQL listens (a socket directory for the embedded server)."""
    database = settings.DATABASES["default"]
    host, port = database["HOST"] or "/tmp", int(database["PORT"] or 5432)  # noqa: S108
    if host.startswith("/"):
        return UnixTarget(f"{host}/.s.PGSQL.{port}")
    return TcpTarget(host, port)


def redis_target() -> tuple[Target, str]:
    """Where the test run's Redis listens, and the database number of its URL."""
    url = urlsplit(settings.REDIS_URL)
    if url.scheme == "unix":
        db = dict(part.split("=", 1) for part in url.query.split("&") if "=" in part)
        return UnixTarget(url.path), db.get("db", "0")
    return TcpTarget(url.hostname or "127.0.0.1", url.port or 6379), url.path.lstrip("/") or "0"


@pytest.fixture
def postgres_proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy(postgres_target()).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def redis_proxy() -> Iterator[TcpProxy]:
    target, _db = redis_target()
    proxy = TcpProxy(target).start()
    yield proxy
    proxy.stop()


@dataclass
class LiveStack:
    web: Gunicorn
    postgres: TcpProxy
    redis: TcpProxy


@pytest.fixture
def live_stack(
    transactional_db: None, postgres_proxy: TcpProxy, redis_proxy: TcpProxy, tmp_path: Path
) -> Iterator[LiveStack]:
    """gunicorn (config/gunicorn.conf.py) on the test database, through both proxies."""
    database = settings.DATABASES["default"]
    # Once the test database is set up, NAME is its name (Django rewrites it in place).
    credentials = database["USER"] + (f":{database['PASSWORD']}" if database["PASSWORD"] else "")
    _target, redis_db = redis_target()
    web = Gunicorn(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": (
                f"postgres://{credentials}@127.0.0.1:{postgres_proxy.port}/{database['NAME']}"
            ),
            "REDIS_URL": f"redis://127.0.0.1:{redis_proxy.port}/{redis_db}",
            "WEB_CONCURRENCY": "2",
            "WEB_THREADS": "4",
        },
        log_path=tmp_path / "gunicorn.log",
    ).start()
    try:
        yield LiveStack(web=web, postgres=postgres_proxy, redis=redis_proxy)
    finally:
        web.stop()


def bearer_header(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}
