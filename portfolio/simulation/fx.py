"""A simulation's currency: which codes it accepts and their USD-per-unit rates by date.

The pair that converts a currency is chosen by :func:`market.selectors.fx_pair_for_currency`
(``C/USD`` wins over ``USD/C``); this module only turns that pair's closes into USD per 1 unit.
An unknown currency is a client error (400, ``unknown-currency``) carrying a field error on
``currency``: it is wrong whatever the data, unlike a date outside the data (422).
"""

from __future__ import annotations

import datetime
import re

import numpy as np
import pandas as pd

from core.errors import ApplicationError, ErrorCode
from market.selectors import USD, FxPair, closes_matrix, fx_pair_for_currency

_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


class UnknownCurrencyError(ApplicationError):
    """No FX pair links this currency to USD (400 with a field error on ``currency``)."""

    code = ErrorCode.UNKNOWN_CURRENCY
    title = "Unknown currency"

    def __init__(self, currency: str) -> None:
        detail = f"No exchange rate to USD is available for the currency {currency!r}."
        super().__init__(detail, extra={"errors": [{"detail": detail, "pointer": "#/currency"}]})
        self.currency = currency


def _pair_of(code: str) -> FxPair | None:
    """The pair converting an upper-case ``code`` (``None`` unless it is 3 letters). One query
    for a well-formed code, none otherwise."""
    if _CURRENCY_CODE.match(code) is None:
        return None
    return fx_pair_for_currency(code=code)


def is_convertible(code: str) -> bool:
    """True for USD and for a currency :func:`usd_per_unit_series` can convert."""
    return code == USD or _pair_of(code) is not None


def usd_per_unit_series(
    *,
    currency: str,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> pd.Series | None:
    """USD per 1 unit of ``currency`` by date (float64, DatetimeIndex ascending, no NaN).

    ``None`` for USD (no conversion). ``start``/``end`` restrict the dates loaded; a caller
    doing an as-of join must start early enough to find the rate in force on its first day.
    Raises :class:`UnknownCurrencyError` when no live ``C/USD`` or ``USD/C`` asset exists.
    Two queries: the pair lookup and the packed close load.
    """
    code = currency.strip().upper()
    if code == USD:
        return None
    pair = _pair_of(code)
    if pair is None:
        raise UnknownCurrencyError(currency)
    closes = closes_matrix(asset_ids=[pair.asset_id], start=start, end=end)[pair.asset_id].dropna()
    rates = 1.0 / closes if pair.inverted else closes
    return pd.Series(
        rates.to_numpy(dtype=np.float64),
        index=pd.DatetimeIndex(closes.index),
        name=f"USD per {code}",
    )
