"""Price sanity before storage: bars that fail a check are quarantined, never stored.

``bars_screen`` runs on every batch of vendor bars before ``prices_upsert`` (the refresh calls
it inside the refresh lock). Each bar is checked in date order per asset:

1. **Range** (reason ``out_of_range``): ``low ≤ open ≤ high`` and ``low ≤ close ≤ high``, each
   side only when the vendor gave it (FX bars often have no open/high/low).
2. **Revision** (reason ``revision``), when a close is already stored for the bar's asset and
   date and the bar's close differs from it: the move is measured against the stored close.
   A bar equal to its stored close passes (it was accepted before, by these checks or by an
   analyst).
3. **Jump** (reason ``jump``), for a bar with no stored close on its date: the move is measured
   against the previous close — the asset's previous bar of the batch that passed, else the
   last close stored before the bar's date. An asset with no previous close has nothing to be
   compared with and passes.

The move and the band::

    move = close · f / reference − 1        f = split_factor_between(asset, d_reference, d)
    the bar passes when |move| ≤ band       (inclusive: exactly +50 % passes, more does not)
    band = PRICE_SANITY_MAX_DAILY_MOVE (0.5) for equities, ETFs and the rest,
           PRICE_SANITY_MAX_DAILY_MOVE_FX (0.1) for FX pairs

in exact decimal arithmetic. ``f`` is the cumulative share multiplier of the stored splits
(``market.models.Split``, from/to) effective after the reference date up to the bar's date (4
for a 4-for-1 split), so a raw jump explained by a split on that day passes; the same jump
without a stored split is quarantined (:func:`split_factor_between`; the batch reads every
split of its assets in one query). The band is per step, not per calendar day: a bar
after a gap in the vendor's series is compared with the last close before the gap.

A bar that fails goes to :class:`~market.models.QuarantinedBar` (``pending``) with the check's
numbers, never to ``market_price``, so the engine never sees it; the previous close of the next
bar stays the last *accepted* one (a quarantined revision leaves the stored close in force).
A later refresh that fetches a bar of a pending asset and date again updates that pending row
(values, detail, run); when the bar it fetches passes, the pending row is closed as ``rejected``
by the system (its detail says so), so an analyst cannot later overwrite the vendor's corrected
close with the bad one. A failing bar equal (same close) to a bar an analyst already rejected
(or the system closed as fixed) is dropped, not quarantined again: the refresh run gets a
note for its symbol and nobody a new review; the stored close stays as it is.

Queries per batch: the assets' classes and symbols, their splits, the stored closes (one
set-based query),
the batch's pending and rejected quarantine rows; writes only when something fails.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from market.models import Asset, AssetClass, QuarantinedBar, RefreshRun, Split

__all__ = ["Screened", "bars_screen", "daily_move_band", "split_factor_between"]

logger = logging.getLogger(__name__)

SOURCE = "twelvedata"
PERCENT = Decimal(100)
HUNDREDTHS = Decimal("0.01")

# Per asset of the batch: its closes stored from its first batch date to its last, and the last
# close stored before its first batch date. One statement whatever the batch size; each probe
# uses the primary-key index of the partitions of its range.
_STORED_CLOSES = """
WITH batch (asset_id, first_date, last_date) AS (
    SELECT * FROM unnest(%s::bigint[], %s::date[], %s::date[])
)
SELECT price.asset_id, price.date, price.close
FROM batch JOIN market_price AS price
  ON price.asset_id = batch.asset_id AND price.date BETWEEN batch.first_date AND batch.last_date
