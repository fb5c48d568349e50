"""The nightly recompute of many indexes, fanned out over a real Celery worker of 2 processes.

Figures (one JSON line each):
- ``fanout.recompute_100_s``: wall time from queueing the chain's batches
  (``portfolio.services.batch.indexes_recompute_batches_enqueue``, ``RECOMPUTE_BATCH_SIZE``)
  until all 100 indexes have a finished run (published or failed), computed by
  ``celery -A config worker --pool prefork --concurrency 2`` against the benchmark database and
  the embedded (or configured) Redis as broker — the production code path, nothing in-process;
- ``fanout.worker_1_peak_rss_mib``, ``fanout.worker_2_peak_rss_mib``: each pool process's peak
  resident memory (``VmHWM`` in ``/proc``), read before the worker stops;
  ``fanout.worker_peak_rss_mib`` the larger one;
- ``fanout.indexes_published``, ``fanout.indexes_failed``, ``fanout.batches``,
  ``fanout.market_loads`` (loads of market inputs, from the worker's log: at most one per pool
  process and data version when the cache works).

Data: the 539 stocks of ``../shared/data/prices_sp500_universe_2019_2024.csv.gz`` (relative to
the repository; raw closes 2019–2024) with their splits and dividends from
``../shared/data/corporate_actions/``, a dated market cap per asset and year (seeded random),
and ``^GSPC`` as every index's benchmark. 100 indexes of 50–500 assets (seeded random subsets;
weekly and monthly strategies alternating). Without the shared data the benchmark says so and
reports nothing.
"""

from __future__ import annotations

import datetime
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
UNIVERSE_CSV = SHARED_DATA / "prices_sp500_universe_2019_2024.csv.gz"
SPLITS_CSV = SHARED_DATA / "corporate_actions" / "splits.csv"
DIVIDENDS_CSV = SHARED_DATA / "corporate_actions" / "dividends.csv"
CELERY = Path(sys.executable).parent / "celery"
BENCHMARK_SYMBOL = "^GSPC"
SYMBOL_PREFIX = "FO."  # own symbols: never collide with the assets migrations seed
N_INDEXES, MIN_ASSETS, MAX_ASSETS = 100, 50, 500
WORKER_PROCESSES = 2
UPSERT_BATCH_ASSETS = 100
WORKER_START_TIMEOUT_S = 120.0
RECOMPUTE_TIMEOUT_S = 30 * 60.0
SEED = 20250115


def _log(message: str) -> None:
    print(f"  fanout: {message}", file=sys.stderr, flush=True)


