"""A throw-away database for benchmarks (migrated like the test database, dropped afterwards)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import caches
from django.db import connection


@contextmanager
def benchmark_database(suffix: str = "") -> Iterator[None]:
    creation = connection.creation
    old_name = connection.settings_dict["NAME"]
    # Its own name, so a benchmark never clobbers the test suite's database.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_{old_name}{suffix}"
    print("creating benchmark database", file=sys.stderr, flush=True)
    creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    # Cached rows of the previous benchmark's database (user snapshots, published pointers and
    # bodies, by id or slug) would be read as this one's: a user id names another user here.
    caches["default"].clear()
    try:
        yield
    finally:
        creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
