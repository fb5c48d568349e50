"""Corporate actions: the vendor bodies, the client over the fake, the upserts with history,
the weekly refresh, raw closes across a new split, and the split-aware price sanity band."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from market.models import Asset, DataSource, Dividend, Price, PriceRevision, RefreshRun, Split
from market.providers.fake import (
    FakeBar,
    FakeDividend,
    FakeSplit,
    dividends_payload,
    splits_payload,
)
from market.providers.schemas import (
    SymbolError,
    VendorDividend,
    VendorMarketCap,
    VendorSplit,
    parse_dividends,
    parse_market_caps,
    parse_splits,
)
from market.services import prices_refresh
from market.services.corporate_actions import (
    DividendRow,
    SplitRow,
    corporate_actions_refresh,
    dated_rows_upsert,
)
from market.services.sanity import bars_screen, split_factor_between
from tests.factories import RefreshRunFactory
from tests.market.conftest import REFRESH_END, served_bars

pytestmark = pytest.mark.django_db

TODAY = dt.date(2024, 1, 12)
META = {
    "symbol": "AAPL",
    "name": "Apple Inc.",
    "currency": "USD",
    "exchange": "NASDAQ",
    "mic_code": "XNGS",
    "exchange_timezone": "America/New_York",
}

# --------------------------------------------------------------------- documented real bodies


def test_the_documented_splits_reply_parses_fractional_factors_exactly():
    body = {
        "meta": META,
        "splits": [
            {"date": "2020-08-31", "description": "4-for-1 split", "ratio": 0.25,
             "from_factor": 4, "to_factor": 1},
            {"date": "2025-08-07", "description": "1.025-for-1 split", "ratio": 0.97561,
             "from_factor": 1.025, "to_factor": 1},
            {"date": "2025-08-04", "description": "602-for-1000 split", "ratio": 1.66113,
             "from_factor": 602, "to_factor": 1000},
        ],
    }  # fmt: skip

    assert parse_splits("AAPL", body, today=dt.date(2025, 8, 6)) == (
        VendorSplit(dt.date(2020, 8, 31), Decimal(4), Decimal(1)),
        VendorSplit(dt.date(2025, 8, 4), Decimal(602), Decimal(1000)),
    )  # the 2025-08-07 split is after "today": dropped


def test_dividends_read_ex_date_or_the_2022_payment_date_and_drop_projected_ones():
    current = {"meta": META, "dividends": [{"ex_date": "2021-08-06", "amount": 0.22}]}
    old = {"meta": META, "dividends": [{"payment_date": "2022-02-04", "amount": 0.22}]}
    projected = {"meta": META, "dividends": [{"ex_date": "2029-12-14", "amount": 0.51345}]}

    assert parse_dividends("AAPL", current, today=TODAY) == (
        VendorDividend(dt.date(2021, 8, 6), Decimal("0.22")),
    )
    assert parse_dividends("AAPL", old, today=TODAY) == (
        VendorDividend(dt.date(2022, 2, 4), Decimal("0.22")),
    )
    assert parse_dividends("AAPL", projected, today=TODAY) == ()


def test_the_recorded_market_cap_page_parses_ascending():
    body = {
        "meta": META,
        "market_cap": [
            {"date": "2025-08-07", "value": 3265333168995},
            {"date": "2025-08-06", "value": 3164715272704},
        ],
    }

    assert parse_market_caps("AAPL", body) == (
        VendorMarketCap(dt.date(2025, 8, 6), Decimal(3164715272704)),
        VendorMarketCap(dt.date(2025, 8, 7), Decimal(3265333168995)),
    )


def test_a_plan_gated_or_malformed_body_is_the_symbols_error():
    gated = {
        "code": 403,
        "message": "/splits is available exclusively with grow or pro or ultra or enterprise plans",
        "status": "error",
    }
    bad = {"meta": META, "splits": [{"date": "2020-08-31", "from_factor": "n/a", "to_factor": 1}]}

    assert parse_splits("AAPL", gated, today=TODAY) == SymbolError(
        symbol="AAPL", kind="client", message=gated["message"], code=403
    )
    error = parse_splits("AAPL", bad, today=TODAY)
    assert isinstance(error, SymbolError)
    assert error.kind == "payload"


def test_the_fakes_bodies_parse_like_the_real_ones():
    split = FakeSplit(dt.date(2020, 4, 29), Decimal(1), Decimal(8))
    dividend = FakeDividend(dt.date(2020, 8, 7), Decimal("0.82"))

    assert splits_payload("USO", [split])["splits"][0] == {
        "date": "2020-04-29",
        "description": "1-for-8 split",
        "ratio": 8.0,
        "from_factor": 1,
        "to_factor": 8,
    }
    assert parse_dividends("AAPL", dividends_payload("AAPL", [dividend]), today=TODAY) == (
        VendorDividend(dt.date(2020, 8, 7), Decimal("0.82")),
    )


# --------------------------------------------------------------------- the client and the fake


def test_the_client_asks_for_raw_bars_and_full_action_histories(
    grow_plan, twelvedata_client, fake_twelvedata
):
    fake_twelvedata.splits["AAPL"] = [FakeSplit(dt.date(2024, 1, 8), Decimal(4), Decimal(1))]

    raw = twelvedata_client.time_series(["AAPL"], start=dt.date(2024, 1, 2), end=TODAY)["AAPL"]
    splits = twelvedata_client.splits("AAPL", today=TODAY)

    assert fake_twelvedata.requests[0]["adjust"] == "none"
    assert [bar.close for bar in raw.bars] == [bar.close for bar in served_bars("AAPL")]
    assert splits == (VendorSplit(dt.date(2024, 1, 8), Decimal(4), Decimal(1)),)
    assert fake_twelvedata.requests[1] == {"symbol": "AAPL", "range": "full"}


def test_the_fake_serves_split_adjusted_bars_by_default_like_the_real_api(fake_twelvedata):
    fake_twelvedata.splits["AAPL"] = [FakeSplit(dt.date(2024, 1, 8), Decimal(4), Decimal(1))]

    answer = fake_twelvedata.handle(
        "/time_series",
        {
            "symbol": "AAPL",
            "interval": "1day",
            "start_date": "2024-01-05",
            "end_date": "2024-01-09",
        },
        {"Authorization": "apikey test-key"},
    )

    values = __import__("json").loads(answer.body)["values"]
    # Newest first: 01-08 as traded, 01-05 divided by 4 (volume × 4).
    assert [(v["datetime"], v["close"], v["volume"]) for v in values] == [
        ("2024-01-08", "101", "1000004"),
        ("2024-01-05", "25.1875", "4000012"),
    ]


# --------------------------------------------------------------------- upserts


def test_upserts_are_idempotent_and_never_overwrite_an_analysts_row():
    aapl = Asset.objects.get(symbol="AAPL")
    Split.objects.create(
        asset=aapl, effective_date=dt.date(2020, 8, 31), from_factor=4, to_factor=1,
        source=DataSource.ANALYST,
    )  # fmt: skip
    rows = [
        SplitRow(aapl.pk, dt.date(2020, 8, 31), Decimal(5), Decimal(1)),
        SplitRow(aapl.pk, dt.date(2014, 6, 9), Decimal(7), Decimal(1)),
    ]

    first = dated_rows_upsert(rows, source=DataSource.VENDOR)
    again = dated_rows_upsert(rows, source=DataSource.VENDOR)

    assert (first.inserted, first.updated, first.unchanged) == (1, 0, 0)
    assert first.kept == [f"{aapl.pk} 2020-08-31"]
    assert (again.inserted, again.updated, again.unchanged, len(again.kept)) == (0, 0, 1, 1)
    assert sorted(Split.objects.values_list("effective_date", "from_factor", "source")) == [
        (dt.date(2014, 6, 9), Decimal("7.0000000000"), "vendor"),
        (dt.date(2020, 8, 31), Decimal("4.0000000000"), "analyst"),
    ]
    assert Split.history.filter(effective_date=dt.date(2014, 6, 9)).count() == 1


def test_a_changed_vendor_dividend_is_updated_with_history():
    aapl = Asset.objects.get(symbol="AAPL")
    dated_rows_upsert([DividendRow(aapl.pk, dt.date(2024, 2, 9), Decimal("0.24"))], source="vendor")

    changed = dated_rows_upsert(
        [DividendRow(aapl.pk, dt.date(2024, 2, 9), Decimal("0.25"))], source="vendor"
    )

    assert changed.updated == 1
    dividend = Dividend.objects.get(asset=aapl)
    assert [h.amount for h in dividend.history.order_by("history_id")] == [
        Decimal("0.24000000"),
        Decimal("0.25000000"),
    ]


# --------------------------------------------------------------------- the weekly refresh


@pytest.fixture
def grow_plan(settings):
    """A plan with /splits and /dividends (Grow: 55 credits a minute, no daily cap)."""
    settings.TWELVEDATA_CREDITS_PER_MINUTE = 55
    settings.TWELVEDATA_CREDITS_PER_DAY = 0


def test_the_refresh_stores_vendor_actions_as_a_corporate_actions_run(
    grow_plan, fake_twelvedata, fake_clock
):
    from market.providers import TwelveDataClient

    fake_twelvedata.splits["AAPL"] = [FakeSplit(dt.date(2020, 8, 31), Decimal(4), Decimal(1))]
    fake_twelvedata.dividends["AAPL"] = [
        FakeDividend(dt.date(2023, 11, 10), Decimal("0.24")),
        FakeDividend(dt.date(2099, 2, 9), Decimal("0.25")),  # projected: not stored
    ]
    client = TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)

    run = corporate_actions_refresh(symbols=["AAPL", "MSFT"], client=client, today=TODAY)

    run.refresh_from_db()
    assert (run.kind, run.status, run.rows_inserted, run.symbols_done) == (
        RefreshRun.Kind.CORPORATE_ACTIONS,
        RefreshRun.Status.SUCCEEDED,
        2,
        2,
    )
    assert run.credits_planned == 80  # 2 symbols × (20 + 20)
    assert list(Split.objects.values_list("asset__symbol", "effective_date", "source")) == [
        ("AAPL", dt.date(2020, 8, 31), "vendor")
    ]
    assert list(Dividend.objects.values_list("asset__symbol", "ex_date", "amount")) == [
        ("AAPL", dt.date(2023, 11, 10), Decimal("0.24000000"))
    ]
    assert {q.get("range") for q in fake_twelvedata.requests} == {"full"}
    assert [q.get("adjust") for q in fake_twelvedata.requests] == [None, "false"] * 2


def test_a_plan_without_splits_records_the_symbols_errors(grow_plan, fake_twelvedata, fake_clock):
    from market.providers import TwelveDataClient

    fake_twelvedata.gated_paths = {"/splits"}
    client = TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)

    run = corporate_actions_refresh(symbols=["AAPL"], client=client, today=TODAY)

    assert run.status == RefreshRun.Status.FAILED
    assert run.errors == {
        "AAPL": "/splits: /splits is available exclusively with grow or pro or ultra or "
        "enterprise plans"
    }


# --------------------------------------------------------------------- raw closes across a split


def test_a_new_split_leaves_every_stored_close_before_it_unchanged(
    grow_plan, twelvedata_client, fake_twelvedata, fake_clock
):
    # Given prices stored up to 01-12
    prices_refresh(end=REFRESH_END, client=twelvedata_client, symbols=["AAPL"])
    before = dict(Price.objects.filter(asset__symbol="AAPL").values_list("date", "close"))
    # When AAPL splits 4-for-1 on 01-16 and the vendor serves the bars after it on the new basis
    split_day = dt.date(2024, 1, 16)
    fake_twelvedata.add_split(
        "AAPL",
        FakeSplit(split_day, Decimal(4), Decimal(1)),
        bars=[FakeBar(split_day, Decimal("27.50"), Decimal("27"), Decimal("28"), Decimal("27"))],
    )
    corporate_actions_refresh(symbols=["AAPL"], client=twelvedata_client, today=split_day)
    run = prices_refresh(end=split_day, client=twelvedata_client, symbols=["AAPL"])

    # Then the old closes are as they were, the raw post-split close passed the sanity band
    stored = dict(Price.objects.filter(asset__symbol="AAPL").values_list("date", "close"))
    assert {date: stored[date] for date in before} == before
    assert stored[split_day] == Decimal("27.50")
    assert PriceRevision.objects.count() == 0
    assert run.bars_quarantined == 0
    assert list(Split.objects.values_list("asset__symbol", "effective_date", "from_factor")) == [
        ("AAPL", split_day, Decimal("4.0000000000"))
    ]


# --------------------------------------------------------------------- price sanity


def _screen(asset, date, close):
    import pandas as pd

    rows = pd.DataFrame.from_records(
        [(asset.pk, date, None, None, None, Decimal(close), None)],
        columns=["asset_id", "date", "open", "high", "low", "close", "volume"],
    ).astype(object)
    return bars_screen(rows, refresh_run=RefreshRunFactory())


def test_a_raw_drop_explained_by_a_split_that_day_passes_and_the_same_drop_without_is_held():
    aapl, msft = Asset.objects.get(symbol="AAPL"), Asset.objects.get(symbol="MSFT")
    for asset in (aapl, msft):
        Price.objects.create(asset=asset, date=dt.date(2024, 1, 11), close=Decimal("100"))
    Split.objects.create(
        asset=aapl, effective_date=dt.date(2024, 1, 12), from_factor=4, to_factor=1
    )

    with_split = _screen(aapl, dt.date(2024, 1, 12), "25.10")
    without = _screen(msft, dt.date(2024, 1, 12), "25.10")

    assert split_factor_between(aapl.pk, dt.date(2024, 1, 11), dt.date(2024, 1, 12)) == 4
    assert split_factor_between(aapl.pk, dt.date(2024, 1, 12), dt.date(2024, 1, 15)) == 1
    assert list(with_split.accepted["close"]) == [Decimal("25.10")]
    assert with_split.quarantined == {}
    assert without.accepted.empty
    assert without.quarantined == {
        msft.pk: [
            "2024-01-12 jump: close 25.10 moved -74.90 % from the previous close 100 "
            "(2024-01-11), beyond the ±50 % band"
        ]
    }
