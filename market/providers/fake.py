"""A fake TwelveData (``/time_series``, ``/splits``, ``/dividends``, ``/market_cap``) built
from the real API's payload shapes.

Shared by the test suite (served by pytest-httpserver) and ``manage.py fake_twelvedata`` (served
by :mod:`http.server` from the bundled demo data), so both fakes speak the same dialect, and the
parser tests check these builders against recorded real responses (tests/fixtures/twelvedata/).

What it imitates: a ``symbol`` list makes a batch keyed by symbol, each value with its own
status; ``end_date`` is exclusive for daily bars; ``outputsize`` (≤ 5000) keeps the most recent
bars of the range; an empty range is a 400 "No data is available…"; an unknown symbol is a 400
"**symbol** not found"; a missing or wrong ``Authorization: apikey …`` header is a 401; errors
come with HTTP 200 unless ``errors_with_http_200`` is off.

Prices are held raw (as traded) with their splits: ``adjust=none`` serves them as held, the
default ``adjust=splits`` (as the real API) divides every bar before a split by its share
multiplier, as of the request (so a new split changes the default history, never the raw
one), volume multiplied back. ``/splits`` and ``/dividends`` serve the held events
(``range=full``: all of them; the default ``last``: the latest one), ``/market_cap`` the held
daily caps, newest first, paged (``page``, ``outputsize`` default 10). A path in
``gated_paths`` answers TwelveData's 403 "available exclusively with grow…" (a plan without it).

Offline demo (``manage.py fake_twelvedata``): the bundled history ends on 2024-09-12 (FX later),
so :func:`demo_fake` adds a :class:`SyntheticContinuation` after each symbol's last real bar, up
to today (UTC) on business days: a seeded geometric random walk from the last real close (same
seed, same numbers; a later "today" only appends bars). Every response that serves a synthetic
bar says so in its ``meta`` (``synthetic_after``, ``synthetic_note``): these are not market data.

Faults for tests: :meth:`FakeTwelveData.fail_next` queues request-level faults (429 per minute
or per day, 500, timeout, malformed JSON, an error body with HTTP 200); :meth:`fail_symbol`
makes one symbol malformed, missing from its batch, or break the JSON of any request naming it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
MAX_OUTPUTSIZE = 5000
DEFAULT_OUTPUTSIZE = 30
MAX_BATCH_SYMBOLS = 120

NOT_FOUND_MESSAGE = (
    "**symbol** not found: {symbol}. Please specify it correctly according to API Documentation."
)
NO_DATA_MESSAGE = (
    "No data is available on the specified dates. Try setting different start/end dates."
)
APIKEY_MESSAGE = (
    "**apikey** parameter is incorrect or not specified. You can get your free API key instantly "
    "following this link: https://twelvedata.com/pricing. If you believe that everything is "
    "correct, you can contact us at https://twelvedata.com/contact/customer"
)
MINUTE_LIMIT_MESSAGE = (
    "You have run out of API credits for the current minute. {used} API credits were used, with "
    "the current limit being {limit}. Wait for the next minute or consider switching to a higher "
    "tier plan at https://twelvedata.com/pricing"
)
DAY_LIMIT_MESSAGE = (
    "You have run out of API credits for the day. {used} API credits were used, with the current "
    "limit being {limit}. Wait for the next day or consider switching to a higher tier plan at "
    "https://twelvedata.com/pricing"
)
INTERVAL_MESSAGE = (
    "Invalid **interval** provided: {interval}. Supported intervals: 1min, 5min, 15min, 30min, "
    "45min, 1h, 2h, 4h, 8h, 1day, 1week, 1month"
)
MALFORMED_BODY = b'{"meta": {"symbol": "'  # cut off mid-document

PLAN_GATED_MESSAGE = "{path} is available exclusively with grow or pro or ultra or enterprise plans"
ADJUST_MESSAGE = (
    "Invalid **adjust** provided: {adjust}. Supported values: all, splits, dividends, none"
)
ADJUST_MODES = ("all", "splits", "dividends", "none")
DEFAULT_MARKET_CAP_OUTPUTSIZE = 10

# "ok" serves the request normally: it lets a test place a fault on a later request.
RequestFault = Literal["ok", "429_minute", "429_day", "500", "timeout", "malformed", "error_200"]
SymbolFault = Literal["bad_values", "missing", "malformed_json"]


@dataclass(frozen=True)
class FakeBar:
    """One daily bar; prices as ``Decimal`` (``None`` where the vendor has none)."""

    date: dt.date
    close: Decimal
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    volume: int | None = None


@dataclass(frozen=True)
class FakeSplit:
    """A "*from*-for-*to*" split effective on ``date`` (TwelveData's ``/splits`` convention)."""

    date: dt.date
    from_factor: Decimal
    to_factor: Decimal

    @property
    def share_multiplier(self) -> Decimal:
        return self.from_factor / self.to_factor


@dataclass(frozen=True)
class FakeDividend:
    ex_date: dt.date
    amount: Decimal


@dataclass(frozen=True)
class FakeMarketCap:
    date: dt.date
    value: int


# ----------------------------------------------------------------------------- payload builders


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def bar_payload(bar: FakeBar, *, fx: bool = False) -> dict[str, Any]:
    """One ``values`` element: every number as a string; FX bars carry no volume."""
    payload: dict[str, Any] = {
        "datetime": bar.date.isoformat(),
        "open": _text(bar.open),
        "high": _text(bar.high),
        "low": _text(bar.low),
        "close": _text(bar.close),
    }
    if not fx:
        payload["volume"] = None if bar.volume is None else str(bar.volume)
    return payload


def is_fx_symbol(symbol: str) -> bool:
    return "/" in symbol


def meta_payload(symbol: str, *, interval: str = "1day") -> dict[str, Any]:
    if is_fx_symbol(symbol):
        base, quote = symbol.split("/")
        return {
            "symbol": symbol,
            "interval": interval,
            "currency_base": base,
            "currency_quote": quote,
            "type": "Physical Currency",
        }
    return {
        "symbol": symbol,
        "interval": interval,
        "currency": "USD",
        "exchange_timezone": "America/New_York",
        "exchange": "NASDAQ",
        "mic_code": "XNGS",
        "type": "Common Stock",
    }


def series_payload(
    symbol: str, bars: Iterable[FakeBar], *, interval: str = "1day"
) -> dict[str, Any]:
    """A successful single-symbol ``/time_series`` body."""
    fx = is_fx_symbol(symbol)
    return {
        "meta": meta_payload(symbol, interval=interval),
        "values": [bar_payload(bar, fx=fx) for bar in bars],
        "status": "ok",
    }


def fundamentals_meta(symbol: str) -> dict[str, Any]:
    """The meta block of ``/splits``, ``/dividends`` and ``/market_cap`` (no interval/type)."""
    return {
        "symbol": symbol,
        "name": f"{symbol} Inc.",
        "currency": "USD",
        "exchange": "NASDAQ",
        "mic_code": "XNGS",
        "exchange_timezone": "America/New_York",
    }


def _json_number(value: Decimal) -> int | float:
    # The fundamentals endpoints answer JSON numbers (4, 0.22), not strings.
    return int(value) if value == value.to_integral_value() else float(value)


def splits_payload(symbol: str, splits: Iterable[FakeSplit]) -> dict[str, Any]:
    """A ``/splits`` body, newest first, as the vendor sends it (``ratio`` rounded, 5 dp)."""
    rows = sorted(splits, key=lambda split: split.date, reverse=True)
    return {
        "meta": fundamentals_meta(symbol),
        "splits": [
            {
                "date": split.date.isoformat(),
                "description": f"{split.from_factor.normalize():f}-for-"
                f"{split.to_factor.normalize():f} split",
                "ratio": round(float(split.to_factor / split.from_factor), 5),
                "from_factor": _json_number(split.from_factor),
                "to_factor": _json_number(split.to_factor),
            }
            for split in rows
        ],
    }


def dividends_payload(
    symbol: str, dividends: Iterable[FakeDividend], *, date_key: str = "ex_date"
) -> dict[str, Any]:
    """A ``/dividends`` body, newest first; ``date_key="payment_date"`` gives the 2022 shape."""
    rows = sorted(dividends, key=lambda dividend: dividend.ex_date, reverse=True)
    return {
        "meta": fundamentals_meta(symbol),
        "dividends": [
            {date_key: dividend.ex_date.isoformat(), "amount": _json_number(dividend.amount)}
            for dividend in rows
        ],
    }


def market_cap_payload(symbol: str, caps: Iterable[FakeMarketCap]) -> dict[str, Any]:
    """A ``/market_cap`` page body, newest first."""
    rows = sorted(caps, key=lambda cap: cap.date, reverse=True)
    return {
        "meta": fundamentals_meta(symbol),
        "market_cap": [{"date": cap.date.isoformat(), "value": cap.value} for cap in rows],
    }


def error_payload(
    code: int, message: str, *, meta: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``{"code", "message", "status": "error"}`` (+ ``meta`` when the vendor sends one)."""
    payload: dict[str, Any] = {"code": code, "message": message, "status": "error"}
    if meta is not None:
        payload["meta"] = dict(meta)
    return payload


def not_found_payload(symbol: str, *, interval: str = "1day") -> dict[str, Any]:
    return error_payload(
        400,
        NOT_FOUND_MESSAGE.format(symbol=symbol),
        meta={"symbol": symbol, "interval": interval, "exchange": ""},
    )


# ----------------------------------------------------------------------------- synthetic bars

DEMO_SYNTHETIC_SEED = 20240912
SYNTHETIC_NOTE = (
    "bars after {date} are synthetic (a seeded random walk from the last real close), "
    "not market data"
)
# Daily log-return volatility and drift of the walk: stock/ETF-like, and FX-like.
SYNTHETIC_VOLATILITY = 0.015
SYNTHETIC_VOLATILITY_FX = 0.004
SYNTHETIC_DRIFT = 0.0002
SYNTHETIC_PRICE_PLACES = Decimal("0.01")
SYNTHETIC_RATE_PLACES = Decimal("0.0001")


def synthetic_today() -> dt.date:
    """Today's date in UTC (the refresh's default end), where the continuation stops."""
    return dt.datetime.now(dt.UTC).date()


def business_days_after(start: dt.date, through: dt.date) -> list[dt.date]:
    """Monday-to-Friday dates after ``start`` up to ``through`` inclusive (no holidays)."""
    days = []
    day = start + dt.timedelta(days=1)
    while day <= through:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def synthetic_meta(after: dt.date) -> dict[str, str]:
    """What a response serving synthetic bars adds to its ``meta``."""
    return {
        "synthetic_after": after.isoformat(),
        "synthetic_note": SYNTHETIC_NOTE.format(date=after.isoformat()),
    }


@dataclass(frozen=True)
class SyntheticContinuation:
    """A deterministic geometric random walk per symbol after its last real bar.

    The walk of a symbol depends only on ``seed``, the symbol and its last real bar: the
    same inputs give the same bars, and a later ``through`` only appends bars (day *n* is the
    *n*-th draw of the symbol's own generator). Closes are rounded to cents (FX rates to
    4 places); open is the previous close, high/low bracket open and close; volume wanders
    around the last real volume. Business days only, up to ``through`` inclusive.
    """

    seed: int = DEMO_SYNTHETIC_SEED

    def bars(self, symbol: str, last: FakeBar, *, through: dt.date) -> list[FakeBar]:
        fx = is_fx_symbol(symbol)
        places = SYNTHETIC_RATE_PLACES if fx else SYNTHETIC_PRICE_PLACES
        volatility = SYNTHETIC_VOLATILITY_FX if fx else SYNTHETIC_VOLATILITY
        drift = 0.0 if fx else SYNTHETIC_DRIFT
        # Not for security: a reproducible walk (a str seed hashes the same in every process).
        walk = random.Random(f"{self.seed}:{symbol}")  # noqa: S311
        level = float(last.close)
        previous = last.close
        bars = []
        for date in business_days_after(last.date, through):
            level *= math.exp(drift + volatility * walk.gauss(0.0, 1.0))
            wick_high, wick_low = abs(walk.gauss(0.0, 0.5)), abs(walk.gauss(0.0, 0.5))
            volume_step = walk.uniform(0.7, 1.3)
            close = max(Decimal(repr(level)).quantize(places), places)
            if fx:
                bars.append(FakeBar(date=date, close=close))
            else:
                top, bottom = max(previous, close), min(previous, close)
                high = (top * Decimal(1 + volatility * wick_high)).quantize(places)
                low = max((bottom * Decimal(1 - volatility * wick_low)).quantize(places), places)
                volume = None if last.volume is None else int(last.volume * volume_step)
                bars.append(
                    FakeBar(
                        date=date, open=previous, high=high, low=low, close=close, volume=volume
                    )
                )
            previous = close
        return bars


# ----------------------------------------------------------------------------- the fake server


@dataclass(frozen=True)
class FakeResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _json_response(
    payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> FakeResponse:
    return FakeResponse(
        status=status,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )


class FakeTwelveData:
    """The ``/time_series`` endpoint over an in-memory dataset ``{symbol: bars}``.

    Thread-safe: the HTTP servers call :meth:`handle` from their own threads. ``requests``
    records every query received (parameters and ``Authorization`` header), for assertions.
    """

    def __init__(
        self,
        series: Mapping[str, Iterable[FakeBar]],
        *,
        splits: Mapping[str, Iterable[FakeSplit]] | None = None,
        dividends: Mapping[str, Iterable[FakeDividend]] | None = None,
        market_caps: Mapping[str, Iterable[FakeMarketCap]] | None = None,
        gated_paths: Iterable[str] = (),
        api_key: str | None = None,
        credits_per_minute: int = 8,
        errors_with_http_200: bool = True,
        timeout_seconds: float = 1.0,
        synthetic: SyntheticContinuation | None = None,
    ) -> None:
        self.series: dict[str, list[FakeBar]] = {
            symbol: sorted(bars, key=lambda bar: bar.date) for symbol, bars in series.items()
        }
        self.splits: dict[str, list[FakeSplit]] = {
            symbol: list(rows) for symbol, rows in (splits or {}).items()
        }
        self.dividends: dict[str, list[FakeDividend]] = {
            symbol: list(rows) for symbol, rows in (dividends or {}).items()
        }
        self.market_caps: dict[str, list[FakeMarketCap]] = {
            symbol: list(rows) for symbol, rows in (market_caps or {}).items()
        }
        self.gated_paths = set(gated_paths)
        self.api_key = api_key
        self.credits_per_minute = credits_per_minute
        self.errors_with_http_200 = errors_with_http_200
        self.timeout_seconds = timeout_seconds
        self.requests: list[dict[str, str]] = []
        self.authorizations: list[str | None] = []
        self._faults: deque[RequestFault] = deque()
        self._symbol_faults: dict[str, SymbolFault] = {}
        self._lock = threading.Lock()
        # Called (in the server's thread) before each request is answered: tests use it to
        # hold a request while they look at the world from outside.
        self.before_request: Callable[[], None] | None = None
        # The last real bar's date of each symbol continued synthetically (labelled in meta).
        self.synthetic = synthetic
        self.synthetic_after: dict[str, dt.date] = {}
        self._synthetic_through: dt.date | None = None
        if synthetic is not None:
            self.synthetic_after = {
                symbol: bars[-1].date for symbol, bars in self.series.items() if bars
            }
            self._extend_synthetic(synthetic)

    def _extend_synthetic(self, synthetic: SyntheticContinuation) -> None:
        """Append the synthetic bars up to today (UTC) that are not held yet (a fake serving
        across midnight gains the new day's bar)."""
        today = synthetic_today()
        with self._lock:
            if self._synthetic_through == today:
                return
            for symbol, last_real in self.synthetic_after.items():
                bars = self.series[symbol]
                real = [bar for bar in bars if bar.date <= last_real]
                held_through = bars[-1].date
                continuation = synthetic.bars(symbol, real[-1], through=today)
                bars.extend(bar for bar in continuation if bar.date > held_through)
            self._synthetic_through = today

    # faults ------------------------------------------------------------------------------

    def fail_next(self, fault: RequestFault, *, times: int = 1) -> None:
        """The next ``times`` requests fail with ``fault`` (in order, after earlier ones)."""
        with self._lock:
            self._faults.extend([fault] * times)

    def fail_symbol(self, symbol: str, fault: SymbolFault) -> None:
        with self._lock:
            self._symbol_faults[symbol] = fault

    def set_close(self, symbol: str, date: dt.date, close: Decimal) -> None:
        """Revise one served close (a vendor correction)."""
        with self._lock:
            self.series[symbol] = [
                FakeBar(bar.date, close, bar.open, bar.high, bar.low, bar.volume)
                if bar.date == date
                else bar
                for bar in self.series[symbol]
            ]

    def add_split(self, symbol: str, split: FakeSplit, *, bars: Iterable[FakeBar] = ()) -> None:
        """Start serving a new split of ``symbol`` and, after it, ``bars`` (raw, on the new
        basis): what the vendor shows once a split has happened."""
        with self._lock:
            self.splits.setdefault(symbol, []).append(split)
            self.series[symbol] = sorted(
                [*self.series.get(symbol, []), *bars], key=lambda bar: bar.date
            )

    # serving -----------------------------------------------------------------------------

    def _error(
        self, code: int, message: str, headers: Mapping[str, str] | None = None
    ) -> FakeResponse:
        status = 200 if self.errors_with_http_200 else code
        return _json_response(error_payload(code, message), status=status, headers=headers)

    def handle(
        self, path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> FakeResponse:
        """Answer one request as TwelveData would (see the module docstring)."""
        with self._lock:
            self.requests.append(dict(query))
            self.authorizations.append(headers.get("Authorization"))
            fault = self._faults.popleft() if self._faults else None
        if self.synthetic is not None:
            self._extend_synthetic(self.synthetic)
        if self.before_request is not None:
            self.before_request()
        endpoint = path.rstrip("/")
        if endpoint not in ("/time_series", "/splits", "/dividends", "/market_cap"):
            return self._error(404, f"Path {path} not found")
        if fault == "timeout":
            time.sleep(self.timeout_seconds)
            return self._error(500, "timed out")
        if fault == "500":
            return FakeResponse(status=500, body=b"Internal Server Error")
        if fault == "malformed":
            return FakeResponse(status=200, body=MALFORMED_BODY)
        if fault == "error_200":
            return _json_response(error_payload(500, "Internal error, please try again"))
        if fault == "429_minute":
            message = MINUTE_LIMIT_MESSAGE.format(
                used=self.credits_per_minute + 1, limit=self.credits_per_minute
            )
            return self._error(429, message, {"Api-Credits-Left": "0"})
        if fault == "429_day":
            return self._error(429, DAY_LIMIT_MESSAGE.format(used=800, limit=800))
        if self.api_key is not None and headers.get("Authorization") != f"apikey {self.api_key}":
            return self._error(401, APIKEY_MESSAGE)
        if endpoint in self.gated_paths:
            return self._error(403, PLAN_GATED_MESSAGE.format(path=endpoint))
        if endpoint == "/time_series":
            return self._time_series(query)
        return self._fundamentals(endpoint, query)

    def _fundamentals(self, endpoint: str, query: Mapping[str, str]) -> FakeResponse:
        """``/splits``, ``/dividends`` or ``/market_cap`` of one symbol (no batches)."""
        symbol = query.get("symbol", "")
        if not symbol:
            return self._error(400, "**symbol** parameter is missing or invalid.")
        with self._lock:
            fault = self._symbol_faults.get(symbol)
            known = symbol in self.series
            splits = list(self.splits.get(symbol, []))
            dividends = list(self.dividends.get(symbol, []))
            caps = list(self.market_caps.get(symbol, []))
        if fault == "malformed_json":
            return FakeResponse(status=200, body=MALFORMED_BODY)
        if not known:
            return self._error(400, f"**symbol** {symbol} not found: symbol may be delisted")
        full = query.get("range") == "full"
        payload: dict[str, Any]
        if endpoint == "/splits":
            splits.sort(key=lambda split: split.date)
            payload = splits_payload(symbol, splits if full else splits[-1:])
            if fault == "bad_values" and payload["splits"]:
                payload["splits"][0]["from_factor"] = "n/a"
        elif endpoint == "/dividends":
            dividends.sort(key=lambda dividend: dividend.ex_date)
            payload = dividends_payload(symbol, dividends if full else dividends[-1:])
            if fault == "bad_values" and payload["dividends"]:
                payload["dividends"][0]["amount"] = "n/a"
        else:
            start = _parse_date(query.get("start_date"))
            end = _parse_date(query.get("end_date"))  # inclusive, as documented
            selected = sorted(
                (
                    cap
                    for cap in caps
                    if (start is None or cap.date >= start) and (end is None or cap.date <= end)
                ),
                key=lambda cap: cap.date,
                reverse=True,
            )
            size = int(query.get("outputsize") or DEFAULT_MARKET_CAP_OUTPUTSIZE)
            page = max(1, int(query.get("page") or 1))
            payload = market_cap_payload(symbol, selected[(page - 1) * size : page * size])
        credits = "5" if endpoint == "/market_cap" else "20"
        return _json_response(payload, headers={"Api-Credits-Used": credits})

    def _time_series(self, query: Mapping[str, str]) -> FakeResponse:
        interval = query.get("interval", "")
        if interval != "1day":
            return self._error(400, INTERVAL_MESSAGE.format(interval=interval))
        adjust = query.get("adjust", "splits")
        if adjust not in ADJUST_MODES:
            return self._error(400, ADJUST_MESSAGE.format(adjust=adjust))
        symbols = [symbol for symbol in query.get("symbol", "").split(",") if symbol]
        if not symbols:
            return self._error(400, "**symbol** parameter is missing or invalid.")
        if len(symbols) > MAX_BATCH_SYMBOLS:
            return self._error(414, "Parameter array is too long.")
        with self._lock:
            faults = {symbol: self._symbol_faults.get(symbol) for symbol in symbols}
        if "malformed_json" in faults.values():
            return FakeResponse(status=200, body=MALFORMED_BODY)
        payloads = {
            symbol: self._one(symbol, query, faults[symbol], raw=adjust == "none")
            for symbol in symbols
        }
        headers = {"Api-Credits-Used": str(len(symbols))}
        if len(symbols) == 1:
            payload = payloads[symbols[0]]
            if payload.get("status") == "error" and not self.errors_with_http_200:
                return _json_response(payload, status=int(payload["code"]))
            return _json_response(payload, headers=headers)
        batch = {symbol: payloads[symbol] for symbol in symbols if faults[symbol] != "missing"}
        return _json_response(batch, headers={**headers, "Is_batch": "true"})

    def _one(
        self, symbol: str, query: Mapping[str, str], fault: SymbolFault | None, *, raw: bool
    ) -> dict[str, Any]:
        bars = self.series.get(symbol)
        if bars is None:
            return not_found_payload(symbol)
        if not raw:
            # The fake has no dividend adjustment: "all" and "dividends" serve split-adjusted
            # bars too (enough for a client that asks for "none").
            bars = split_adjusted(bars, self.splits.get(symbol, []))
        start = _parse_date(query.get("start_date"))
        end = _parse_date(query.get("end_date"))
        selected = [
            bar
            for bar in bars
            if (start is None or bar.date >= start) and (end is None or bar.date < end)
        ]
        default_size = MAX_OUTPUTSIZE if (start or end) else DEFAULT_OUTPUTSIZE
        size = min(int(query.get("outputsize") or default_size), MAX_OUTPUTSIZE)
        selected = selected[-size:]
        if not selected:
            return error_payload(400, NO_DATA_MESSAGE)
        if query.get("order", "desc") == "desc":
            selected.reverse()
        payload = series_payload(symbol, selected)
        synthetic_after = self.synthetic_after.get(symbol)
        if synthetic_after is not None and max(bar.date for bar in selected) > synthetic_after:
            payload["meta"].update(synthetic_meta(synthetic_after))
        if fault == "bad_values":
            payload["values"][0]["close"] = "n/a"
        return payload


def split_adjusted(bars: Iterable[FakeBar], splits: Iterable[FakeSplit]) -> list[FakeBar]:
    """``bars`` (raw) on the basis of the latest split: each bar before a split has its prices
    divided, its volume multiplied, by the split's share multiplier (TwelveData's default
    ``adjust=splits``, as of the request)."""
    splits = list(splits)
    adjusted = []
    for bar in bars:
        factor = Decimal(1)
        for split in splits:
            if split.date > bar.date:
                factor *= split.share_multiplier
        if factor == 1:
            adjusted.append(bar)
            continue
        adjusted.append(
            FakeBar(
                date=bar.date,
                close=bar.close / factor,
                open=None if bar.open is None else bar.open / factor,
                high=None if bar.high is None else bar.high / factor,
                low=None if bar.low is None else bar.low / factor,
                volume=None if bar.volume is None else int(bar.volume * factor),
            )
        )
    return adjusted


def _parse_date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


def demo_splits() -> dict[str, list[FakeSplit]]:
    """The bundled demo splits (market/demo/splits.csv) per symbol."""
    import csv

    splits: dict[str, list[FakeSplit]] = {}
    with (DEMO_DIR / "splits.csv").open(newline="") as rows:
        for row in csv.DictReader(rows):
            splits.setdefault(row["symbol"], []).append(
                FakeSplit(
                    date=dt.date.fromisoformat(row["effective_date"]),
                    from_factor=Decimal(row["from_factor"]),
                    to_factor=Decimal(row["to_factor"]),
                )
            )
    return splits


def demo_dividends() -> dict[str, list[FakeDividend]]:
    """The bundled demo dividends (market/demo/dividends.csv, raw amounts) per symbol."""
    import csv

    dividends: dict[str, list[FakeDividend]] = {}
    with (DEMO_DIR / "dividends.csv").open(newline="") as rows:
        for row in csv.DictReader(rows):
            dividends.setdefault(row["symbol"], []).append(
                FakeDividend(
                    ex_date=dt.date.fromisoformat(row["ex_date"]), amount=Decimal(row["amount"])
                )
            )
    return dividends


def demo_series() -> dict[str, list[FakeBar]]:
    """The bundled demo prices (raw closes) and FX rates (market/demo) as fake series.

    Yahoo-notation symbols (``^GSPC``) are left out: TwelveData does not serve them either. The
    demo FX rates are ECB reference rates (one number a day), served as the close only.
    """
    import csv

    series: dict[str, list[FakeBar]] = {}
    with gzip.open(DEMO_DIR / "prices.csv.gz", "rt", newline="") as prices:
        for row in csv.DictReader(prices):
            if row["symbol"].startswith("^"):
                continue
            series.setdefault(row["symbol"], []).append(
                FakeBar(
                    date=dt.date.fromisoformat(row["date"]),
                    open=Decimal(row["open"]) if row["open"] else None,
                    high=Decimal(row["high"]) if row["high"] else None,
                    low=Decimal(row["low"]) if row["low"] else None,
                    close=Decimal(row["close"]),
                    volume=int(row["volume"]) if row["volume"] else None,
                )
            )
    with gzip.open(DEMO_DIR / "fx.csv.gz", "rt", newline="") as rates:
        for row in csv.DictReader(rates):
            series.setdefault(row["pair"], []).append(
                FakeBar(date=dt.date.fromisoformat(row["date"]), close=Decimal(row["rate"]))
            )
    return series


# The demo fake's plan: generous, so the local limiter (config/settings/local.py) decides.
DEMO_CREDITS_PER_MINUTE = 6000


def demo_fake(
    *, api_key: str | None = None, seed: int = DEMO_SYNTHETIC_SEED, synthetic: bool = True
) -> FakeTwelveData:
    """The offline demo's fake: the bundled history, splits and dividends, continued with
    synthetic bars up to today (labelled) unless ``synthetic`` is off. Generous credits: the
    local plan (config/settings/local.py) is what limits a refresh."""
    return FakeTwelveData(
        demo_series(),
        splits=demo_splits(),
        dividends=demo_dividends(),
        api_key=api_key,
        credits_per_minute=DEMO_CREDITS_PER_MINUTE,
        synthetic=SyntheticContinuation(seed=seed) if synthetic else None,
    )
