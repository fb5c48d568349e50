"""Observability overhead: the cached published history read with metrics and tracing on vs off.

Figures (one JSON line each):
- ``observability.history_read_on_ms``: median time of ``GET /api/v2/indexes/bench-history/
  values/?page_size=5000`` (5,000 levels, served from the Redis read cache after a warm-up),
  through Django's full middleware stack (test client, signed-in viewer), with
  ``METRICS_ENABLED`` and ``TRACING_ENABLED`` true and no span exporter configured;
- ``observability.history_read_off_ms``: the same with both false;
- ``observability.overhead_pct``: (on − off) / off × 100 (goal ≤ 5 %).

Settings are read once per process, so each mode runs in a fresh interpreter (this module run
as ``python -m bench.observability <database>``) against the benchmark database created by
``bench``. Modes alternate over ``ROUNDS`` rounds and each mode's figure is the median of its
rounds' medians, so a machine getting slower during the run does not favour one mode.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

SLUG = "bench-history"
LEVELS = 5000
ROUNDS = 3
WARMUP_REQUESTS = 30
TIMED_REQUESTS = 300
MODES = {
    "on": {"METRICS_ENABLED": "true", "TRACING_ENABLED": "true"},
    "off": {"METRICS_ENABLED": "false", "TRACING_ENABLED": "false"},
}
# No exporter: tracing instruments but sends nothing (the production default without a
# collector). Throttles are lifted so thousands of reads by one viewer are all answered.
CHILD_ENVIRONMENT = {
    "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    "OTEL_TRACES_EXPORTER": "",
    "API_THROTTLE_RATE_VIEWER": "1000000/min",
    "LOG_LEVEL": "WARNING",
}


def _log(message: str) -> None:
    print(f"  observability: {message}", file=sys.stderr, flush=True)


def _published_history() -> Any:
    """An index with a published run of :data:`LEVELS` daily levels; returns the viewer who
    reads it (a user in the viewer group)."""
    from django.contrib.auth.models import Group

    from accounts.models import User
    from portfolio.models import Index, IndexRun, IndexValue
    from portfolio.services import index_run_publish
    from strategy.models import StrategyConfig

    strategy = StrategyConfig.objects.create(name="bench-history")
    index = Index.objects.create(slug=SLUG, name="Benchmark history", strategy=strategy)
    first = dt.date(2005, 1, 3)
    days = [first + dt.timedelta(days=offset) for offset in range(LEVELS)]
    run = IndexRun.objects.create(
        index=index,
        status=IndexRun.Status.SUCCEEDED,
        trigger=IndexRun.Trigger.CLI,
        inception_date=days[0],
        data_through=days[-1],
        last_level=100.0 + LEVELS / 100,
    )
    IndexValue.objects.bulk_create(
        IndexValue(run=run, date=day, level=100.0 + number / 100) for number, day in enumerate(days)
    )
    index_run_publish(run=run)
    viewer = User.objects.create_user(email="bench-viewer@example.com", password=None)
    viewer.groups.add(Group.objects.get_or_create(name="viewer")[0])
    return viewer


def _measure_child(database: str, user_id: int) -> dict[str, float]:
    """In a fresh process: median seconds of the cached read, in this process's mode."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.db import connections
    from django.test import Client
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    # The benchmark's database, not the one settings name (a pool opened during set-up, if
    # any, is closed so the next connection goes there).
    connections["default"].settings_dict["NAME"] = database
    connections["default"].close_pool()
    token = AccessToken.for_user(User.objects.get(pk=user_id))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = f"/api/v2/indexes/{SLUG}/values/?page_size={LEVELS}"
    for _ in range(WARMUP_REQUESTS):
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.content[:200]!r}")
    if len(response.json()["results"]) != LEVELS:
        raise RuntimeError("the history read did not return every level")
    seconds = []
    for _ in range(TIMED_REQUESTS):
        started = time.perf_counter()
        client.get(url)
        seconds.append(time.perf_counter() - started)
    return {"median_s": statistics.median(seconds)}


def _run_mode(mode: str, database: str, user_id: int) -> float:
    environment = {**os.environ, **CHILD_ENVIRONMENT, **MODES[mode]}
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.observability", database, str(user_id)],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{mode} run failed:\n{completed.stderr[-3000:]}")
    median_s = float(json.loads(completed.stdout.strip().splitlines()[-1])["median_s"])
    _log(f"{mode}: median {median_s * 1000:.3f} ms")
    return median_s


def run() -> Iterator[dict[str, Any]]:
    from django.db import connection

    viewer = _published_history()
    database = connection.settings_dict["NAME"]
    _log(f"{LEVELS} levels published; {ROUNDS} rounds of {TIMED_REQUESTS} reads per mode")
    medians: dict[str, list[float]] = {mode: [] for mode in MODES}
    for _round in range(ROUNDS):
        for mode in MODES:
            medians[mode].append(_run_mode(mode, database, viewer.pk))
    on = statistics.median(medians["on"])
    off = statistics.median(medians["off"])
    yield {"name": "observability.history_read_on_ms", "value": round(on * 1000, 3), "unit": "ms"}
    yield {
        "name": "observability.history_read_off_ms",
        "value": round(off * 1000, 3),
        "unit": "ms",
    }
    yield {
        "name": "observability.overhead_pct",
        "value": round((on - off) / off * 100, 2),
        "unit": "%",
    }


if __name__ == "__main__":
    print(json.dumps(_measure_child(sys.argv[1], int(sys.argv[2]))), flush=True)
