"""Helpers of the price-sanity and quarantine tests: vendor bar frames, stored prices, a
quarantined-bar factory and the fault-matrix line."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import factory
import pandas as pd

from market.models import Asset, Price, QuarantinedBar
from market.services import PRICE_COLUMNS
from tests.factories import AssetFactory, RefreshRunFactory

D = Decimal


def bar(
    date: dt.date,
    close: str,
    *,
    open: str | None = None,
    high: str | None = None,
    low: str | None = None,
    volume: int | None = 1_000,
) -> tuple[dt.date, Decimal | None, Decimal | None, Decimal | None, Decimal, int | None]:
    """One vendor bar (prices as exact decimals; ``None`` where the vendor gave none)."""
    return (date, _decimal(open), _decimal(high), _decimal(low), D(close), volume)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else D(text)


def bars_frame(*series: tuple[Asset, Iterable[tuple[Any, ...]]]) -> pd.DataFrame:
    """A batch as the refresh builds it: ``PRICE_COLUMNS``, Decimal object columns."""
    records = [(asset.pk, *values) for asset, bars in series for values in bars]
    return pd.DataFrame.from_records(records, columns=list(PRICE_COLUMNS)).astype(object)


def store_closes(asset: Asset, closes: dict[dt.date, str]) -> None:
    """Stored prices of ``asset`` with just a close (no range to check)."""
    Price.objects.bulk_create(
        [Price(asset=asset, date=date, close=D(close)) for date, close in closes.items()]
    )


class QuarantinedBarFactory(factory.django.DjangoModelFactory[QuarantinedBar]):
    """A pending jump of AAPL-like numbers held by a refresh run."""

    class Meta:
        model = QuarantinedBar

    asset = factory.SubFactory(AssetFactory)
    date = dt.date(2024, 1, 12)
    open = D("312000.00")
    high = D("313000.00")
    low = D("311000.00")
    close = D("312105.79")
    volume = 1_000_000
    reason = QuarantinedBar.Reason.JUMP
    detail = "close 312105.79 moved +99898.65 % from the previous close 312.11"
    reference_close = D("312.11")
    refresh_run = factory.SubFactory(RefreshRunFactory)


def record_fault(scenario: str, *, expected: str, observed: str) -> None:
    """Append one line of the fault matrix to ``FAULT_MATRIX_FILE`` when it is set."""
    matrix_file = os.environ.get("FAULT_MATRIX_FILE")
    if matrix_file:
        with Path(matrix_file).open("a") as matrix:
            line = {"scenario": scenario, "expected": expected, "observed": observed}
            matrix.write(json.dumps(line) + "\n")
