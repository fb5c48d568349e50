"""Observability overhead: the cached published history read with metrics and tracing on vs off.

Figures (one JSON line each):
- ``observability.history_read_on_ms``: median time of ``GET /api/v2/indexes/bench-history/
  values/?page_size=5000`` (5,000 levels, served from the Redis read cache after a warm-up),
  through Django's full middleware stack (test client, signed-in viewer), with
  ``METRICS_ENABLED`` and ``TRACING_ENABLED`` true and no span exporter configured;
- ``observability.history_read_off_ms``: the same with both false;
- ``observability.overhead_pct``: (on − off) / off × 100 (goal ≤ 5 %);
- ``observability.overhead_cpu_pct``: the same on the web process's CPU time per read;
- ``observability.metrics_overhead_pct`` / ``observability.metrics_overhead_cpu_pct``: metrics
  on and tracing off against both off (what metrics alone cost; the rest is tracing's).

Settings are read once per process, so each mode runs in an interpreter of its own (this module
run as ``python -m bench.observability <database> <user id>``) against the benchmark database
created by ``bench``. All stay up and take turns: ``ROUNDS`` rounds of ``ROUND_REQUESTS`` reads,
one mode at a time, the order reversed every other round. The read times are the medians of
the rounds' medians; an overhead is the median of the rounds' paired overheads (a mode against
``off`` in the same round), so a machine slowing down or speeding up during the run (other
processes) favours no mode. On a loaded machine the wall-clock figures still scatter by tens of
per cent from round to round: compare them on an idle one.
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
ROUNDS = 40
WARMUP_REQUESTS = 50
ROUND_REQUESTS = 25
MODES = {
    # Production's default: psycopg/Redis spans only in a process that exports (none here).
    "on": {"METRICS_ENABLED": "true", "TRACING_ENABLED": "true", "TRACING_CLIENT_SPANS": "auto"},
    "off": {"METRICS_ENABLED": "false", "TRACING_ENABLED": "false"},
    # Attribution: metrics alone (the rest of "on" is tracing's).
    "metrics": {"METRICS_ENABLED": "true", "TRACING_ENABLED": "false"},
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


def _serve_measurements(database: str, user_id: int) -> None:
    """In a fresh process (one mode): warm the cache, then answer each line ``N`` on stdin
    with the median seconds of ``N`` reads (a JSON line), until stdin closes."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.db import connections
    from django.test import Client
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    # The benchmark's database, not the one settings name (a pool opened during set-up, if
    # any, is closed so the next connection goes there).
    connection = connections["default"]
    connection.settings_dict["NAME"] = database
    connection.close_pool()  # type: ignore[attr-defined]  # the PostgreSQL backend's
    token = AccessToken.for_user(User.objects.get(pk=user_id))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = f"/api/v2/indexes/{SLUG}/values/?page_size={LEVELS}"
    for _ in range(WARMUP_REQUESTS):
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.content[:200]!r}")
    if len(response.json()["results"]) != LEVELS:
        raise RuntimeError("the history read did not return every level")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        wall, cpu = [], []
        for _ in range(int(line)):
            started, started_cpu = time.perf_counter(), time.process_time()
            client.get(url)
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        answer = {"median_s": statistics.median(wall), "median_cpu_s": statistics.median(cpu)}
        print(json.dumps(answer), flush=True)


class _Mode:
    """One measuring process in one mode, driven round by round over its stdin/stdout."""

    def __init__(self, mode: str, database: str, user_id: int) -> None:
        self.mode = mode
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.observability", database, str(user_id)],
            env={**os.environ, **CHILD_ENVIRONMENT, **MODES[mode]},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._answer()  # warmed up

    def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None  # noqa: S101 - a pipe was asked for
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.mode} process stopped (exit {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def round(self, requests: int) -> tuple[float, float]:
        """Median wall-clock and CPU seconds of ``requests`` reads."""
        assert self.process.stdin is not None  # noqa: S101 - a pipe was asked for
        self.process.stdin.write(f"{requests}\n")
        self.process.stdin.flush()
        answer = self._answer()
        return float(answer["median_s"]), float(answer["median_cpu_s"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def run() -> Iterator[dict[str, Any]]:
    from django.db import connection

    viewer = _published_history()
    database = connection.settings_dict["NAME"]
    _log(f"{LEVELS} levels published; {ROUNDS} rounds of {ROUND_REQUESTS} reads per mode")
    modes = {mode: _Mode(mode, database, viewer.pk) for mode in MODES}
    medians: dict[str, list[float]] = {mode: [] for mode in MODES}
    cpu_medians: dict[str, list[float]] = {mode: [] for mode in MODES}
    overheads: dict[str, list[float]] = {"on": [], "metrics": []}
    cpu_overheads: dict[str, list[float]] = {"on": [], "metrics": []}
    try:
        for number in range(ROUNDS):
            # Alternate the order, so no mode always follows the same one.
            order = list(MODES) if number % 2 == 0 else list(reversed(MODES))
            for mode in order:
                wall, cpu = modes[mode].round(ROUND_REQUESTS)
                medians[mode].append(wall)
                cpu_medians[mode].append(cpu)
            for mode in overheads:
                overheads[mode].append(medians[mode][-1] / medians["off"][-1] - 1)
                cpu_overheads[mode].append(cpu_medians[mode][-1] / cpu_medians["off"][-1] - 1)
    finally:
        for measuring in modes.values():
            measuring.close()
    on = statistics.median(medians["on"])
    off = statistics.median(medians["off"])
    _log(
        f"on {on * 1000:.3f} ms, off {off * 1000:.3f} ms; per-round overheads (%) "
        + ", ".join(f"{overhead * 100:.1f}" for overhead in overheads["on"])
    )
    yield {"name": "observability.history_read_on_ms", "value": round(on * 1000, 3), "unit": "ms"}
    yield {
        "name": "observability.history_read_off_ms",
        "value": round(off * 1000, 3),
        "unit": "ms",
    }
    yield {
        "name": "observability.overhead_pct",
        "value": round(statistics.median(overheads["on"]) * 100, 2),
        "unit": "%",
    }
    # The web process's own CPU per read: what observability adds (Python in the process), less
    # disturbed than wall time by other processes on the machine; PostgreSQL's and Redis's time
    # is not in the denominator, so this percentage is the larger (conservative) one.
    yield {
        "name": "observability.overhead_cpu_pct",
        "value": round(statistics.median(cpu_overheads["on"]) * 100, 2),
        "unit": "%",
    }
    yield {
        "name": "observability.metrics_overhead_pct",
        "value": round(statistics.median(overheads["metrics"]) * 100, 2),
        "unit": "%",
    }
    yield {
        "name": "observability.metrics_overhead_cpu_pct",
        "value": round(statistics.median(cpu_overheads["metrics"]) * 100, 2),
        "unit": "%",
    }


if __name__ == "__main__":
    _serve_measurements(sys.argv[1], int(sys.argv[2]))
