"""One asset's year of closes over a price table of ≥ 25 M rows: ``make bench-scale``.

``python -m bench.scale`` (test settings) creates its own benchmark database, migrated, and grows
``market_price`` (partitioned by year) to :data:`ASSETS` × every weekday of
:data:`FIRST_YEAR`–:data:`LAST_YEAR` rows: 10,000 × 2,609 = 26,090,000. The rows are synthesized
in PostgreSQL (``INSERT … SELECT`` over ``generate_series``, one statement per year, in asset
then date order as a refresh writes them, on :data:`LOADERS` connections at once), then
``VACUUM (ANALYZE)`` leaves the table as a production one is between refreshes (statistics,
visibility map). The prices are a deterministic wave per asset: positive closes, low ≤ close ≤
high, as the table's checks require.

Then the Procfile's gunicorn (:data:`bench.serving.PROCFILE_MODEL`, :mod:`bench.settings`)
answers, one request at a time (one connection: latency, not queueing), rotating over
:data:`ROTATION` assets spread over the table:

- ``GET /api/v2/assets/{symbol}/prices/?start=2023-01-01&end=2023-12-31&page_size=366`` (a
  viewer's token; 260 bars, checked before measuring), and the same-run baseline
  ``GET /bench/hello``, warmed up, then :data:`ROUNDS` rounds of :data:`SECONDS` each.

Figures (one JSON line each; the API ones with ``tool``, the load generator):

- ``api.prices_year_p95_ms``: the 95th percentile of the prices read (median over rounds; the
  goal is ≤ 10 ms); ``api.prices_year_p50_ms`` likewise;
- ``api.prices_hello_p95_ms``: the hello-world view's p95 in the same rounds (the floor);
- ``api.prices_year_sql_p95_ms``: the endpoint's own SQL (the first page's statement of
  ``market.selectors.PriceSeries``, as the view sends it: the asset looked up by symbol inside
  it, the year, ``page_size`` + 1 rows) run from this process :data:`SQL_READS` times: the
  database's share of the read;
- ``scale.price_rows`` (the table's rows) and ``scale.grow_rows_per_s`` (how fast they were
  synthesized, for the record: not a goal).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

ASSETS = 10_000
FIRST_YEAR, LAST_YEAR = 2015, 2024
YEARS = tuple(range(FIRST_YEAR, LAST_YEAR + 1))
LOADERS = 2
ROTATION = 64
ROUNDS = 3
SECONDS = 8.0
WARMUP_SECONDS = 3.0
SQL_READS = 300
SYMBOL_PREFIX = "SCALE."  # no seeded symbol starts so
READ_START, READ_END = dt.date(2023, 1, 1), dt.date(2023, 12, 31)
READ_BARS = 260  # weekdays of 2023
READ_PAGE_SIZE = 366
MIN_ROWS = 25_000_000

# One year of every benchmark asset's weekday bars, asset by asset; %(year)s is bound.
GROW_YEAR_SQL = """
INSERT INTO market_price (asset_id, date, open, high, low, close, volume, source)
SELECT asset.id, day::date, wave.close, wave.close * 1.01, wave.close * 0.99, wave.close,
       1000 + (asset.id * 7919 + extract(doy FROM day)::int * 104729) %% 1000000, 'bench'
FROM market_asset AS asset
CROSS JOIN generate_series(make_date(%(year)s, 1, 1), make_date(%(year)s, 12, 31),
                           interval '1 day') AS day
