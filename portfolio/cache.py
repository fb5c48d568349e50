"""Redis cache of published index reads, keyed by the published run (DESIGN §7).

A read is identified by the endpoint, the index, **the id of its published run**, the index's
last edit, the canonical query and the origin (pagination links are absolute URLs). Publishing
a new run changes the identity, so the next read uses new keys and a new ETag: nothing is ever
invalidated, and no reader can see a mix of two runs. Old keys simply expire
(``PUBLISHED_READ_TTL_SECONDS``).

The cache is the fail-soft ``default`` alias (django-redis ``IGNORE_EXCEPTIONS``): when Redis is
down ``get`` misses and ``set`` does nothing, so reads degrade to the database, never to a 5xx.
The ETag is derived from the identity alone (not from the content), so a conditional request
is answered 304 without reading the cache or the data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.cache import caches

from .selectors import PublishedPointer

CACHE_ALIAS = "default"
# Keys never go stale (a new run means new keys); the TTL only bounds the memory they hold.
PUBLISHED_READ_TTL_SECONDS = 24 * 60 * 60
# Bump when a cached representation changes shape (a serializer change), so a deploy never
# serves entries written by the previous code.
REPRESENTATION_VERSION = 2
KEY_NAMESPACE = "portfolio:published"

T = TypeVar("T")
_MISSING = object()


@dataclass(frozen=True)
class PublishedRead:
    """What one cached read depends on. ``params`` are the validated query parameters."""

    endpoint: str
    pointer: PublishedPointer
    params: Mapping[str, str]
    origin: str = ""

    @property
    def digest(self) -> str:
        material = json.dumps(
            [
                REPRESENTATION_VERSION,
                self.endpoint,
                self.pointer.index_id,
                self.pointer.run_id,
                self.pointer.index_updated_at.isoformat(),
                sorted((str(name), str(value)) for name, value in self.params.items()),
                self.origin,
            ],
            separators=(",", ":"),
        )
        return hashlib.sha256(material.encode()).hexdigest()

    @property
    def key(self) -> str:
        """``portfolio:published:<index>:<run>:<endpoint>:<digest>``: the run id is readable
        so an operator can find (or drop) every key of a run with ``SCAN``."""
        run = self.pointer.run_id if self.pointer.run_id is not None else "none"
        return f"{KEY_NAMESPACE}:{self.pointer.index_id}:{run}:{self.endpoint}:{self.digest}"

    @property
    def etag(self) -> str:
        """A strong ETag (quoted): the same identity always renders the same bytes."""
        return f'"{self.digest[:32]}"'


def published_read_cached(read: PublishedRead, build: Callable[[], T]) -> T:
    """The cached value of ``read``, or ``build()``'s result, stored for the next reader.

    ``build`` runs on a miss and on any Redis failure (the default alias swallows and logs
    errors); it must return a picklable value and raise, not return, errors — an error is
    never cached.
    """
    cache = caches[CACHE_ALIAS]
    cached: Any = cache.get(read.key, _MISSING)
    if cached is not _MISSING:
        return cached
    value = build()
    cache.set(read.key, value, PUBLISHED_READ_TTL_SECONDS)
    return value
