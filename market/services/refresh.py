"""The market-data refresh: incremental, fault-tolerant, never loses stored prices.

``prices_refresh`` is the one entry point (the market task, the portfolio's nightly chain and the
command call it; the API and the admin enqueue it through ``market.services.jobs``). Guarantees:

- only one refresh runs at a time (an owned, short-lived Redis lease renewed by a heartbeat
  thread, ``market.locks``); a second caller gets the live running ``RefreshRun``; a run whose
  process died (stale heartbeat, or its own task redelivered) is marked ``abandoned`` by the
  next start, which proceeds (``refresh_lease``);
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
  a bad API key, a database error or a crash ends the run ``failed`` with ``run.failure`` and
  re-raises (when the database is gone the failure cannot be written: the run stays
  ``running`` until its stale heartbeat gets it abandoned);
- at the Celery task's soft time limit the run ends ``partial`` with the symbols not yet
  fetched in ``run.deferred_symbols`` and :class:`RefreshTimeLimitReached` is raised, so the
  task can queue a continuation for them (batches committed before it stay stored; at worst
  the batch in flight is fetched again);
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
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from redis.exceptions import RedisError

from core.request_context import current_request_id
from core.tracing import span
from market.events import refresh_progress_publish
from market.metrics import refresh_run_finished
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
from .refresh_lease import (
    RefreshAlreadyRunning,
    RefreshHeartbeat,
    RefreshLeaseLost,
    refresh_claim,
    refresh_runs_abandon,
)
from .refresh_plan import Plan, SymbolOutcome, plan_batches, refresh_plan, vendor_symbol
from .run_attempts import credit_wait_recorder, refresh_attempt_begin
from .sanity import bars_screen

__all__ = [
    "RefreshAlreadyRunning",
    "RefreshTimeLimitReached",
    "SymbolOutcome",
    "prices_refresh",
    "redact",
    "vendor_symbol",
]

logger = logging.getLogger(__name__)

SOURCE = "twelvedata"
WEEKEND = (5, 6)  # Saturday, Sunday


class RefreshTimeLimitReached(Exception):
    """The task's soft time limit stopped the refresh: ``run`` ended ``partial``, and
    ``remaining`` (our symbols) were not fetched and are left to a continuation."""

    def __init__(self, run: RefreshRun, remaining: list[str]) -> None:
        super().__init__(f"refresh #{run.pk} stopped at the soft time limit")
        self.run = run
        self.remaining = remaining


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
    task_id: str = "",
) -> RefreshRun:
    """Refresh daily prices of ``symbols`` (default: every active asset) and return the run.

    ``start``/``end`` override the incremental range for every symbol (``end`` defaults to
    today, UTC). ``task_id`` is the Celery task running it (recorded on the run; a redelivered
    task recognises its own dead run by it). If a live refresh holds the lease, returns that
    ``running`` run and does nothing; a dead one is declared abandoned and replaced
    (``refresh_lease``). Raises (after marking the run ``failed``) on outages, a bad API key,
    database errors or unexpected errors, and :class:`RefreshTimeLimitReached` (after ending it
    ``partial``) at the task's soft time limit; see the module docstring for the rest.
    """
    lease = refresh_claim(task_id=task_id)
    if isinstance(lease, RefreshRun):
        return lease  # a live refresh is running: join it
    try:
        refresh_runs_abandon(task_id=task_id)
        first_attempt = refresh_attempt_begin(task_id=task_id, kind=RefreshRun.Kind.PRICES)
        run = RefreshRun.objects.create(
            status=RefreshRun.Status.RUNNING,
            first_attempt=first_attempt,
            trigger=trigger,
            triggered_by=actor if getattr(actor, "pk", None) else None,
            symbols=sorted(symbols) if symbols else [],
            start_date=start,
            end_date=end,
            request_id=current_request_id() or "",
            task_id=task_id,
            heartbeat_at=timezone.now(),
        )
        lease.bind(run.pk)
        refresh_progress_publish(run)
        logger.info(
            "refresh started",
            extra={
                "refresh_run": run.pk,
                "trigger": trigger,
                "symbols": symbols,
                "task_id": task_id,
            },
        )
        heartbeat = RefreshHeartbeat(run=run, lease=lease)
        job = _RefreshJob(
            run=run,
            client=client or TwelveDataClient.from_settings(),
            heartbeat=heartbeat,
            progress=progress,
        )
        # Waits for vendor credits show on the run ("waiting for vendor credits until …").
        limiter = getattr(job.client, "limiter", None)
        if limiter is not None:
            limiter.wait_observer = credit_wait_recorder(run)
        with heartbeat:
            try:
                job.execute(symbols=symbols, start=start, end=end)
            except RefreshTimeLimitReached:
                raise
            except BaseException as exc:
                job.fail(exc)
                raise
            finally:
                if limiter is not None:
                    limiter.wait_observer = None
        return run
    finally:
        try:
            released = lease.release()
        except RedisError:
            released = False
        if not released:
            # Expired (Redis or this process stalled longer than the TTL) or taken over.
            logger.warning("refresh lock was no longer held", extra={"key": lease.key})


class _RefreshJob:
    """One refresh, run inside the refresh lock."""

    def __init__(
        self,
        *,
        run: RefreshRun,
        client: TwelveDataClient,
        heartbeat: RefreshHeartbeat,
        progress: Callable[[SymbolOutcome], None] | None,
    ) -> None:
        self.run = run
        self.client = client
        self.heartbeat = heartbeat
        self.progress = progress
        self.total = UpsertResult()
        self.stored: set[str] = set()
        self.symbol_of: dict[int, str] = {}

    # -------------------------------------------------------------------------- outcome

    def _report(self, outcome: SymbolOutcome) -> None:
        if outcome.status == "failed":
            self.run.errors[outcome.symbol] = redact(outcome.message)
        elif outcome.status == "skipped" or (outcome.status == "stored" and outcome.message):
            self._note(outcome.symbol, redact(outcome.message))
        elif outcome.status == "deferred":
            self.run.deferred_symbols.append(outcome.symbol)
        if outcome.status == "stored":
            self.stored.add(outcome.symbol)
        if self.progress is not None:
            self.progress(outcome)

    def _note(self, symbol: str, text: str) -> None:
        # Notes add up (the price sanity checks may have noted the symbol in this batch).
        previous = self.run.notes.get(symbol)
        self.run.notes[symbol] = f"{previous}; {text}" if previous else text

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
        self.run.heartbeat_at = timezone.now()
        self.run.save(
            update_fields=[
                "heartbeat_at",
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
        refresh_progress_publish(self.run)

    def _finish(self, status: str, failure: str = "") -> None:
        self.run.status = status
        self.run.failure = redact(failure)
        self.run.finished_at = timezone.now()
        self._copy_counts()
        self.run.save()
        refresh_progress_publish(self.run)
        refresh_run_finished(run=self.run, revisions=self.total.revisions)
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
        """Mark the run failed after ``exc`` stopped it; what was stored stays stored.

        After a database error the broken connection is replaced first (outside a caller's
        transaction), so a server that came back records the failure; if the failure cannot be
        written at all, it is logged and the run is left to the stale-heartbeat rule.
        """
        logger.error(
            "refresh failed",
            extra={"refresh_run": self.run.pk, "error": redact(f"{type(exc).__name__}: {exc}")},
        )
        if isinstance(exc, DatabaseError) and not connection.in_atomic_block:
            close_old_connections()
        try:
            self._finish(RefreshRun.Status.FAILED, failure=f"{type(exc).__name__}: {exc}")
        except DatabaseError as error:
            logger.error(
                "refresh failure not recorded; its stale heartbeat will get it abandoned",
                extra={"refresh_run": self.run.pk, "error": f"{type(error).__name__}: {error}"},
            )

    # -------------------------------------------------------------------------- work

    def execute(
        self, *, symbols: Sequence[str] | None, start: dt.date | None, end: dt.date | None
    ) -> None:
        plans = self._plan(symbols=symbols, start=start, end=end or timezone.now().date())
        batches = list(plan_batches(plans, self.client.batch_size))
        next_batch = 0  # the first batch not yet stored
        try:
            for index, batch in enumerate(batches):
                if self.heartbeat.lease_lost.is_set():
                    raise RefreshLeaseLost(
                        "the refresh lock expired or was taken over; stopped before batch "
                        f"{index + 1} of {len(batches)}"
                    )
                try:
                    self._run_batch(batch)
                except TwelveDataDailyLimitExhausted as exc:
                    self._defer(batches[index:], message=str(exc))
                    logger.warning(
                        "daily credits exhausted; remaining symbols deferred",
                        extra={"refresh_run": self.run.pk, "until": exc.until.isoformat()},
                    )
                    break
                except TwelveDataUnavailable:
                    self._defer(batches[index:], message="API unavailable")
                    raise
                next_batch = index + 1
                self._save_progress()
        except SoftTimeLimitExceeded:
            self._stop_at_time_limit(batches[next_batch:])
        self._finish(self._final_status())

    def _defer(self, batches: Sequence[list[Plan]], *, message: str) -> None:
        for plan in [plan for batch in batches for plan in batch]:
            self._report(SymbolOutcome(plan.symbol, "deferred", message=message))

    def _stop_at_time_limit(self, batches: Sequence[list[Plan]]) -> None:
        """End the run ``partial`` and raise :class:`RefreshTimeLimitReached` (soft limit)."""
        remaining = [plan.symbol for batch in batches for plan in batch]
        self._defer(batches, message="the task's time limit was reached; left to a continuation")
        logger.warning(
            "refresh stopped at the soft time limit; remaining symbols deferred",
            extra={"refresh_run": self.run.pk, "deferred": len(remaining)},
        )
        self._finish(
            RefreshRun.Status.PARTIAL,
            failure=(
                f"stopped at the task's soft time limit: {len(remaining)} symbol(s) deferred to "
                "a continuation"
            ),
        )
        raise RefreshTimeLimitReached(self.run, remaining)

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
        with span("market.prices_upsert", refresh_run_id=self.run.pk, rows=len(screened.accepted)):
            self.total += prices_upsert(
                screened.accepted, source=SOURCE, refresh_run_id=self.run.pk
            )
        self.run.bars_quarantined += screened.quarantined_count
        self.run.symbols_done += len(batch)
        for outcome in outcomes:
            self._report(outcome)
        for asset_id, reasons in screened.quarantined.items():
            symbol = self.symbol_of[asset_id]
            self._note(symbol, f"{len(reasons)} bar(s) quarantined: {'; '.join(reasons)}")


def _frame(asset_id: int, bars: Iterable[DailyBar]) -> pd.DataFrame:
    # Decimals stay Decimals (object columns) so the COPY text is exactly what was served.
    records = [
        (asset_id, bar.date, bar.open, bar.high, bar.low, bar.close, bar.volume) for bar in bars
    ]
    return pd.DataFrame.from_records(records, columns=list(PRICE_COLUMNS)).astype(object)
