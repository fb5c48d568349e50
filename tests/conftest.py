"""Shared fixtures: real PostgreSQL (pytest-django test database) and real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django_redis import get_redis_connection


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    """Each test starts with an empty cache key space (the test prefix only)."""
    yield
    for alias in ("default", "strict"):
        caches[alias].delete_pattern("*")


@pytest.fixture
def redis_connection():
    """A raw redis-py client on the project's Redis (no key prefix)."""
    return get_redis_connection("strict")
