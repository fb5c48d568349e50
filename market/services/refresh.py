"""The market-data refresh: incremental, fault-tolerant, never loses stored prices.

``prices_refresh`` is the one entry point (the market task, the portfolio's nightly chain and the
command call it; the API and the admin enqueue it through ``market.services.jobs``). Guarantees:

- only one refresh runs at a time (Redis lock); a second caller gets the running ``RefreshRun``;
- it refreshes the assets that exist and are active: it creates none (the default universe is
  seeded by a data migration and the demo loader), so an analyst's soft delete sticks;
- per asset it fetches from its last stored date minus ``REFRESH_OVERLAP_DAYS`` (to catch
  vendor revisions), or from ``ASSET_DEFAULT_START`` for an asset without prices, to today;
- it plans first (``refresh_plan``) and fetches only what fits today's vendor credits
  (``market.services.credits``); the rest is deferred, never started blindly;
- every vendor bar passes the price sanity checks (``market.services.sanity``) before storage;
  a bar that fails is quarantined, not stored, and the run ends ``partial``;
- prices are written only through :func:`~market.services.prices.prices_upsert` (insert,
  update-if-changed with a ``PriceRevision`` per changed close, never a delete), one transaction
  per batch: whatever a batch stored stays stored if a later batch or the whole run fails;
- a symbol that fails (unknown, malformed payload, plan-gated) is recorded in ``run.errors`` and
  the others proceed (run ``partial``); a daily credit exhaustion stops the run ``partial`` with
  the remaining symbols in ``run.deferred_symbols``; an outage (API unreachable, circuit open),
  a bad API key or a crash ends the run ``failed`` with ``run.failure`` and re-raises;
- symbols TwelveData cannot serve (Yahoo's ``^GSPC``) are skipped with a note in ``run.notes``
  unless ``TWELVEDATA_SYMBOL_MAP`` maps them; FX weekend bars are dropped (noted);
- the run records which symbols got rows inserted or updated (``run.changed_symbols``), so the
  caller can recompute only what depends on them. It notifies nobody: orchestration (refresh,
  then recompute) belongs to the portfolio app's nightly chain. The API key never reaches the
  run row.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd
from django.conf import settings
from django.utils import timezone
from redis.exceptions import LockError

from core.request_context import current_request_id
from market.locks import refresh_lock
from market.models import RefreshRun
from market.providers import (
    SymbolError,
    TwelveDataClient,
    TwelveDataDailyLimitExhausted,
    TwelveDataUnavailable,
)
from market.providers.schemas import DailyBar

from .credits import plans_within_budget
from .prices import PRICE_COLUMNS, UpsertResult, prices_upsert
from .refresh_plan import Plan, SymbolOutcome, plan_batches, refresh_plan, vendor_symbol
from .sanity import bars_screen

__all__ = ["RefreshAlreadyRunning", "SymbolOutcome", "prices_refresh", "redact", "vendor_symbol"]

logger = logging.getLogger(__name__)

SOURCE = "twelvedata"
# How long a caller that lost the lock race waits for the winner's run row to appear.
RUNNING_RUN_WAIT_SECONDS = 5.0
WEEKEND = (5, 6)  # Saturday, Sunday


class RefreshAlreadyRunning(Exception):
    """The lock is held but no running run could be found (the holder is just starting)."""


def redact(text: str) -> str:
    """``text`` with the API key blanked out (defence in depth for stored messages)."""
    key = settings.TWELVEDATA_API_KEY
    return text.replace(key, "***") if key else text


def prices_refresh(
    *,
    symbols: Sequence[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    trigger: str = RefreshRun.Trigger.CLI,
    actor: Any = None,
    client: TwelveDataClient | None = None,
    progress: Callable[[SymbolOutcome], None] | None = None,
) -> RefreshRun:
    """Refresh daily prices of ``symbols`` (default: every active asset) and return the run.

    ``start``/``end`` override the incremental range for every symbol (``end`` defaults to
    today, UTC). If another refresh holds the lock, returns that running run and does nothing.
    Raises (after marking the run ``failed``) on outages, a bad API key or unexpected errors;
    see the module docstring for everything it guarantees.
    """
    lock = refresh_lock()
    if not lock.acquire(blocking=False):
        return _running_run()
    try:
        _abandon_stale_runs()
        run = RefreshRun.objects.create(
            status=RefreshRun.Status.RUNNING,
            trigger=trigger,
            triggered_by=actor if getattr(actor, "pk", None) else None,
            symbols=sorted(symbols) if symbols else [],
            start_date=start,
            end_date=end,
            request_id=current_request_id() or "",
        )
        logger.info(
            "refresh started", extra={"refresh_run": run.pk, "trigger": trigger, "symbols": symbols}
        )
        job = _RefreshJob(
            run=run,
            client=client or TwelveDataClient.from_settings(),
            lock=lock,
            progress=progress,
        )
        try:
            job.execute(symbols=symbols, start=start, end=end)
        except BaseException as exc:
            job.fail(exc)
            raise
        return run
    finally:
        try:
            lock.release()
        except LockError:
            # Expired (a refresh longer than the lock timeout): another may hold it now.
            logger.warning("refresh lock had already expired", extra={"key": lock.name})


def _running_run() -> RefreshRun:
    deadline = time.monotonic() + RUNNING_RUN_WAIT_SECONDS
    while True:
        run = RefreshRun.objects.filter(status=RefreshRun.Status.RUNNING).first()
        if run is not None:
            logger.info("refresh already running", extra={"refresh_run": run.pk})
            return run
        if time.monotonic() >= deadline:
            raise RefreshAlreadyRunning("a refresh holds the lock but has not started its run")
        time.sleep(0.05)


def _abandon_stale_runs() -> None:
    # Called with the lock held: any run still "running" belongs to a process that died.
    stale = RefreshRun.objects.filter(status=RefreshRun.Status.RUNNING).update(
        status=RefreshRun.Status.FAILED,
        failure="abandoned: its process stopped without finishing (lock expired)",
        finished_at=timezone.now(),
    )
    if stale:
        logger.warning("marked abandoned refresh runs failed", extra={"runs": stale})


class _RefreshJob:
    """One refresh, run inside the refresh lock."""

    def __init__(
        self,
        *,
        run: RefreshRun,
        client: TwelveDataClient,
        lock: Any,
        progress: Callable[[SymbolOutcome], None] | None,
    ) -> None:
        self.run = run
        self.client = client
        self.lock = lock
        self.progress = progress
        self.total = UpsertResult()
        self.stored: set[str] = set()
        self.symbol_of: dict[int, str] = {}

    # -------------------------------------------------------------------------- outcome

    def _report(self, outcome: SymbolOutcome) -> None:
        if outcome.status == "failed":
            self.run.errors[outcome.symbol] = redact(outcome.message)
        elif outcome.status == "skipped" or (outcome.status == "stored" and outcome.message):
            self.run.notes[outcome.symbol] = redact(outcome.message)
        elif outcome.status == "deferred":
            self.run.deferred_symbols.append(outcome.symbol)
        if outcome.status == "stored":
            self.stored.add(outcome.symbol)
        if self.progress is not None:
            self.progress(outcome)

    def _copy_counts(self) -> None:
        self.run.rows_inserted = self.total.inserted
        self.run.rows_updated = self.total.updated
        self.run.rows_unchanged = self.total.unchanged
        self.run.symbols_failed = len(self.run.errors)
        self.run.changed_symbols = sorted(
            self.symbol_of[asset_id] for asset_id in self.total.changed_asset_ids
        )

    def _save_progress(self) -> None:
        self._copy_counts()
        self.run.save(
            update_fields=[
                "rows_inserted",
                "rows_updated",
                "rows_unchanged",
                "symbols_failed",
                "changed_symbols",
                "errors",
                "notes",
                "deferred_symbols",
                "symbols_done",
                "bars_quarantined",
                "updated_at",
            ]
        )

    def _finish(self, status: str, failure: str = "") -> None:
        self.run.status = status
        self.run.failure = redact(failure)
        self.run.finished_at = timezone.now()
        self._copy_counts()
        self.run.save()
        logger.info(
            "refresh finished",
            extra={
                "refresh_run": self.run.pk,
                "status": status,
                "inserted": self.total.inserted,
                "updated": self.total.updated,
                "unchanged": self.total.unchanged,
                "failed": self.run.symbols_failed,
                "deferred": len(self.run.deferred_symbols),
                "changed_symbols": len(self.run.changed_symbols),
            },
        )

    def fail(self, exc: BaseException) -> None:
        """Mark the run failed after ``exc`` stopped it; what was stored stays stored."""
        logger.error(
            "refresh failed",
            extra={"refresh_run": self.run.pk, "error": redact(f"{type(exc).__name__}: {exc}")},
        )
        self._finish(RefreshRun.Status.FAILED, failure=f"{type(exc).__name__}: {exc}")

    # -------------------------------------------------------------------------- work

    def execute(
        self, *, symbols: Sequence[str] | None, start: dt.date | None, end: dt.date | None
    ) -> None:
        plans = self._plan(symbols=symbols, start=start, end=end or timezone.now().date())
        batches = list(plan_batches(plans, self.client.batch_size))
        for index, batch in enumerate(batches):
            try:
                self._run_batch(batch)
            except TwelveDataDailyLimitExhausted as exc:
                for plan in [p for later in batches[index:] for p in later]:
                    self._report(SymbolOutcome(plan.symbol, "deferred", message=str(exc)))
                logger.warning(
                    "daily credits exhausted; remaining symbols deferred",
                    extra={"refresh_run": self.run.pk, "until": exc.until.isoformat()},
                )
                break
            except TwelveDataUnavailable:
                for plan in [p for later in batches[index:] for p in later]:
                    self._report(SymbolOutcome(plan.symbol, "deferred", message="API unavailable"))
                raise
            self._save_progress()
            self.lock.extend(settings.REFRESH_LOCK_TIMEOUT_SECONDS, replace_ttl=True)
        self._finish(self._final_status())

    def _final_status(self) -> str:
        if self.run.errors and not self.stored:
            return RefreshRun.Status.FAILED
        if self.run.errors or self.run.deferred_symbols or self.run.bars_quarantined:
            return RefreshRun.Status.PARTIAL
        return RefreshRun.Status.SUCCEEDED

    def _plan(
        self, *, symbols: Sequence[str] | None, start: dt.date | None, end: dt.date
    ) -> list[Plan]:
        planned = refresh_plan(symbols=symbols, start=start, end=end)
        for outcome in planned.settled:
            self._report(outcome)
        budget = plans_within_budget(planned.plans, batch_size=self.client.batch_size)
        for plan in budget.deferred:
            self._report(
                SymbolOutcome(
                    plan.symbol,
                    "deferred",
                    message=(
                        f"not started: the refresh needs {budget.estimate} vendor credits and "
                        f"{budget.remaining} remain today"
                    ),
                )
            )
        self.symbol_of.update({plan.asset_id: plan.symbol for plan in budget.kept})
        self.run.symbols_total = len(budget.kept)
        self.run.credits_planned = budget.estimate
        self.run.save(update_fields=["symbols_total", "credits_planned", "updated_at"])
        return budget.kept

    def _run_batch(self, batch: list[Plan]) -> None:
        first = batch[0]
        results = self.client.time_series(
            [plan.vendor_symbol for plan in batch], start=first.start, end=first.end, utc=first.fx
        )
        frames = []
        outcomes = []
        for plan in batch:
            result = results[plan.vendor_symbol]
            if isinstance(result, SymbolError):
                outcomes.append(SymbolOutcome(plan.symbol, "failed", message=result.message))
                continue
            bars = result.bars
            note = ""
            if plan.fx:
                weekdays = tuple(bar for bar in bars if bar.date.weekday() not in WEEKEND)
                if len(weekdays) != len(bars):
                    note = f"{len(bars) - len(weekdays)} weekend FX bar(s) dropped"
                bars = weekdays
            frames.append(_frame(plan.asset_id, bars))
            outcomes.append(SymbolOutcome(plan.symbol, "stored", rows=len(bars), message=note))
        rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        screened = bars_screen(rows, refresh_run=self.run)
        # One transaction per batch: committed before the next batch starts.
        self.total += prices_upsert(screened.accepted, source=SOURCE, refresh_run_id=self.run.pk)
        self.run.bars_quarantined += screened.quarantined_count
        self.run.symbols_done += len(batch)
        for outcome in outcomes:
            self._report(outcome)
        for asset_id, reasons in screened.quarantined.items():
            symbol = self.symbol_of[asset_id]
            held = f"{len(reasons)} bar(s) quarantined: {'; '.join(reasons)}"
            previous = self.run.notes.get(symbol)
            self.run.notes[symbol] = f"{previous}; {held}" if previous else held


def _frame(asset_id: int, bars: Iterable[DailyBar]) -> pd.DataFrame:
    # Decimals stay Decimals (object columns) so the COPY text is exactly what was served.
    records = [
        (asset_id, bar.date, bar.open, bar.high, bar.low, bar.close, bar.volume) for bar in bars
    ]
    return pd.DataFrame.from_records(records, columns=list(PRICE_COLUMNS)).astype(object)
