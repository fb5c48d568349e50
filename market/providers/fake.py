"""A fake TwelveData ``/time_series`` built from the real API's payload shapes.

Shared by the test suite (served by pytest-httpserver) and ``manage.py fake_twelvedata`` (served
by :mod:`http.server` from the bundled demo data), so both fakes speak the same dialect, and the
parser tests check these builders against recorded real responses (tests/fixtures/twelvedata/).

What it imitates: a ``symbol`` list makes a batch keyed by symbol, each value with its own
status; ``end_date`` is exclusive for daily bars; ``outputsize`` (≤ 5000) keeps the most recent
bars of the range; an empty range is a 400 "No data is available…"; an unknown symbol is a 400
"**symbol** not found"; a missing or wrong ``Authorization: apikey …`` header is a 401; errors
come with HTTP 200 unless ``errors_with_http_200`` is off.

Faults for tests: :meth:`FakeTwelveData.fail_next` queues request-level faults (429 per minute
or per day, 500, timeout, malformed JSON, an error body with HTTP 200); :meth:`fail_symbol`
makes one symbol malformed, missing from its batch, or break the JSON of any request naming it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
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
        api_key: str | None = None,
        credits_per_minute: int = 8,
        errors_with_http_200: bool = True,
        timeout_seconds: float = 1.0,
    ) -> None:
        self.series: dict[str, list[FakeBar]] = {
            symbol: sorted(bars, key=lambda bar: bar.date) for symbol, bars in series.items()
        }
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
        if self.before_request is not None:
            self.before_request()
        if path.rstrip("/") != "/time_series":
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
        return self._time_series(query)

    def _time_series(self, query: Mapping[str, str]) -> FakeResponse:
        interval = query.get("interval", "")
        if interval != "1day":
            return self._error(400, INTERVAL_MESSAGE.format(interval=interval))
        symbols = [symbol for symbol in query.get("symbol", "").split(",") if symbol]
        if not symbols:
            return self._error(400, "**symbol** parameter is missing or invalid.")
        if len(symbols) > MAX_BATCH_SYMBOLS:
            return self._error(414, "Parameter array is too long.")
        with self._lock:
            faults = {symbol: self._symbol_faults.get(symbol) for symbol in symbols}
        if "malformed_json" in faults.values():
            return FakeResponse(status=200, body=MALFORMED_BODY)
        payloads = {symbol: self._one(symbol, query, faults[symbol]) for symbol in symbols}
        headers = {"Api-Credits-Used": str(len(symbols))}
        if len(symbols) == 1:
            payload = payloads[symbols[0]]
            if payload.get("status") == "error" and not self.errors_with_http_200:
                return _json_response(payload, status=int(payload["code"]))
            return _json_response(payload, headers=headers)
        batch = {symbol: payloads[symbol] for symbol in symbols if faults[symbol] != "missing"}
        return _json_response(batch, headers={**headers, "Is_batch": "true"})

    def _one(
        self, symbol: str, query: Mapping[str, str], fault: SymbolFault | None
    ) -> dict[str, Any]:
        bars = self.series.get(symbol)
        if bars is None:
            return not_found_payload(symbol)
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
        if fault == "bad_values":
            payload["values"][0]["close"] = "n/a"
        return payload


def _parse_date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


def demo_series() -> dict[str, list[FakeBar]]:
    """The bundled demo prices and FX rates (market/demo) as fake series.

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
