"""The serving model's measurement: ``bench.api``'s method for several gunicorn models.

``python -m bench.serving_model [LABEL ...]`` (test settings, like ``make bench``) creates its own
benchmark database, loads the demo data and the published demo index, then measures each model
of :data:`MODELS` (or only those whose label is given, e.g. ``"sync 2"``, ``"gthread 2x8"``)
with :func:`bench.api.measure`: 3 rounds, in each every model in turn on a fresh server
(warm-up, then hello, history and allocations at 64 connections, ``/health/live`` probed during
the history load). It prints ``bench.api``'s
figures per model (one JSON line each, ``serving`` naming the model) on stdout and a Markdown
table on stderr (the one in docs/performance.md, "Serving model").

Slow (about 90 s a model) and not part of ``make bench``: it is how the model in
``config/gunicorn.conf.py`` was chosen, to be run again when the machine or the read path
changes.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

from bench.serving import ServingModel

if TYPE_CHECKING:  # bench.api needs Django set up (its URLconf): imported in main()
    from bench.api import ServingMeasurement

MODELS = (
    ServingModel("sync", workers=2),
    ServingModel("sync", workers=4),
    ServingModel("gthread", workers=2, threads=4),
    ServingModel("gthread", workers=2, threads=8),
    ServingModel("gthread", workers=2, threads=16),
    ServingModel("gthread", workers=4, threads=4),
)


def _table_row(measured: ServingMeasurement) -> str:
    share = measured.share_of_limit
    rate = measured.median
    slowest = max(measured.health_seconds, default=0.0) * 1000
    return (
        f"| {measured.model.label} | {rate('hello', 'requests_per_s'):,.0f} "
        f"| {rate('history', 'requests_per_s'):,.0f} (p50 {rate('history', 'p50_ms'):.0f}, "
        f"p99 {rate('history', 'p99_ms'):.0f} ms) | {share('history'):.2f} "
        f"| {rate('allocations', 'requests_per_s'):,.0f} | {share('allocations'):.2f} "
        f"| {slowest:.0f} ms, {measured.health_failures} failed |"
    )


def main(labels: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.db import connection

    from bench.api import figures, measure, published_demo_index
    from bench.database import benchmark_database
    from bench.load import load_tool

    models = [model for model in MODELS if not labels or model.label in labels]
    if not models:
        raise SystemExit(f"no model among {[model.label for model in MODELS]} is named {labels}")
    tool = load_tool()
    rows = []
    with benchmark_database(suffix="_serving_model"):
        published_demo_index()
        for measured in measure(models, database=connection.settings_dict["NAME"]):
            for figure in figures(measured, tool=tool):
                print(json.dumps(figure), flush=True)
            rows.append(_table_row(measured))
    print(
        f"\nmedians of 3 rounds, {tool}, 64 connections\n"
        "| model | hello req/s | history req/s | history share | allocations req/s "
        "| allocations share | /health/live under load (slowest) |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(rows),
        file=sys.stderr,
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