UNION ALL
SELECT batch.asset_id, before.date, before.close
FROM batch CROSS JOIN LATERAL (
    SELECT date, close FROM market_price
    WHERE market_price.asset_id = batch.asset_id AND market_price.date < batch.first_date
    ORDER BY date DESC LIMIT 1
) AS before
"""


@dataclass
class Screened:
    """The bars that may be stored, and per asset id how many were quarantined and why."""

    accepted: pd.DataFrame
    quarantined: dict[int, list[str]] = field(default_factory=dict)

    @property
    def quarantined_count(self) -> int:
        return sum(len(reasons) for reasons in self.quarantined.values())


@dataclass(frozen=True)
class _Verdict:
    reason: str
    detail: str
    reference_close: Decimal | None = None


# Per asset, its stored splits as (effective date, share multiplier from/to), by date.
SplitMultipliers = list[tuple[dt.date, Decimal]]


def split_factor_between(asset_id: int, d0: dt.date, d1: dt.date) -> Decimal:
    """The cumulative share multiplier of ``asset_id``'s stored splits effective after ``d0``
    up to ``d1`` inclusive (4 for one 4-for-1 split, 1 without any): a raw close on ``d1``
    times it is comparable with a raw close on ``d0``. One query."""
    return _factor_between(_split_multipliers([asset_id]).get(asset_id, []), d0, d1)


def _split_multipliers(asset_ids: Iterable[int]) -> dict[int, SplitMultipliers]:
    multipliers: dict[int, SplitMultipliers] = {}
    rows = (
        Split.objects.filter(asset_id__in=list(asset_ids))
        .order_by("asset_id", "effective_date")
        .values_list("asset_id", "effective_date", "from_factor", "to_factor")
    )
    for asset_id, effective_date, from_factor, to_factor in rows:
        multipliers.setdefault(asset_id, []).append((effective_date, from_factor / to_factor))
    return multipliers


def _factor_between(splits: SplitMultipliers, d0: dt.date, d1: dt.date) -> Decimal:
    factor = Decimal(1)
    for effective_date, multiplier in splits:
        if d0 < effective_date <= d1:
            factor *= multiplier
    return factor


def daily_move_band(asset_class: str) -> Decimal:
    """The largest accepted ``|move|`` of one step for an asset of ``asset_class`` (a fraction)."""
    if asset_class == AssetClass.FX:
        return Decimal(str(settings.PRICE_SANITY_MAX_DAILY_MOVE_FX))
    return Decimal(str(settings.PRICE_SANITY_MAX_DAILY_MOVE))


def bars_screen(rows: pd.DataFrame, *, refresh_run: RefreshRun) -> Screened:
    """Split a batch's vendor bars (``PRICE_COLUMNS`` frame) into accepted and quarantined.

    Guarantees: every input bar is either in ``accepted`` (the frame's own rows and columns, on a
    fresh index) or counted in ``quarantined`` (stored as a pending ``QuarantinedBar`` of
    ``refresh_run``) or dropped as an already rejected bar (noted in ``refresh_run.notes``,
    saved by the refresh with the run). No accepted bar has an open or a close outside its
    low-high range or a close beyond the band (module docstring). Duplicate (asset, date) keys
    keep the last one, like ``prices_upsert``. Called inside the refresh lock.
    """
    if rows.empty:
        return Screened(accepted=rows)
    rows = rows[~rows.duplicated(["asset_id", "date"], keep="last")].reset_index(drop=True)
    asset_ids = sorted({int(asset_id) for asset_id in rows["asset_id"]})
    assets = {
        asset_id: (asset_class, symbol)
        for asset_id, asset_class, symbol in Asset.all_objects.filter(pk__in=asset_ids).values_list(
            "pk", "asset_class", "symbol"
        )
    }
    stored = _stored_closes(rows)
    splits = _split_multipliers(asset_ids)
    verdicts: dict[Any, _Verdict] = {}
    ordered = rows.sort_values(["asset_id", "date"], kind="stable")
    for key, bars in ordered.groupby("asset_id", sort=False):
        asset_id = _as_int(key)
        asset_class = assets.get(asset_id, (AssetClass.EQUITY, ""))[0]
        verdicts.update(
            _screen_asset(
                bars, stored.get(asset_id, {}), asset_class, splits=splits.get(asset_id, [])
            )
        )
    return _settle(rows, verdicts, refresh_run=refresh_run, symbols=assets)


# ---------------------------------------------------------------------------------- the checks


def _price(value: Any) -> Decimal | None:
    """A vendor value as a Decimal; ``None`` when missing (None or NaN)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return None if value.is_nan() else value
    if isinstance(value, float) and value != value:  # NaN
        return None
    return Decimal(str(value))


def _as_int(value: Any) -> int:
    return int(value)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def _percent(move: Decimal) -> str:
    return f"{(move * PERCENT).quantize(HUNDREDTHS):+} %"


def _band_text(band: Decimal) -> str:
    return f"±{_number(band * PERCENT)} %"


def _number(value: Decimal) -> str:
    """``value`` without trailing zeros (a stored ``312.11000000`` reads ``312.11``)."""
    return f"{value.normalize():f}"


