"""Observability overhead: the cached published history read with metrics and tracing on vs off.

What is read: ``GET /api/v2/indexes/bench-history/values/?page_size=5000`` (5,000 levels, served
from the Redis read cache after a warm-up) through Django's full middleware stack (the test
client, a signed-in viewer), as a client would. Three modes, each in an interpreter of its own
(settings are read once per process; this module run as ``python -m bench.observability
<database> <user id> <cpu>``) against the benchmark database created by ``bench``:

- ``on``: ``METRICS_ENABLED`` and ``TRACING_ENABLED`` true with no span exporter configured (the
  production default without a collector: psycopg/Redis client spans off, ``auto``);
- ``off``: both false (no metrics middleware, database or cache wrappers; no tracer provider);
- ``metrics``: metrics on, tracing off, for attribution (what is not metrics' is tracing's).

Logging is the same in every mode (``LOG_LEVEL=WARNING``: no per-request lines written).

How:

- ``SESSIONS`` sessions, one after the other; a session starts one process per mode, all with
  the same ``PYTHONHASHSEED`` (the session's number) and all pinned to the same CPU. Two
  processes of the *same* mode differ by a few per cent from their hash seeds and memory layout
  alone; the same seed within a session removes most of that, and several sessions average the
  rest out instead of letting one pair of processes decide the figure;
- each process warms up (``WARMUP_REQUESTS`` reads), then one round is run and discarded;
- a round is ``ROUND_TURNS`` turns; in a turn every mode serves one read, in an order rotating
  from turn to turn, so the modes' reads are milliseconds apart and see the same machine. A
  turn's paired overhead of a mode is its read's time / ``off``'s read's time − 1;
- each read is timed inside the serving process: wall time (``perf_counter``) and that
  process's CPU time (``process_time``: user + system of the process answering, not
  PostgreSQL's or Redis's, so other processes' load disturbs it less than wall time).

Figures (one JSON line each), over the ``SESSIONS × ROUNDS_PER_SESSION`` measured rounds:

- ``observability.history_read_on_ms`` / ``_off_ms``: the median of the rounds' median wall time
  per read;
- ``observability.overhead_pct``: the goal's figure (≤ 5 %): the median over rounds of the
  round's overhead (the median of its turns' paired overheads), on wall time, × 100;
- ``observability.overhead_cpu_pct``: the same on the serving process's CPU time per read (the
  larger, conservative, share: the database's and Redis's time is not in its denominator);
- ``observability.overhead_spread_pct`` / ``overhead_cpu_spread_pct``: the interquartile range
  of the per-round overheads (75th minus 25th percentile, in percentage points): how much one
  round scatters. The figure itself, a median of all rounds, has a standard error of about
  this spread / √(rounds), i.e. a sixth of it;
- ``observability.metrics_overhead_pct`` / ``metrics_overhead_cpu_pct``: metrics alone against
  ``off``, in the same way.

Medians (not means) keep a read that another process delayed by milliseconds from deciding a
round. Nothing is left out of the ``on`` reads: every one is served with the metrics
middlewares, database and cache counters, a span with trace ids and the log context.
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
SESSIONS = 4
ROUNDS_PER_SESSION = 8
ROUND_TURNS = 30
WARMUP_REQUESTS = 60
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


def _serve_measurements(database: str, user_id: int, cpu: int) -> None:
    """In a fresh process (one mode), on CPU ``cpu`` only: warm up, then answer each line on
    stdin with the wall and CPU seconds of one read (a JSON line), until stdin closes."""
    os.sched_setaffinity(0, {cpu})
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
    for _line in sys.stdin:
        started, started_cpu = time.perf_counter(), time.process_time()
        client.get(url)
        answer = {"s": time.perf_counter() - started, "cpu_s": time.process_time() - started_cpu}
        print(json.dumps(answer), flush=True)


class _Mode:
    """One measuring process in one mode, driven read by read over its stdin/stdout."""

    def __init__(self, mode: str, database: str, user_id: int, cpu: int, seed: int) -> None:
        self.mode = mode
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.observability", database, str(user_id), str(cpu)],
            env={
                **os.environ,
                **CHILD_ENVIRONMENT,
                **MODES[mode],
                "PYTHONHASHSEED": str(seed),
            },
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ready(self) -> None:
        self._answer()  # warmed up

    def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None  # noqa: S101 - a pipe was asked for
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.mode} process stopped (exit {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def read(self) -> tuple[float, float]:
        """Wall-clock and CPU seconds of one read."""
        assert self.process.stdin is not None  # noqa: S101 - a pipe was asked for
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        answer = self._answer()
        return float(answer["s"]), float(answer["cpu_s"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


class _Round:
    """One round's reads: per mode, the wall and CPU seconds of each turn's read."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {mode: [] for mode in MODES}
        self.cpu: dict[str, list[float]] = {mode: [] for mode in MODES}

    def overhead(self, mode: str, *, cpu: bool) -> float:
        """The median over the round's turns of ``mode``'s read against ``off``'s read of the
        same turn: read / off read − 1."""
        times = self.cpu if cpu else self.wall
        pairs = zip(times[mode], times["off"], strict=True)
        return statistics.median([seconds / off_seconds - 1 for seconds, off_seconds in pairs])


