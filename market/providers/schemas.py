"""Pydantic models of TwelveData payloads and their parsing into typed, per-symbol results.

Every body the client receives goes through here. Numbers arrive as JSON strings and are parsed
exactly (``Decimal``, never ``float``); a value that is missing, not a number, or breaks a price
invariant makes the whole series an error *for that symbol* (:class:`SymbolError`) — never a
zero, never a silently dropped row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

# numeric(20, 8) in market_price: anything at or above 10**12 would overflow the column.
MAX_PRICE = Decimal(10) ** 12
MAX_VOLUME = 2**63 - 1
NO_DATA_MESSAGE_PREFIX = "No data is available on the specified dates"


def _decimal_from_text(value: object) -> Decimal:
    if not isinstance(value, str):
        raise ValueError(f"numbers must arrive as strings, got {type(value).__name__}")
    return _finite_decimal(value.strip(), value)


def _finite_decimal(text: str, value: object) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number


def _whole(number: Decimal, value: object) -> int:
    if number != number.to_integral_value():
        raise ValueError(f"not a whole number: {value!r}")
    return int(number)


def _int_from_text(value: object) -> int:
    return _whole(_decimal_from_text(value), value)


def _timestamp_from_text(value: object) -> dt.date | dt.datetime:
    if not isinstance(value, str):
        raise ValueError("datetime must be a string")
    # Daily bars carry a bare date; intraday bars "YYYY-MM-DD hh:mm:ss".
    if len(value) == 10:
        return dt.date.fromisoformat(value)
    return dt.datetime.fromisoformat(value)


TextDecimal = Annotated[Decimal, BeforeValidator(_decimal_from_text)]
TextInt = Annotated[int, BeforeValidator(_int_from_text)]
Timestamp = Annotated[dt.date | dt.datetime, BeforeValidator(_timestamp_from_text)]


class Bar(BaseModel):
    """One element of ``values``. FX pairs have no volume; any OHLC field may be null."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    timestamp: Timestamp = Field(alias="datetime")
    open: TextDecimal | None = None
    high: TextDecimal | None = None
    low: TextDecimal | None = None
    close: TextDecimal
    volume: TextInt | None = None

    @model_validator(mode="after")
    def _prices_are_plausible(self) -> Bar:
        # The same invariants as market_price's CHECK constraints (plus the column's range), so
        # a bad bar fails its symbol here instead of aborting a whole batch in the database.
        if self.close <= 0:
            raise ValueError(f"close must be positive, got {self.close}")
        for name in ("open", "high", "low", "close"):
            value = getattr(self, name)
            if value is not None and not (-MAX_PRICE < value < MAX_PRICE):
                raise ValueError(f"{name} out of range: {value}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        if self.volume is not None and not (0 <= self.volume <= MAX_VOLUME):
            raise ValueError(f"volume out of range: {self.volume}")
        return self


class Meta(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    symbol: str
    interval: str
    currency: str | None = None
    currency_base: str | None = None
    currency_quote: str | None = None
    exchange_timezone: str | None = None
    exchange: str | None = None
    mic_code: str | None = None
    type: str | None = None


class SeriesPayload(BaseModel):
    """A successful single-symbol ``/time_series`` body."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    meta: Meta
    values: list[Bar]
    status: Literal["ok"]


class ErrorPayload(BaseModel):
    """``{"code": …, "message": …, "status": "error"}`` — sent with HTTP 200 just as often."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    code: int
    message: str
    status: Literal["error"]
    meta: dict[str, Any] | None = None

    @property
    def is_no_data(self) -> bool:
        return self.code == 400 and self.message.startswith(NO_DATA_MESSAGE_PREFIX)

    @property
    def is_daily_limit(self) -> bool:
        return self.code == 429 and "for the day" in self.message


@dataclass(frozen=True)
class DailyBar:
    date: dt.date
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    close: Decimal
    volume: int | None


@dataclass(frozen=True)
class SymbolSeries:
    """Daily bars of one symbol, ascending, one per date."""

    symbol: str
    bars: tuple[DailyBar, ...]
    exchange_timezone: str | None = None


SymbolErrorKind = Literal["not_found", "client", "payload", "missing"]


@dataclass(frozen=True)
class SymbolError:
    """Why one symbol produced no data. ``code`` is the vendor's error code when it sent one."""

    symbol: str
    kind: SymbolErrorKind
    message: str
    code: int | None = None


SymbolResult = SymbolSeries | SymbolError


def parse_error(body: object) -> ErrorPayload | None:
    """The error payload if ``body`` is one (``status == "error"``), else ``None``."""
    if isinstance(body, Mapping) and body.get("status") == "error":
        try:
            return ErrorPayload.model_validate(body)
        except ValidationError:
            # An error without a usable code/message is still an error: keep what we can.
            return ErrorPayload(code=0, message=str(body.get("message", "")), status="error")
    return None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"malformed payload at {where}: {first['msg']}{more}"


def error_result(symbol: str, error: ErrorPayload) -> SymbolError:
    not_found = error.code == 404 or (error.code == 400 and "not found" in error.message)
    kind: SymbolErrorKind = "not_found" if not_found else "client"
    return SymbolError(symbol=symbol, kind=kind, message=error.message, code=error.code)


def parse_series(symbol: str, body: object) -> SymbolResult:
    """Parse one symbol's payload (a single response, or one value of a batch response).

    Daily bars only: a bar carrying a time of day is a payload error. Bars are returned as
    served (order, duplicates); :func:`normalise_bars` trims and de-duplicates them.
    """
    error = parse_error(body)
    if error is not None:
        if error.is_no_data:
            return SymbolSeries(symbol=symbol, bars=())
        return error_result(symbol, error)
    try:
        payload = SeriesPayload.model_validate(body)
    except ValidationError as exc:
        return SymbolError(symbol=symbol, kind="payload", message=_describe(exc))
    bars = []
    for bar in payload.values:
        if isinstance(bar.timestamp, dt.datetime):
            return SymbolError(
                symbol=symbol,
                kind="payload",
                message=f"expected daily bars, got timestamp {bar.timestamp.isoformat(' ')}",
            )
        bars.append(DailyBar(bar.timestamp, bar.open, bar.high, bar.low, bar.close, bar.volume))
    return SymbolSeries(
        symbol=symbol, bars=tuple(bars), exchange_timezone=payload.meta.exchange_timezone
    )


def parse_batch(symbols: Sequence[str], body: object) -> dict[str, SymbolResult]:
    """Parse a batch body keyed by symbol, each value with its own status.

    A requested symbol missing from the body is a ``missing`` error (partial batch); keys that
    were not requested are ignored. A one-symbol request answers with the bare payload.
    """
    if len(symbols) == 1:
        return {symbols[0]: parse_series(symbols[0], body)}
    if not isinstance(body, Mapping):
        raise TypeError("a batch body must be a JSON object")
    results: dict[str, SymbolResult] = {}
    for symbol in symbols:
        if symbol not in body:
            results[symbol] = SymbolError(
                symbol=symbol, kind="missing", message="symbol missing from the batch response"
            )
        else:
            results[symbol] = parse_series(symbol, body[symbol])
    return results


def normalise_bars(
    bars: Sequence[DailyBar], *, start: dt.date, end: dt.date
) -> tuple[DailyBar, ...]:
    """Bars within ``start``..``end`` (inclusive), ascending, one per date.

    The vendor's end date may be exclusive or inclusive, so anything outside the requested range
    is dropped; a repeated date keeps the last bar served for it.
    """
    by_date: dict[dt.date, DailyBar] = {}
    for bar in bars:
        if start <= bar.date <= end:
            by_date[bar.date] = bar
    return tuple(by_date[date] for date in sorted(by_date))


# ----------------------------------------------------------------------------- corporate actions
#
# ``/splits``, ``/dividends`` and ``/market_cap`` answer JSON *numbers* (not strings like
# ``/time_series``) and no ``status`` on success. A number is read through its shortest text
# (``0.22`` stays 0.22 exactly). Dates are ``YYYY-MM-DD``. A row that breaks the models'
# invariants (a factor or an amount ≤ 0) makes the symbol's payload an error, as for bars.


def _decimal_from_number(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a number, got {type(value).__name__}")
    return _finite_decimal(str(value).strip(), value)


def _int_from_number(value: object) -> int:
    return _whole(_decimal_from_number(value), value)


def _date_from_text(value: object) -> dt.date:
    if not isinstance(value, str):
        raise ValueError("a date must be a string")
    return dt.date.fromisoformat(value[:10])


JsonDecimal = Annotated[Decimal, BeforeValidator(_decimal_from_number)]
JsonInt = Annotated[int, BeforeValidator(_int_from_number)]
JsonDate = Annotated[dt.date, BeforeValidator(_date_from_text)]
# The columns' ranges (numeric(24, 10) factors, numeric(20, 8) amounts, numeric(24, 2) caps).
MAX_FACTOR = Decimal(10) ** 14
MAX_MARKET_CAP = Decimal(10) ** 22


class SplitItem(BaseModel):
    """One ``/splits`` row: a "*from*-for-*to*" split effective on ``date`` (``ratio`` =
    to/from, rounded by the vendor to 5 decimals: not used)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    date: JsonDate
    description: str | None = None
    from_factor: JsonDecimal
    to_factor: JsonDecimal

    @model_validator(mode="after")
    def _factors_are_positive(self) -> SplitItem:
        for name in ("from_factor", "to_factor"):
            value = getattr(self, name)
            if not (0 < value < MAX_FACTOR):
                raise ValueError(f"{name} must be positive (and in range), got {value}")
        return self


class DividendItem(BaseModel):
    """One ``/dividends`` row. Replies of 2022 named the ex-date ``payment_date``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ex_date: JsonDate | None = None
    payment_date: JsonDate | None = None
    amount: JsonDecimal

    @model_validator(mode="after")
    def _dated_and_positive(self) -> DividendItem:
        if self.ex_date is None and self.payment_date is None:
            raise ValueError("a dividend needs an ex_date (or a payment_date)")
        if not (0 < self.amount < MAX_PRICE):
            raise ValueError(f"amount must be positive (and in range), got {self.amount}")
        return self


class MarketCapItem(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    date: JsonDate
    value: JsonInt

    @model_validator(mode="after")
    def _positive(self) -> MarketCapItem:
        if not (0 < self.value < MAX_MARKET_CAP):
            raise ValueError(f"value must be positive (and in range), got {self.value}")
        return self


class SplitsPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    meta: dict[str, Any] | None = None
    splits: list[SplitItem]


class DividendsPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    meta: dict[str, Any] | None = None
    dividends: list[DividendItem]


class MarketCapPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    meta: dict[str, Any] | None = None
    market_cap: list[MarketCapItem]


@dataclass(frozen=True)
class VendorSplit:
    """A split in TwelveData's convention: ``to_factor`` old shares become ``from_factor``."""

    effective_date: dt.date
    from_factor: Decimal
    to_factor: Decimal


@dataclass(frozen=True)
class VendorDividend:
    ex_date: dt.date
    amount: Decimal


@dataclass(frozen=True)
class VendorMarketCap:
    as_of: dt.date
    value: Decimal


def _symbol_error_or_none(symbol: str, body: object) -> SymbolError | None:
    if body is None:
        return SymbolError(symbol=symbol, kind="payload", message="response body is not valid JSON")
    error = parse_error(body)
    return None if error is None else error_result(symbol, error)


def parse_splits(
    symbol: str, body: object, *, today: dt.date
) -> tuple[VendorSplit, ...] | SymbolError:
    """The splits of a ``/splits`` body effective on or before ``today``, by date, one per date
    (the last served wins); an error body or a malformed one is the symbol's error."""
    failed = _symbol_error_or_none(symbol, body)
    if failed is not None:
        return failed
    try:
        payload = SplitsPayload.model_validate(body)
    except ValidationError as exc:
        return SymbolError(symbol=symbol, kind="payload", message=_describe(exc))
    by_date = {
        item.date: VendorSplit(item.date, item.from_factor, item.to_factor)
        for item in payload.splits
        if item.date <= today
    }
    return tuple(by_date[date] for date in sorted(by_date))


def parse_dividends(
    symbol: str, body: object, *, today: dt.date
) -> tuple[VendorDividend, ...] | SymbolError:
    """The dividends of a ``/dividends`` body with an ex-date on or before ``today`` (projected
    schedules are dropped), by ex-date, one per date; ``ex_date``, else ``payment_date``."""
    failed = _symbol_error_or_none(symbol, body)
    if failed is not None:
        return failed
    try:
        payload = DividendsPayload.model_validate(body)
    except ValidationError as exc:
        return SymbolError(symbol=symbol, kind="payload", message=_describe(exc))
    by_date: dict[dt.date, VendorDividend] = {}
    for item in payload.dividends:
        ex_date = item.ex_date or item.payment_date
        if ex_date is not None and ex_date <= today:
            by_date[ex_date] = VendorDividend(ex_date, item.amount)
    return tuple(by_date[date] for date in sorted(by_date))


def parse_market_caps(symbol: str, body: object) -> tuple[VendorMarketCap, ...] | SymbolError:
    """One ``/market_cap`` page's values (served newest first), ascending by date."""
    failed = _symbol_error_or_none(symbol, body)
    if failed is not None:
        return failed
    try:
        payload = MarketCapPayload.model_validate(body)
    except ValidationError as exc:
        return SymbolError(symbol=symbol, kind="payload", message=_describe(exc))
    by_date = {
        item.date: VendorMarketCap(item.date, Decimal(item.value)) for item in payload.market_cap
    }
    return tuple(by_date[date] for date in sorted(by_date))
