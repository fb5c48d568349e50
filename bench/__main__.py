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

BENCHMARK_MODULES = ("bench.ingest", "bench.engine")


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

    selected = argv or list(BENCHMARK_MODULES)
    with benchmark_database():
        for module_name in selected:
            module = importlib.import_module(module_name)
            print(f"running {module_name}", file=sys.stderr, flush=True)
            emit(module.run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
