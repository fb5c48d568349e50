"""``make bench``: run every benchmark; print one JSON object per figure on stdout.

Each benchmark module exposes ``run() -> Iterable[Figure]``. Progress and notes go to stderr so
stdout stays machine-readable. Benchmarks set up Django (test settings: the embedded or
configured PostgreSQL/Redis) and work in their own database, created and dropped here.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterable
from typing import TypedDict

# Run in one database, in this order (the backup figures measure what ingest and engine left:
# the 539-asset universe's prices and a large index).
BENCHMARK_MODULES = ("bench.ingest", "bench.engine", "bench.backup")
# Each in a fresh database of its own.
# bench.fanout too: its Celery worker subprocess connects to that database by name.
ISOLATED_MODULES = (
    "bench.backup_demo",
    "bench.observability",
    "bench.api",
    "bench.fanout",
    "bench.stream",
)


class Figure(TypedDict):
    name: str
    value: float
    unit: str


def emit(figures: Iterable[Figure]) -> None:
    for figure in figures:
        print(json.dumps(figure), flush=True)


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from bench.database import benchmark_database

    selected = argv or [*BENCHMARK_MODULES, *ISOLATED_MODULES]
    shared = [name for name in selected if name not in ISOLATED_MODULES]
    if shared:
        with benchmark_database():
            for module_name in shared:
                _run(module_name)
    for module_name in (name for name in selected if name in ISOLATED_MODULES):
        with benchmark_database(suffix="_" + module_name.rsplit(".", 1)[-1]):
            _run(module_name)
    return 0


def _run(module_name: str) -> None:
    module = importlib.import_module(module_name)
    print(f"running {module_name}", file=sys.stderr, flush=True)
    emit(module.run())


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