def _database_url() -> str:
    """``DATABASE_URL`` of the benchmark database, for the worker processes."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    user = quote(database["USER"] or "", safe="")
    password = f":{quote(database['PASSWORD'], safe='')}" if database.get("PASSWORD") else ""
    host, port, name = database["HOST"] or "", database["PORT"] or "", database["NAME"]
    if host.startswith("/"):  # the embedded server listens on a socket directory
        query = f"host={quote(host, safe='/')}" + (f"&port={port}" if port else "")
        return f"postgres://{user}{password}@/{name}?{query}"
    return f"postgres://{user}{password}@{host}{f':{port}' if port else ''}/{name}"


def _store_market(prices: pd.DataFrame, rng: np.random.Generator) -> dict[str, int]:
    """Assets, raw prices, splits, dividends and yearly dated caps; asset id per data symbol."""
    from django.db import connection

    from market.models import Asset, AssetClass, Dividend, MarketCap, Split
    from market.partitions import ensure_year_partitions
    from market.services import prices_upsert

    dates = pd.to_datetime(prices["date"])
    ensure_year_partitions(range(dates.min().year, dates.max().year + 1))
    symbols = sorted(prices["symbol"].unique())
    Asset.objects.bulk_create(
        Asset(
            symbol=SYMBOL_PREFIX + symbol,
            asset_class=AssetClass.INDEX if symbol.startswith("^") else AssetClass.EQUITY,
        )
        for symbol in symbols
    )
    ids = {
        symbol.removeprefix(SYMBOL_PREFIX): pk
        for symbol, pk in Asset.objects.filter(symbol__startswith=SYMBOL_PREFIX).values_list(
            "symbol", "id"
        )
    }
    rows = prices.assign(asset_id=prices["symbol"].map(ids), date=dates.dt.date)
    started = time.perf_counter()
    for first in range(0, len(symbols), UPSERT_BATCH_ASSETS):
        batch_symbols = set(symbols[first : first + UPSERT_BATCH_ASSETS])
        batch = rows[rows["symbol"].isin(batch_symbols)]
        prices_upsert(
            batch[["asset_id", "date", "open", "high", "low", "close", "volume"]], source="bench"
        )
    _log(
        f"stored {len(rows):,} prices of {len(symbols)} symbols"
        f" in {time.perf_counter() - started:.1f} s"
    )

    first_day = datetime.date.fromisoformat(str(prices["date"].min()))
    last_day = datetime.date.fromisoformat(str(prices["date"].max()))

    def events(path: Path, date_column: str) -> list[tuple[int, datetime.date, dict[str, Any]]]:
        """(asset id, date, row) of the file's events of stored symbols within the prices."""
        if not path.exists():
            return []
        found = []
        for record in pd.read_csv(path).to_dict("records"):
            day = datetime.date.fromisoformat(str(record[date_column]))
            if record["symbol"] in ids and first_day <= day <= last_day:
                found.append(
                    (ids[str(record["symbol"])], day, {str(k): v for k, v in record.items()})
                )
        return found

    Split.objects.bulk_create(
        Split(
            asset_id=asset_id,
            effective_date=day,
            from_factor=Decimal(str(row["from_factor"])),
            to_factor=Decimal(str(row["to_factor"])),
        )
        for asset_id, day, row in events(SPLITS_CSV, "effective_date")
    )
    Dividend.objects.bulk_create(
        Dividend(asset_id=asset_id, ex_date=day, amount=Decimal(str(row["amount_raw"])))
        for asset_id, day, row in events(DIVIDENDS_CSV, "ex_date")
    )
    stocks = [symbol for symbol in symbols if not symbol.startswith("^")]
    years = range(first_day.year, last_day.year + 1)
    caps = rng.lognormal(mean=24.0, sigma=1.0, size=(len(stocks), len(years)))
    MarketCap.objects.bulk_create(
        MarketCap(
            asset_id=ids[symbol],
            as_of=first_day if year == first_day.year else pd.Timestamp(year, 1, 1).date(),
            value=Decimal(str(round(float(caps[row, column]), 2))),
            source="import",
        )
        for row, symbol in enumerate(stocks)
        for column, year in enumerate(years)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE market_price")
    _log(
        f"{Split.objects.count()} splits, {Dividend.objects.count()} dividends, "
        f"{MarketCap.objects.count()} dated caps"
    )
    return ids


def _create_indexes(ids: dict[str, int], rng: np.random.Generator) -> list[int]:
    from portfolio.models import Index
    from strategy.models import StrategyConfig

    stocks = sorted(symbol for symbol in ids if not symbol.startswith("^"))
    strategies = [
        StrategyConfig.objects.create(name="fanout-weekly", rebalance_frequency="weekly"),
        StrategyConfig.objects.create(name="fanout-monthly", rebalance_frequency="monthly"),
    ]
    created = []
    for number in range(N_INDEXES):
        size = int(rng.integers(MIN_ASSETS, MAX_ASSETS + 1))
        members = rng.choice(len(stocks), size=size, replace=False)
        index = Index.objects.create(
            slug=f"fanout-{number:03d}",
            name=f"Fan-out {number:03d}",
            strategy=strategies[number % len(strategies)],
            benchmark_id=ids.get(BENCHMARK_SYMBOL),
        )
        index.universe.set([ids[stocks[int(position)]] for position in members])
        created.append(index.pk)
    return created


class Worker:
    """``celery -A config worker --pool prefork --concurrency 2`` on the benchmark database."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        from django.conf import settings

        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "PYTHONUNBUFFERED": "1",
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - a fixed command line of our own
                [
                    str(CELERY),
                    "-A",
                    "config",
                    "worker",
                    "--pool",
                    "prefork",
                    "--concurrency",
                    str(WORKER_PROCESSES),
                    "-n",
                    f"bench-fanout-{uuid.uuid4().hex[:8]}@%h",
                    "--loglevel",
                    "INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while "ready." not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the worker did not start:\n{self.output()[-4000:]}")
            time.sleep(0.2)
        return self

    def child_pids(self) -> list[int]:
        if self.process is None:
            return []
        pid = self.process.pid
        try:
            return [
                int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            ]
        except FileNotFoundError:
            return []

    def peak_rss_mib(self) -> list[float]:
        """Each pool process's peak resident set (``VmHWM``), largest first."""
        peaks = []
        for pid in self.child_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(round(int(line.split()[1]) / 1024, 1))
        return sorted(peaks, reverse=True)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """Warm shutdown, then SIGKILL the worker's own process group if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def _wait_for_runs(index_ids: list[int]) -> dict[str, int]:
    from portfolio.models import IndexRun

    final = [IndexRun.Status.PUBLISHED, IndexRun.Status.FAILED]
    deadline = time.monotonic() + RECOMPUTE_TIMEOUT_S
    while time.monotonic() < deadline:
        finished = IndexRun.objects.filter(index_id__in=index_ids, status__in=final)
        if finished.count() >= len(index_ids):
            break
        time.sleep(0.25)
    else:
        raise RuntimeError(f"the recompute did not finish within {RECOMPUTE_TIMEOUT_S:.0f} s")
    statuses = IndexRun.objects.filter(index_id__in=index_ids).values_list("status", flat=True)
    return dict(Counter(statuses))


def run() -> Iterator[dict[str, Any]]:
    from django.conf import settings
    from django.utils import timezone

    from market.models import RefreshRun
    from portfolio.models import Index
    from portfolio.services.batch import indexes_recompute_batches_enqueue

    if not UNIVERSE_CSV.exists():
        _log(f"{UNIVERSE_CSV.name} absent (../shared/data): skipped")
        return
    rng = np.random.default_rng(SEED)
    prices = pd.read_csv(UNIVERSE_CSV)
    stocks = prices[~prices["symbol"].str.startswith("^") | (prices["symbol"] == BENCHMARK_SYMBOL)]
    ids = _store_market(stocks, rng)
    index_ids = _create_indexes(ids, rng)
    # The default index (seeded by a migration, no prices here) is not one of the hundred.
    Index.objects.filter(slug="autoindex").update(deleted_at=timezone.now())
    _log(f"{len(index_ids)} indexes of {MIN_ASSETS}-{MAX_ASSETS} assets")

    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as folder:
        worker = Worker(Path(folder) / "worker.log").start()
        try:
            refresh = RefreshRun.objects.create(
                status=RefreshRun.Status.SUCCEEDED,
                trigger=RefreshRun.Trigger.CLI,
                finished_at=timezone.now(),
            )
            started = time.perf_counter()
            queued = indexes_recompute_batches_enqueue(refresh_run=refresh)
            counts = _wait_for_runs(index_ids)
            elapsed = time.perf_counter() - started
            peaks = worker.peak_rss_mib()
            loads = worker.output().count("market inputs loaded")
        finally:
            worker.stop()
    batches = -(-len(queued) // settings.RECOMPUTE_BATCH_SIZE)
    _log(f"{len(queued)} indexes in {batches} batches: {elapsed:.1f} s; peak RSS {peaks} MiB")
    yield {"name": "fanout.recompute_100_s", "value": round(elapsed, 2), "unit": "s"}
    for number, peak in enumerate(peaks, start=1):
        yield {"name": f"fanout.worker_{number}_peak_rss_mib", "value": peak, "unit": "MiB"}
    yield {"name": "fanout.worker_peak_rss_mib", "value": max(peaks, default=0.0), "unit": "MiB"}
    yield {"name": "fanout.indexes_published", "value": counts.get("published", 0), "unit": "count"}
    yield {"name": "fanout.indexes_failed", "value": counts.get("failed", 0), "unit": "count"}
    yield {"name": "fanout.batches", "value": batches, "unit": "count"}
    yield {"name": "fanout.market_loads", "value": loads, "unit": "count"}
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _log(f"benchmark process (data preparation) peak RSS {own_peak:.0f} MiB")
