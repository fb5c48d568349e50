"""Market data providers. TwelveData is the one in use (``twelvedata.TwelveDataClient``)."""

from .errors import (
    TwelveDataAuthError,
    TwelveDataCircuitOpen,
    TwelveDataClientError,
    TwelveDataDailyLimitExhausted,
    TwelveDataError,
    TwelveDataPayloadError,
    TwelveDataRateLimited,
    TwelveDataServerError,
    TwelveDataUnavailable,
)
from .schemas import DailyBar, SymbolError, SymbolResult, SymbolSeries
from .twelvedata import TwelveDataClient

__all__ = [
    "DailyBar",
    "SymbolError",
    "SymbolResult",
    "SymbolSeries",
    "TwelveDataAuthError",
    "TwelveDataCircuitOpen",
    "TwelveDataClient",
    "TwelveDataClientError",
    "TwelveDataDailyLimitExhausted",
    "TwelveDataError",
    "TwelveDataPayloadError",
    "TwelveDataRateLimited",
    "TwelveDataServerError",
    "TwelveDataUnavailable",
]