CROSS JOIN LATERAL (
    SELECT round((60 + 40 * sin(asset.id * 0.37 + (day::date - date '2015-01-01') / 45.0))
                 ::numeric, 4) AS close
) AS wave
WHERE asset.symbol LIKE %(prefix)s AND extract(isodow FROM day) < 6
ORDER BY asset.id, day
"""


def _log(message: str) -> None:
    print(f"  scale: {message}", file=sys.stderr, flush=True)


def _symbol(number: int) -> str:
    return f"{SYMBOL_PREFIX}{number:05d}"


def _grow_year(year: int, database: str) -> int:
    """One year's rows on this thread's own connection (closed afterwards); how many.

    Refuses to write unless that connection is to ``database`` (the benchmark's).
    """
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            (current,) = cursor.fetchone()
            if current != database:
                raise RuntimeError(f"connected to {current}, not to the benchmark's {database}")
            cursor.execute("SET synchronous_commit = off")  # a bench's load, not a refresh
            cursor.execute(GROW_YEAR_SQL, {"year": year, "prefix": SYMBOL_PREFIX + "%"})
            return int(cursor.rowcount)
    finally:
        connection.close()


def grow_prices() -> tuple[int, float]:
    """:data:`ASSETS` assets and their weekday bars of every year; (rows, seconds)."""
    from django.db import connection

    from market.models import Asset

    Asset.objects.bulk_create(
        Asset(symbol=_symbol(number), name=f"Scale {number}", asset_class="equity")
        for number in range(ASSETS)
    )
    started = time.perf_counter()
    rows = 0
    with ThreadPoolExecutor(max_workers=LOADERS) as loaders:
        database = [connection.settings_dict["NAME"]] * len(YEARS)
        for year, inserted in zip(YEARS, loaders.map(_grow_year, YEARS, database), strict=True):
            rows += inserted
            _log(f"{year}: {inserted:,} rows ({rows:,} so far)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) market_price")
    return rows, time.perf_counter() - started


def _read_paths() -> list[str]:
    step = ASSETS // ROTATION
    return [
        f"/api/v2/assets/{_symbol(number * step)}/prices/"
        f"?start={READ_START}&end={READ_END}&page_size={READ_PAGE_SIZE}"
        for number in range(ROTATION)
    ]


def _check_read(base_url: str, path: str, token: str) -> None:
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - our loopback server
        base_url + path, headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        bars = json.loads(answer.read())["results"]
    if len(bars) != READ_BARS:
        raise RuntimeError(f"{path} gave {len(bars)} bars, not {READ_BARS}")


def sql_p95_ms() -> float:
    """The p95 of the prices endpoint's own statement, run from this process: the first page's
    (``market.selectors.PriceSeries`` for the year, ordered by date, ``page_size`` + 1 rows as
    the cursor pagination asks; the asset found by symbol inside it), as the view sends it."""
    from django.db import connection

    from market.selectors import PriceSeries

    step = ASSETS // ROTATION
    queries = [
        PriceSeries(symbol=_symbol(number * step))
        .filter(date__gte=READ_START, date__lte=READ_END)
        .order_by("date")[: READ_PAGE_SIZE + 1]
        .statement()
        for number in range(ROTATION)
    ]
    seconds = []
    with connection.cursor() as cursor:
        for number in range(SQL_READS):
            sql, params = queries[number % len(queries)]
            started = time.perf_counter()
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            seconds.append(time.perf_counter() - started)
            if len(rows) != READ_BARS:
                raise RuntimeError(f"the endpoint's statement gave {len(rows)} rows")
    return statistics.quantiles(seconds, n=100)[94] * 1000


def run() -> Iterator[dict[str, Any]]:
    from django.db import connection

    from bench.api import viewer_tokens
    from bench.load import load, load_tool
    from bench.serving import PROCFILE_MODEL, BenchServer
    from bench.urls import HELLO_PATH

    _log(f"growing market_price to {ASSETS:,} assets x the weekdays of {FIRST_YEAR}-{LAST_YEAR}")
    rows, seconds = grow_prices()
    _log(f"{rows:,} rows in {seconds:.0f} s (with VACUUM ANALYZE)")
    if rows < MIN_ROWS:
        raise RuntimeError(f"only {rows:,} price rows")
    yield {"name": "scale.price_rows", "value": rows, "unit": "rows"}
    yield {"name": "scale.grow_rows_per_s", "value": round(rows / seconds), "unit": "rows/s"}

    tool = load_tool()
    tokens = viewer_tokens()
    paths = _read_paths()
    p95: dict[str, list[float]] = {"prices": [], "hello": []}
    p50: list[float] = []
    with BenchServer(PROCFILE_MODEL, database=connection.settings_dict["NAME"]) as server:
        _check_read(server.base_url, paths[0], tokens[0])
        loads = {"prices": paths, "hello": [HELLO_PATH]}
        for rotation in loads.values():
            load(server.base_url, rotation, tokens=tokens, connections=1, seconds=WARMUP_SECONDS)
        for number in range(ROUNDS):
            for name, rotation in loads.items():
                result = load(
                    server.base_url, rotation, tokens=tokens, connections=1, seconds=SECONDS
                )
                if result.errors:
                    raise RuntimeError(f"{name}: {result.errors} errors")
                p95[name].append(result.p95_ms)
                if name == "prices":
                    p50.append(result.p50_ms)
            _log(
                f"round {number + 1}: prices p50 {p50[-1]:.1f} ms p95 {p95['prices'][-1]:.1f} "
                f"ms, hello p95 {p95['hello'][-1]:.1f} ms ({tool}, one connection)"
            )
    medians = {
        "api.prices_year_p95_ms": statistics.median(p95["prices"]),
        "api.prices_year_p50_ms": statistics.median(p50),
        "api.prices_hello_p95_ms": statistics.median(p95["hello"]),
    }
    for name, value in medians.items():
        yield {"name": name, "value": round(value, 2), "unit": "ms", "tool": tool}
    yield {"name": "api.prices_year_sql_p95_ms", "value": round(sql_p95_ms(), 2), "unit": "ms"}


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from bench.database import benchmark_database

    with benchmark_database(suffix="_scale"):
        for figure in run():  # one JSON line each, as ``make bench`` prints them
            print(json.dumps(figure), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
