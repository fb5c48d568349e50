"""Corporate actions and dated market caps: upserts with history, and their vendor refresh.

Writes (one transaction per call, every change in the rows' simple-history):

- :func:`dated_rows_upsert` inserts the rows not stored yet (``(asset, date)`` is unique per
  model), updates a stored row whose values differ, and leaves an equal one alone. It never
  deletes. A row whose stored ``source`` is ``analyst`` is never overwritten by another source:
  it is kept and reported (``kept``), so an analyst's correction survives every vendor
  refresh, demo load or import. Idempotent: the same rows again change nothing.
- :func:`corporate_actions_refresh` fetches ``/splits`` and ``/dividends`` (and ``/market_cap``
  when ``TWELVEDATA_MARKET_CAP_ENABLED``) of every active, vendor-served asset that can have
  them (not FX pairs, not indexes), stores them with source ``vendor`` and records the job as a
  ``RefreshRun`` of kind ``corporate_actions``: row counts of the three models together,
  per-symbol errors, analyst rows kept in ``notes``, symbols not fitted in today's credits in
  ``deferred_symbols``.

Credits: 20 per symbol for each of ``/splits`` and ``/dividends``, and 5 per ``/market_cap``
page (one page a symbol for the weekly window); the run keeps, in symbol order, the longest
prefix of symbols whose credits fit what is left today and defers the rest, like the price
refresh. The refresh takes the same lease as the price refresh (one vendor job at a time):
while a price refresh runs it raises :class:`RefreshAlreadyRunning` (the task retries).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError
from simple_history.utils import bulk_create_with_history

from core.history import history_user_set
from market.models import Asset, AssetClass, DataSource, Dividend, MarketCap, RefreshRun, Split
from market.providers import (
    SymbolError,
    TwelveDataClient,
    TwelveDataDailyLimitExhausted,
    TwelveDataUnavailable,
)
from market.providers.twelvedata import CORPORATE_ACTION_CREDITS, MARKET_CAP_CREDITS

from .credits import credits_remaining_today
from .refresh import redact
from .refresh_lease import (
    RefreshAlreadyRunning,
    RefreshHeartbeat,
    refresh_claim,
    refresh_runs_abandon,
)
from .refresh_plan import vendor_symbol
from .run_attempts import refresh_attempt_begin

logger = logging.getLogger(__name__)

# Asset classes without corporate actions or a market cap.
NO_CORPORATE_ACTIONS = (AssetClass.FX, AssetClass.INDEX)
# Days of market caps asked for each week (a little more than a week: late vendor rows).
MARKET_CAP_WINDOW_DAYS = 10


@dataclass(frozen=True)
class SplitRow:
    asset_id: int
    effective_date: dt.date
    from_factor: Decimal
    to_factor: Decimal


@dataclass(frozen=True)
class DividendRow:
    asset_id: int
    ex_date: dt.date
    amount: Decimal


@dataclass(frozen=True)
class MarketCapRow:
    asset_id: int
    as_of: dt.date
    value: Decimal | None = None
    shares_outstanding: int | None = None


DatedRow = SplitRow | DividendRow | MarketCapRow


@dataclass
class DatedUpsertResult:
    """Rows inserted, updated, unchanged, and the analyst rows kept (``"<asset id> <date>"``)."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: list[str] = field(default_factory=list)

    def __iadd__(self, other: DatedUpsertResult) -> DatedUpsertResult:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.kept += other.kept
        return self


# model, date field, value fields, per row type
_SHAPES: dict[type, tuple[Any, str, tuple[str, ...]]] = {
    SplitRow: (Split, "effective_date", ("from_factor", "to_factor")),
    DividendRow: (Dividend, "ex_date", ("amount",)),
    MarketCapRow: (MarketCap, "as_of", ("value", "shares_outstanding")),
}


@transaction.atomic
def dated_rows_upsert(
    rows: Sequence[DatedRow], *, source: str, actor: Any = None
) -> DatedUpsertResult:
    """Insert, update or keep ``rows`` (all of one type) by ``(asset, date)``; see the module
    docstring. The last of duplicate keys wins. Two queries and one bulk insert, plus one
    save per changed row (with its history record by ``actor``)."""
    result = DatedUpsertResult()
    if not rows:
        return result
    model, date_field, value_fields = _SHAPES[type(rows[0])]
    wanted = {(row.asset_id, getattr(row, date_field)): row for row in rows}
    stored = {
        (stored_row.asset_id, getattr(stored_row, date_field)): stored_row
        for stored_row in model._default_manager.select_for_update().filter(
            asset_id__in={asset_id for asset_id, _ in wanted},
            **{f"{date_field}__in": {date for _, date in wanted}},
        )
    }
    new: list[Any] = []
    for key, row in wanted.items():
        values = {name: getattr(row, name) for name in value_fields}
        existing = stored.get(key)
        if existing is None:
            new.append(
                model(asset_id=row.asset_id, source=source, **{date_field: key[1]}, **values)
            )
            continue
        if all(getattr(existing, name) == value for name, value in values.items()):
            result.unchanged += 1
        elif existing.source == DataSource.ANALYST and source != DataSource.ANALYST:
            result.kept.append(f"{key[0]} {key[1].isoformat()}")
        else:
            for name, value in values.items():
                setattr(existing, name, value)
            existing.source = source
            history_user_set(existing, actor)
            existing.save()
            result.updated += 1
    if new:
        for created in new:
            created.full_clean(exclude=["asset"], validate_unique=False, validate_constraints=False)
        bulk_create_with_history(new, model, default_user=_user_or_none(actor))
        result.inserted = len(new)
    return result