def _range_verdict(bar: Any) -> _Verdict | None:
    low, high = _price(bar.low), _price(bar.high)
    for name in ("open", "close"):
        value = _price(getattr(bar, name))
        if value is None:
            continue
        if low is not None and value < low:
            return _Verdict(
                QuarantinedBar.Reason.OUT_OF_RANGE, f"{name} {value} is below the low {low}"
            )
        if high is not None and value > high:
            return _Verdict(
                QuarantinedBar.Reason.OUT_OF_RANGE, f"{name} {value} is above the high {high}"
            )
    return None


def _screen_asset(
    bars: pd.DataFrame,
    stored: dict[dt.date, Decimal],
    asset_class: str,
    *,
    splits: SplitMultipliers,
) -> dict[Any, _Verdict]:
    """The failing bars of one asset (by frame index), the bars in date order.

    Walks the asset's dates — the batch's and the stored ones — in order, keeping the close in
    force at each date: an accepted bar's, else the stored one; a quarantined bar changes
    nothing.
    """
    band = daily_move_band(asset_class)
    batch = {
        _date(bar.date): (label, bar)
        for label, bar in zip(bars.index, bars.itertuples(), strict=True)
    }
    verdicts: dict[Any, _Verdict] = {}
    previous: tuple[dt.date, Decimal] | None = None
    for date in sorted(set(batch) | set(stored)):
        stored_close = stored.get(date)
        if date not in batch:
            previous = (date, stored_close) if stored_close is not None else previous
            continue
        label, bar = batch[date]
        close = _price(bar.close)
        if close is None:  # the vendor schema requires a close; prices_upsert refuses none
            continue
        verdict = _range_verdict(bar)
        if verdict is None and stored_close is not None and close != stored_close:
            move = close / stored_close - 1
            if abs(move) > band:
                verdict = _Verdict(
                    QuarantinedBar.Reason.REVISION,
                    f"close {close} revises the stored close {_number(stored_close)} by "
                    f"{_percent(move)}, beyond the {_band_text(band)} band",
                    stored_close,
                )
        elif verdict is None and stored_close is None and previous is not None:
            reference_date, reference = previous
            move = close * _factor_between(splits, reference_date, date) / reference - 1
            if abs(move) > band:
                verdict = _Verdict(
                    QuarantinedBar.Reason.JUMP,
                    f"close {close} moved {_percent(move)} from the previous close "
                    f"{_number(reference)} ({reference_date.isoformat()}), beyond the "
                    f"{_band_text(band)} band",
                    reference,
                )
        if verdict is None:
            previous = (date, close)
        else:
            verdicts[label] = verdict
            if stored_close is not None:
                previous = (date, stored_close)
    return verdicts


def _stored_closes(rows: pd.DataFrame) -> dict[int, dict[dt.date, Decimal]]:
    dates = pd.to_datetime(rows["date"])
    span = pd.DataFrame({"asset_id": rows["asset_id"].astype("int64"), "date": dates})
    bounds = span.groupby("asset_id")["date"].agg(["min", "max"])
    stored: dict[int, dict[dt.date, Decimal]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            _STORED_CLOSES,
            [
                [int(asset_id) for asset_id in bounds.index],
                [stamp.date() for stamp in bounds["min"]],
                [stamp.date() for stamp in bounds["max"]],
            ],
        )
        for asset_id, date, close in cursor.fetchall():
            stored.setdefault(int(asset_id), {})[date] = close
    return stored


# ------------------------------------------------------------------------------ the quarantine