def _round(modes: dict[str, _Mode]) -> _Round:
    """``ROUND_TURNS`` turns of one read per mode, the order rotating from turn to turn."""
    names = list(modes)
    measured = _Round()
    for turn in range(ROUND_TURNS):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            seconds, cpu_seconds = modes[name].read()
            measured.wall[name].append(seconds)
            measured.cpu[name].append(cpu_seconds)
    return measured


def _session(database: str, user_id: int, cpu: int, seed: int) -> list[_Round]:
    """One process per mode (all with hash seed ``seed``), warmed up, then
    ``ROUNDS_PER_SESSION`` measured rounds after one discarded."""
    modes = {mode: _Mode(mode, database, user_id, cpu, seed) for mode in MODES}
    try:
        for measuring in modes.values():
            measuring.ready()
        _round(modes)  # warm-up, discarded
        return [_round(modes) for _ in range(ROUNDS_PER_SESSION)]
    finally:
        for measuring in modes.values():
            measuring.close()


def _percent(value: float) -> float:
    return round(value * 100, 2)


def _spread(overheads: list[float]) -> float:
    """The interquartile range of the per-round overheads."""
    first, _, third = statistics.quantiles(overheads, n=4)
    return third - first


def run() -> Iterator[dict[str, Any]]:
    from django.db import connection

    viewer = _published_history()
    database = connection.settings_dict["NAME"]
    _log(
        f"{LEVELS} levels published; {SESSIONS} sessions of {ROUNDS_PER_SESSION} rounds of "
        f"{ROUND_TURNS} interleaved reads per mode"
    )
    # Every mode on the same CPU: on a shared machine one CPU may be slower than another for
    # seconds at a time (its sibling busy, another process), which would favour whichever mode
    # the scheduler kept there. Each read still runs alone: the modes take turns.
    cpu = max(os.sched_getaffinity(0))
    rounds = [
        measured
        for session in range(SESSIONS)
        for measured in _session(database, viewer.pk, cpu, seed=session + 1)
    ]
    on = statistics.median([statistics.median(measured.wall["on"]) for measured in rounds])
    off = statistics.median([statistics.median(measured.wall["off"]) for measured in rounds])
    overheads = {
        (mode, cpu_time): [measured.overhead(mode, cpu=cpu_time) for measured in rounds]
        for mode in ("on", "metrics")
        for cpu_time in (False, True)
    }
    _log(
        f"on {on * 1000:.3f} ms, off {off * 1000:.3f} ms; per-round overheads wall (%) "
        + ", ".join(f"{overhead * 100:.1f}" for overhead in overheads["on", False])
        + "; CPU (%) "
        + ", ".join(f"{overhead * 100:.1f}" for overhead in overheads["on", True])
    )
    yield {"name": "observability.history_read_on_ms", "value": round(on * 1000, 3), "unit": "ms"}
    yield {
        "name": "observability.history_read_off_ms",
        "value": round(off * 1000, 3),
        "unit": "ms",
    }
    figures = {
        "overhead_pct": statistics.median(overheads["on", False]),
        "overhead_spread_pct": _spread(overheads["on", False]),
        "overhead_cpu_pct": statistics.median(overheads["on", True]),
        "overhead_cpu_spread_pct": _spread(overheads["on", True]),
        "metrics_overhead_pct": statistics.median(overheads["metrics", False]),
        "metrics_overhead_cpu_pct": statistics.median(overheads["metrics", True]),
    }
    for name, figure in figures.items():
        yield {"name": f"observability.{name}", "value": _percent(figure), "unit": "%"}


if __name__ == "__main__":
    _serve_measurements(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