def _user_or_none(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


# ------------------------------------------------------------------------------ the refresh


@dataclass(frozen=True)
class _Target:
    asset_id: int
    symbol: str
    vendor_symbol: str


def corporate_actions_credits(*, symbols: int, market_caps: bool | None = None) -> int:
    """Credits a refresh of ``symbols`` symbols plans: 20 + 20 each, + 5 with market caps."""
    with_caps = settings.TWELVEDATA_MARKET_CAP_ENABLED if market_caps is None else market_caps
    per_symbol = 2 * CORPORATE_ACTION_CREDITS + (MARKET_CAP_CREDITS if with_caps else 0)
    return symbols * per_symbol


def corporate_actions_refresh(
    *,
    symbols: Sequence[str] | None = None,
    trigger: str = RefreshRun.Trigger.CLI,
    actor: Any = None,
    client: TwelveDataClient | None = None,
    task_id: str = "",
    today: dt.date | None = None,
) -> RefreshRun:
    """Fetch and store the corporate actions of ``symbols`` (default: every active asset that
    can have them); the finished run (kind ``corporate_actions``).

    Raises :class:`RefreshAlreadyRunning` while another vendor job holds the lease, and (after
    marking the run ``failed``) on outages, a bad API key or database errors; a daily credit
    exhaustion ends it ``partial`` with the symbols left deferred.
    """
    lease = refresh_claim(task_id=task_id)
    if isinstance(lease, RefreshRun):
        raise RefreshAlreadyRunning(f"refresh #{lease.pk} ({lease.kind}) is running")
    try:
        refresh_runs_abandon(task_id=task_id)
        run = RefreshRun.objects.create(
            first_attempt=refresh_attempt_begin(
                task_id=task_id, kind=RefreshRun.Kind.CORPORATE_ACTIONS
            ),
            kind=RefreshRun.Kind.CORPORATE_ACTIONS,
            status=RefreshRun.Status.RUNNING,
            trigger=trigger,
            triggered_by=actor if getattr(actor, "pk", None) else None,
            symbols=sorted(symbols) if symbols else [],
            task_id=task_id,
            heartbeat_at=timezone.now(),
        )
        lease.bind(run.pk)
        job = _CorporateActionsJob(
            run=run,
            client=client or TwelveDataClient.from_settings(),
            today=today or timezone.now().date(),
        )
        with RefreshHeartbeat(run=run, lease=lease):
            try:
                job.execute(symbols)
            except BaseException as exc:
                job.finish(RefreshRun.Status.FAILED, failure=f"{type(exc).__name__}: {exc}")
                raise
        return run
    finally:
        try:
            lease.release()
        except RedisError:
            logger.warning("refresh lock was no longer held", extra={"key": lease.key})


class _CorporateActionsJob:
    def __init__(self, *, run: RefreshRun, client: TwelveDataClient, today: dt.date) -> None:
        self.run = run
        self.client = client
        self.today = today
        self.total = DatedUpsertResult()
        self.market_caps = bool(settings.TWELVEDATA_MARKET_CAP_ENABLED)
        self.symbol_of: dict[int, str] = {}

    def execute(self, symbols: Sequence[str] | None) -> None:
        targets = self._targets(symbols)
        if self.client.limiter.credits_per_minute < CORPORATE_ACTION_CREDITS:
            self.finish(
                RefreshRun.Status.FAILED,
                failure=(
                    f"the plan's {self.client.limiter.credits_per_minute} credits a minute cannot "
                    f"pay one {CORPORATE_ACTION_CREDITS}-credit /splits request "
                    "(TWELVEDATA_CREDITS_PER_MINUTE; /splits needs the Grow plan or above)"
                ),
            )
            return
        kept = self._within_budget(targets)
        self.run.symbols_total = len(kept)
        self.run.save(update_fields=["symbols_total", "credits_planned", "deferred_symbols"])
        for index, target in enumerate(kept):
            try:
                self._one(target)
            except TwelveDataDailyLimitExhausted as exc:
                self.run.deferred_symbols += [left.symbol for left in kept[index:]]
                self.run.failure = redact(str(exc))
                break
            except TwelveDataUnavailable:
                self.run.deferred_symbols += [left.symbol for left in kept[index:]]
                raise
            self.run.symbols_done += 1
            self.run.heartbeat_at = timezone.now()
            self._copy_counts()
            self.run.save()
        partial = self.run.errors or self.run.deferred_symbols or self.total.kept
        failed = self.run.errors and self.run.symbols_done == len(self.run.errors)
        if failed:
            self.finish(RefreshRun.Status.FAILED, failure=self.run.failure)
        else:
            status = RefreshRun.Status.PARTIAL if partial else RefreshRun.Status.SUCCEEDED
            self.finish(status, failure=self.run.failure)

    def _targets(self, symbols: Sequence[str] | None) -> list[_Target]:
        assets = Asset.objects.filter(is_active=True).exclude(asset_class__in=NO_CORPORATE_ACTIONS)
        if symbols:
            assets = assets.filter(symbol__in=symbols)
        targets = []
        rows = list(assets.order_by("symbol").values_list("id", "symbol"))
        for missing in sorted(set(symbols or ()) - {symbol for _, symbol in rows}):
            self.run.errors[missing] = "no active asset with corporate actions has this symbol"
        for asset_id, symbol in rows:
            vendor = vendor_symbol(symbol)
            if vendor is None:
                self.run.notes[symbol] = (
                    "not a TwelveData symbol; map it with TWELVEDATA_SYMBOL_MAP"
                )
                continue
            self.symbol_of[asset_id] = symbol
            targets.append(_Target(asset_id, symbol, vendor))
        return targets

    def _within_budget(self, targets: list[_Target]) -> list[_Target]:
        per_symbol = corporate_actions_credits(symbols=1, market_caps=self.market_caps)
        self.run.credits_planned = per_symbol * len(targets)
        remaining = credits_remaining_today()
        if remaining is None:
            return targets
        fits = min(len(targets), remaining // per_symbol)
        if fits < len(targets):
            self.run.deferred_symbols = [target.symbol for target in targets[fits:]]
            self.run.failure = (
                f"{len(targets) - fits} symbol(s) deferred: the refresh needs "
                f"{self.run.credits_planned} vendor credits and {remaining} remain today"
            )
        return targets[:fits]

    def _one(self, target: _Target) -> None:
        splits = self.client.splits(target.vendor_symbol, today=self.today)
        dividends = self.client.dividends(target.vendor_symbol, today=self.today)
        caps: Any = ()
        if self.market_caps:
            start = self.today - dt.timedelta(days=MARKET_CAP_WINDOW_DAYS)
            caps = self.client.market_caps(target.vendor_symbol, start=start, end=self.today)
        errors = [
            f"{endpoint}: {result.message}"
            for endpoint, result in (
                ("/splits", splits),
                ("/dividends", dividends),
                ("/market_cap", caps),
            )
            if isinstance(result, SymbolError)
        ]
        if errors:
            self.run.errors[target.symbol] = redact("; ".join(errors))
        result = DatedUpsertResult()
        if not isinstance(splits, SymbolError):
            rows = [
                SplitRow(target.asset_id, s.effective_date, s.from_factor, s.to_factor)
                for s in splits
            ]
            result += dated_rows_upsert(rows, source=DataSource.VENDOR)
        if not isinstance(dividends, SymbolError):
            rows_d = [DividendRow(target.asset_id, d.ex_date, d.amount) for d in dividends]
            result += dated_rows_upsert(rows_d, source=DataSource.VENDOR)
        if not isinstance(caps, SymbolError):
            rows_c = [MarketCapRow(target.asset_id, c.as_of, value=c.value) for c in caps]
            result += dated_rows_upsert(rows_c, source=DataSource.VENDOR)
        if result.kept:
            dates = ", ".join(kept.split(" ", 1)[1] for kept in result.kept)
            self.run.notes[target.symbol] = (
                f"{len(result.kept)} analyst row(s) kept against a different vendor value: {dates}"
            )
        self.total += result

    def _copy_counts(self) -> None:
        self.run.rows_inserted = self.total.inserted
        self.run.rows_updated = self.total.updated
        self.run.rows_unchanged = self.total.unchanged
        self.run.symbols_failed = len(self.run.errors)

    def finish(self, status: str, failure: str = "") -> None:
        self.run.status = status
        self.run.failure = redact(failure)
        self.run.finished_at = timezone.now()
        self._copy_counts()
        self.run.save()
        logger.info(
            "corporate actions refresh finished",
            extra={
                "refresh_run": self.run.pk,
                "status": status,
                "inserted": self.total.inserted,
                "updated": self.total.updated,
                "kept": len(self.total.kept),
            },
        )