def _settle(
    rows: pd.DataFrame,
    verdicts: dict[Any, _Verdict],
    *,
    refresh_run: RefreshRun,
    symbols: dict[int, tuple[str, str]],
) -> Screened:
    """Write the quarantine rows for ``verdicts`` and close the pending rows the batch fixed."""
    keys = [
        (int(asset_id), _date(date))
        for asset_id, date in zip(rows["asset_id"], rows["date"], strict=True)
    ]
    open_rows = _open_rows(keys)
    failing = set(verdicts)
    quarantined: dict[int, list[str]] = {}
    dropped: dict[int, list[str]] = {}
    new_rows: list[QuarantinedBar] = []
    changed_rows: list[QuarantinedBar] = []
    fixed_rows: list[QuarantinedBar] = []
    now = timezone.now()
    for label, key, bar in zip(rows.index, keys, rows.itertuples(), strict=True):
        pending, rejected_closes = open_rows.get(key, (None, set()))
        close = _price(bar.close)
        if label not in failing:
            if pending is not None:
                pending.status = QuarantinedBar.Status.REJECTED
                pending.decided_at = pending.updated_at = now
                pending.detail = (
                    f"{pending.detail}; closed by refresh #{refresh_run.pk}: the vendor now "
                    f"serves close {close}, which passed the checks and was stored"
                )
                fixed_rows.append(pending)
            continue
        verdict = verdicts[label]
        summary = f"{key[1].isoformat()} {verdict.reason}: {verdict.detail}"
        if close in rejected_closes:
            dropped.setdefault(key[0], []).append(key[1].isoformat())
            continue
        quarantined.setdefault(key[0], []).append(summary)
        values = {
            "open": _price(bar.open),
            "high": _price(bar.high),
            "low": _price(bar.low),
            "close": close,
            "volume": None if pd.isna(bar.volume) else _as_int(bar.volume),
            "source": SOURCE,
            "reason": verdict.reason,
            "detail": verdict.detail,
            "reference_close": verdict.reference_close,
            "refresh_run": refresh_run,
        }
        if pending is None:
            new_rows.append(QuarantinedBar(asset_id=key[0], date=key[1], **values))
        else:
            for name, value in values.items():
                setattr(pending, name, value)
            pending.updated_at = now
            changed_rows.append(pending)
    if new_rows or changed_rows or fixed_rows:
        _quarantine_write(new_rows, changed_rows, fixed_rows)
    _note_dropped(dropped, refresh_run=refresh_run, symbols=symbols)
    if quarantined or fixed_rows:
        logger.warning(
            "price sanity: bars quarantined",
            extra={
                "refresh_run": refresh_run.pk,
                "quarantined": sum(len(held) for held in quarantined.values()),
                "pending_closed": len(fixed_rows),
            },
        )
    return Screened(
        accepted=rows[~rows.index.isin(list(failing))],
        quarantined=quarantined,
    )


@transaction.atomic
def _quarantine_write(
    new_rows: list[QuarantinedBar],
    changed_rows: list[QuarantinedBar],
    fixed_rows: list[QuarantinedBar],
) -> None:
    QuarantinedBar.objects.bulk_create(new_rows)
    # bulk_update skips auto_now: the caller set ``updated_at``.
    QuarantinedBar.objects.bulk_update(changed_rows, [*_UPDATED_FIELDS, "updated_at"])
    QuarantinedBar.objects.bulk_update(fixed_rows, ["status", "decided_at", "detail", "updated_at"])


_UPDATED_FIELDS = [
    "open",
    "high",
    "low",
    "close",
    "volume",
    "source",
    "reason",
    "detail",
    "reference_close",
    "refresh_run",
]


def _open_rows(
    keys: Iterable[tuple[int, dt.date]],
) -> dict[tuple[int, dt.date], tuple[QuarantinedBar | None, set[Decimal]]]:
    """Per (asset, date) of the batch: its pending quarantine row, and the closes rejected."""
    keys = list(keys)
    asset_ids = {asset_id for asset_id, _ in keys}
    dates = [date for _, date in keys]
    wanted = set(keys)
    found: dict[tuple[int, dt.date], tuple[QuarantinedBar | None, set[Decimal]]] = {}
    candidates = QuarantinedBar.objects.filter(
        asset_id__in=asset_ids,
        date__range=(min(dates), max(dates)),
        status__in=[QuarantinedBar.Status.PENDING, QuarantinedBar.Status.REJECTED],
    )
    for row in candidates:
        key = (row.asset_id, row.date)
        if key not in wanted:
            continue
        pending, rejected = found.get(key, (None, set()))
        if row.status == QuarantinedBar.Status.PENDING:
            pending = row
        else:
            rejected.add(row.close)
        found[key] = (pending, rejected)
    return found


def _note_dropped(
    dropped: dict[int, list[str]], *, refresh_run: RefreshRun, symbols: dict[int, tuple[str, str]]
) -> None:
    # The refresh saves ``notes`` with the run after each batch.
    for asset_id, dates in dropped.items():
        symbol = symbols.get(asset_id, ("", str(asset_id)))[1]
        note = f"{len(dates)} bar(s) dropped, already rejected: {', '.join(dates)}"
        previous = refresh_run.notes.get(symbol)
        refresh_run.notes[symbol] = f"{previous}; {note}" if previous else note
