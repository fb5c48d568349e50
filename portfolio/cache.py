"""Redis cache of published index reads: rendered bodies keyed by the published run, and the
published-run pointer of each index (DESIGN §7; docs/api.md, "Caching").

**Bodies.** A read is identified by the endpoint, the index, **the id of its published run**, the
index's last edit, the canonical query and the origin (pagination links are absolute). Publishing
a new run changes the identity, so the next read uses new keys and a new ETag: no body is ever
invalidated, and no reader can see a mix of two runs. What is stored is the response body as
rendered (JSON bytes, and a gzip copy of them, each under its own key), so a hit is one Redis
GET and a copy, never an unpickling of Python objects or a JSON rendering. Old keys simply expire
(``PUBLISHED_READ_TTL_SECONDS``).

**Pointers.** Which run an index publishes is cached per slug together with a *pointer version*
(a random token under one key). Every write that changes what a pointer holds — publishing a run,
editing, deleting or restoring an index — calls :func:`published_pointers_changed`, which puts a
new version both when the change is made and when its transaction commits; an entry whose
version is not the current one is never used, so the first request after the commit reads the
new pointer. An entry is also never used once older than ``PUBLISHED_POINTER_CACHE_SECONDS``:
that bounds a change made any other way (SQL, a shell), a version lost to a Redis outage, or a
pointer read from a lagging replica.

The cache is the fail-soft ``default`` alias (django-redis ``IGNORE_EXCEPTIONS``): when Redis is
down ``get`` misses and ``set`` does nothing, so reads degrade to the database, never to a 5xx.
The ETag is derived from the identity alone (not from the content), so a conditional request
is answered 304 without reading a body or the data.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import transaction

from .selectors import PublishedPointer, published_pointer_get

CACHE_ALIAS = "default"
# Keys never go stale (a new run means new keys); the TTL only bounds the memory they hold.
PUBLISHED_READ_TTL_SECONDS = 24 * 60 * 60
# Bump when a cached representation changes shape (a serializer change), so a deploy never
# serves entries written by the previous code. 3: rendered bytes instead of pickled objects.
REPRESENTATION_VERSION = 3
KEY_NAMESPACE = "portfolio:published"
GZIP_SUFFIX = ":gzip"
# Smaller bodies are stored and sent as they are (as django.middleware.gzip does).
GZIP_MIN_BYTES = 200
GZIP_LEVEL = 6
IDENTITY, GZIP = "", "gzip"

POINTER_VERSION_KEY = "portfolio:pointer-version"
# ``v1``: bump when PublishedPointer changes shape.
POINTER_KEY = "portfolio:pointer:v1:{slug}"


@dataclass(frozen=True)
class PublishedRead:
    """What one cached read depends on. ``params`` are the validated query parameters."""

    endpoint: str
    pointer: PublishedPointer
    params: Mapping[str, str]
    origin: str = ""

    @cached_property
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


def published_body_cached(
    read: PublishedRead, render: Callable[[], bytes], *, gzip_accepted: bool
) -> tuple[bytes, str]:
    """The body of ``read`` and its content coding (``"gzip"`` or ``""``): from Redis, or
    ``render()``'s bytes, stored (with their gzip copy) for the next reader.

    ``render`` runs on a miss and on any Redis failure; it must raise, not return, errors (an
    error is never cached). With ``gzip_accepted`` the gzip copy is answered, except for a body
    under :data:`GZIP_MIN_BYTES` (answered as it is). Each copy has its own key, so a reader
    transfers only the one it sends.
    """
    cache = caches[CACHE_ALIAS]
    key = read.key + (GZIP_SUFFIX if gzip_accepted else "")
    cached: Any = cache.get(key)
    if isinstance(cached, tuple) and len(cached) == 2:
        body, coding = cached
        return body, coding
    body = render()
    stored: tuple[bytes, str] = (body, IDENTITY)
    if len(body) >= GZIP_MIN_BYTES:
        stored = (gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0), GZIP)
    cache.set_many(
        {read.key: (body, IDENTITY), read.key + GZIP_SUFFIX: stored},
        PUBLISHED_READ_TTL_SECONDS,
    )
    return stored if gzip_accepted else (body, IDENTITY)


# PUBLISHED-RUN POINTERS


def _pointer_max_age() -> float:
    return float(settings.PUBLISHED_POINTER_CACHE_SECONDS)


def published_pointer_cached(*, slug: str) -> PublishedPointer:
    """:func:`portfolio.selectors.published_pointer_get`, cached (module docstring): one Redis
    round trip and no query while the entry is current; raises ``Index.DoesNotExist`` (never
    cached, so a new or restored index is found at once)."""
    cache = caches[CACHE_ALIAS]
    key = POINTER_KEY.format(slug=slug)
    max_age = _pointer_max_age()
    found = cache.get_many([POINTER_VERSION_KEY, key]) if max_age > 0 else {}
    version, entry = found.get(POINTER_VERSION_KEY), found.get(key)
    if version is not None and isinstance(entry, tuple) and len(entry) == 3:
        entry_version, read_at, pointer = entry
        if entry_version == version and 0 <= time.time() - read_at < max_age:
            return pointer
    # The version is read before the database: a change committed after this read puts a new
    # version, so what is stored below cannot outlive it.
    pointer = published_pointer_get(slug=slug)
    if max_age <= 0:
        return pointer
    if version is None:
        version = uuid.uuid4().hex
        if not cache.add(POINTER_VERSION_KEY, version, timeout=None):
            return pointer  # another process put a version first: store nothing this time
    cache.set(key, (version, time.time(), pointer), timeout=max_age)
    return pointer


def pointer_version_get() -> str | None:
    """The current pointer version (``None`` when there is none yet, or Redis is down)."""
    version = caches[CACHE_ALIAS].get(POINTER_VERSION_KEY)
    return version if isinstance(version, str) else None


def published_pointer_read_at(*, slug: str, version: str) -> float | None:
    """When the cached pointer of ``slug`` stored under ``version`` was read from the database
    (``time.time()``), or ``None`` when no such entry is held."""
    entry = caches[CACHE_ALIAS].get(POINTER_KEY.format(slug=slug))
    if isinstance(entry, tuple) and len(entry) == 3 and entry[0] == version:
        return float(entry[1])
    return None


def _pointer_version_new() -> None:
    caches[CACHE_ALIAS].set(POINTER_VERSION_KEY, uuid.uuid4().hex, timeout=None)


def published_pointers_changed() -> None:
    """Invalidate every cached published-run pointer: now, and again when the current
    transaction commits (a reader that read the old row in between cannot keep it).

    Call it from every write that changes what an index's readers resolve: a publish, an edit
    of an index (slug, base value, benchmark, ``updated_at``), its deletion or restoration.
    """
    _pointer_version_new()
    transaction.on_commit(_pointer_version_new)
