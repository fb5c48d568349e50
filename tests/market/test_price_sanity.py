"""Price sanity before storage (market.services.sanity.bars_screen) on real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from market.models import Asset, AssetClass, QuarantinedBar
from market.services.sanity import bars_screen
from tests.factories import AssetFactory, RefreshRunFactory, UserFactory
from tests.market.quarantine_helpers import (
    QuarantinedBarFactory,
    bar,
    bars_frame,
    record_fault,
    store_closes,
)

pytestmark = pytest.mark.django_db

D = Decimal
JAN_10, JAN_11, JAN_12 = (dt.date(2024, 1, day) for day in (10, 11, 12))


@pytest.fixture
def aapl():
    return Asset.objects.get(symbol="AAPL")  # of the default universe (a data migration)


@pytest.fixture
def eurusd():
    return Asset.objects.get(symbol="EUR/USD")


@pytest.fixture
def run():
    return RefreshRunFactory()


def screen(run, *series):
    return bars_screen(bars_frame(*series), refresh_run=run)


def accepted_closes(screened) -> list[tuple[dt.date, Decimal]]:
    return [(row.date, row.close) for row in screened.accepted.itertuples()]


def held(asset) -> list[tuple]:
    return list(
        QuarantinedBar.objects.filter(asset=asset)
        .order_by("date", "pk")
        .values_list("date", "close", "reason", "detail", "reference_close", "status")
    )


# ------------------------------------------------------------------------------ range checks


def test_a_close_below_the_low_is_quarantined_out_of_range(aapl, run):
    screened = screen(
        run, (aapl, [bar(JAN_12, "0.312", open="311.00", high="313.35", low="310.56")])
    )

    assert screened.accepted.empty
    assert screened.quarantined == {
        aapl.pk: ["2024-01-12 out_of_range: close 0.312 is below the low 310.56"]
    }
    assert screened.quarantined_count == 1
    [row] = QuarantinedBar.objects.filter(asset=aapl)
    assert (row.open, row.high, row.low, row.close, row.volume) == (
        D("311.00"),
        D("313.35"),
        D("310.56"),
        D("0.312"),
        1_000,
    )
    assert (row.reason, row.status, row.refresh_run, row.reference_close) == (
        "out_of_range",
        "pending",
        run,
        None,
    )
    record_fault(
        "price sanity: close outside low/high",
        expected="quarantined out_of_range",
        observed=f"{row.reason}: {row.detail}",
    )


def test_a_close_above_the_high_and_an_open_below_the_low_are_quarantined(aapl, run):
    screened = screen(
        run,
        (
            aapl,
            [
                bar(JAN_11, "314.00", open="311.00", high="313.35", low="310.56"),
                bar(JAN_12, "312.00", open="310.00", high="313.35", low="310.56"),
            ],
        ),
    )

    assert screened.accepted.empty
    assert screened.quarantined == {
        aapl.pk: [
            "2024-01-11 out_of_range: close 314.00 is above the high 313.35",
            "2024-01-12 out_of_range: open 310.00 is below the low 310.56",
        ]
    }


def test_the_range_bounds_are_inclusive_and_missing_sides_are_not_checked(aapl, eurusd, run):

    screened = screen(
        run,
        (aapl, [bar(JAN_12, "313.35", open="310.56", high="313.35", low="310.56")]),
        (eurusd, [bar(JAN_12, "1.0950", volume=None)]),  # FX: close only
        (AssetFactory(symbol="XLOW"), [bar(JAN_12, "5", low="6")]),  # no high, below the low
    )

    assert accepted_closes(screened) == [(JAN_12, D("313.35")), (JAN_12, D("1.0950"))]
    assert list(screened.quarantined.values()) == [
        ["2024-01-12 out_of_range: close 5 is below the low 6"]
    ]


# ------------------------------------------------------------------------------ the daily band


@pytest.mark.parametrize(
    ("close", "held_back"),
    [
        ("150", False),  # +50 %: on the band, accepted
        ("150.00000001", True),
        ("50", False),  # −50 %: on the band
        ("49.99999999", True),
    ],
)
def test_the_equity_band_is_fifty_percent_inclusive(aapl, run, close, held_back):
    store_closes(aapl, {JAN_11: "100"})

    screened = screen(run, (aapl, [bar(JAN_12, close)]))

    assert screened.quarantined_count == int(held_back)
    assert len(screened.accepted) == int(not held_back)


def test_a_jump_beyond_the_band_is_quarantined_with_its_numbers(aapl, run):
    store_closes(aapl, {JAN_11: "312.11"})

    screened = screen(run, (aapl, [bar(JAN_12, "312105.79")]))

    detail = (
        "close 312105.79 moved +99898.65 % from the previous close 312.11 (2024-01-11), "
        "beyond the ±50 % band"
    )
    assert screened.quarantined == {aapl.pk: [f"2024-01-12 jump: {detail}"]}
    assert held(aapl) == [(JAN_12, D("312105.79"), "jump", detail, D("312.11"), "pending")]


@pytest.mark.parametrize(("close", "held_back"), [("1.1", False), ("1.10000001", True)])
def test_fx_pairs_have_a_ten_percent_band(eurusd, run, close, held_back):
    store_closes(eurusd, {JAN_11: "1.0000"})

    screened = screen(run, (eurusd, [bar(JAN_12, close, volume=None)]))

    assert screened.quarantined_count == int(held_back)
    if held_back:
        assert held(eurusd)[0][3].endswith("beyond the ±10 % band")


def test_the_bands_come_from_the_settings(aapl, run, settings):
    settings.PRICE_SANITY_MAX_DAILY_MOVE = 0.05
    store_closes(aapl, {JAN_11: "100"})

    screened = screen(run, (aapl, [bar(JAN_12, "105.01")]))

    assert screened.quarantined[aapl.pk][0].endswith("beyond the ±5 % band")


def test_the_previous_close_is_the_batch_s_previous_bar_before_the_stored_one(aapl, run):
    store_closes(aapl, {JAN_10: "100"})

    # +40 % then +42.9 %: each within the band of its predecessor (not of the stored 100).
    screened = screen(run, (aapl, [bar(JAN_12, "200"), bar(JAN_11, "140")]))

    assert accepted_closes(screened) == [(JAN_12, D("200")), (JAN_11, D("140"))]
    assert screened.quarantined == {}


def test_the_previous_close_is_the_last_stored_before_the_bar(aapl, run):
    store_closes(aapl, {JAN_10: "100", dt.date(2024, 1, 3): "10"})

    screened = screen(run, (aapl, [bar(JAN_12, "151")]))

    assert screened.quarantined[aapl.pk] == [
        "2024-01-12 jump: close 151 moved +51.00 % from the previous close 100 "
        "(2024-01-10), beyond the ±50 % band"
    ]


def test_an_asset_without_any_previous_close_passes(aapl, run):
    screened = screen(run, (aapl, [bar(JAN_12, "312105.79")]))

    assert accepted_closes(screened) == [(JAN_12, D("312105.79"))]


def test_a_bar_after_a_quarantined_bar_is_compared_with_the_last_accepted_close(aapl, run):
    store_closes(aapl, {JAN_10: "100"})

    screened = screen(run, (aapl, [bar(JAN_11, "100000"), bar(JAN_12, "101")]))

    assert accepted_closes(screened) == [(JAN_12, D("101"))]
    assert [reason.split(":")[0] for reason in screened.quarantined[aapl.pk]] == ["2024-01-11 jump"]


def test_a_repeat_of_a_quarantined_jump_is_compared_with_the_last_accepted_close(aapl, run):
    store_closes(aapl, {JAN_10: "100"})

    screened = screen(run, (aapl, [bar(JAN_11, "100000"), bar(JAN_12, "100001")]))

    assert screened.accepted.empty
    assert [row[4] for row in held(aapl)] == [D("100"), D("100")]  # reference: 100, twice


# A split that explains its jump: tests/market/test_corporate_actions.py.


# ------------------------------------------------------------------------------ revisions


def test_a_revision_beyond_the_band_is_quarantined_against_the_stored_close(aapl, run):
    store_closes(aapl, {JAN_11: "312.00", JAN_12: "312.11"})

    screened = screen(run, (aapl, [bar(JAN_11, "312.00"), bar(JAN_12, "312105.79")]))

    assert accepted_closes(screened) == [(JAN_11, D("312.00"))]
    detail = "close 312105.79 revises the stored close 312.11 by +99898.65 %, beyond the ±50 % band"
    assert screened.quarantined == {aapl.pk: [f"2024-01-12 revision: {detail}"]}
    assert held(aapl) == [(JAN_12, D("312105.79"), "revision", detail, D("312.11"), "pending")]


def test_a_revision_within_the_band_and_an_unchanged_stored_jump_pass(aapl, run):
    # 01-11 was accepted by an analyst although it jumped: served unchanged, it passes.
    store_closes(aapl, {JAN_10: "100", JAN_11: "1000", JAN_12: "312.11"})

    screened = screen(run, (aapl, [bar(JAN_11, "1000"), bar(JAN_12, "312.50")]))

    assert accepted_closes(screened) == [(JAN_11, D("1000")), (JAN_12, D("312.50"))]


def test_the_next_bar_after_a_quarantined_revision_is_compared_with_the_stored_close(aapl, run):
    store_closes(aapl, {JAN_11: "100"})

    screened = screen(run, (aapl, [bar(JAN_11, "1000"), bar(JAN_12, "101")]))

    assert accepted_closes(screened) == [(JAN_12, D("101"))]
    assert held(aapl)[0][2] == "revision"


# ------------------------------------------------------------------------------ the quarantine rows


def test_a_bar_already_rejected_is_dropped_with_a_note_not_quarantined_again(aapl, run):
    store_closes(aapl, {JAN_11: "312.11"})
    QuarantinedBarFactory(
        asset=aapl,
        close=D("312105.79"),
        status=QuarantinedBar.Status.REJECTED,
        decided_by=UserFactory(),
    )

    screened = screen(run, (aapl, [bar(JAN_12, "312105.79")]))

    assert screened.accepted.empty
    assert screened.quarantined == {}
    assert run.notes == {"AAPL": "1 bar(s) dropped, already rejected: 2024-01-12"}
    assert QuarantinedBar.objects.filter(asset=aapl).count() == 1


def test_a_different_bad_close_of_a_rejected_date_is_quarantined_again(aapl, run):
    store_closes(aapl, {JAN_11: "312.11"})
    QuarantinedBarFactory(asset=aapl, close=D("312105.79"), status=QuarantinedBar.Status.REJECTED)

    screened = screen(run, (aapl, [bar(JAN_12, "31210.58")]))

    assert screened.quarantined_count == 1
    assert [row[1:3] for row in held(aapl)] == [
        (D("312105.79"), "jump"),
        (D("31210.58"), "jump"),
    ]


def test_a_bar_fetched_again_updates_its_pending_row(aapl, run):
    store_closes(aapl, {JAN_11: "312.11"})
    screen(run, (aapl, [bar(JAN_12, "312105.79")]))
    [first] = QuarantinedBar.objects.filter(asset=aapl)
    later = RefreshRunFactory()

    screened = screen(later, (aapl, [bar(JAN_12, "31210.58")]))

    assert screened.quarantined_count == 1
    [row] = QuarantinedBar.objects.filter(asset=aapl)
    assert (row.pk, row.close, row.refresh_run, row.status) == (
        first.pk,
        D("31210.58"),
        later,
        "pending",
    )
    assert row.detail.startswith("close 31210.58 moved +9899.87 %")
    assert row.updated_at > first.updated_at


def test_a_pending_bar_the_vendor_fixed_is_closed_and_the_good_bar_accepted(aapl, run):
    store_closes(aapl, {JAN_11: "312.11"})
    screen(run, (aapl, [bar(JAN_12, "312105.79")]))
    later = RefreshRunFactory()

    screened = screen(later, (aapl, [bar(JAN_12, "312.50")]))

    assert accepted_closes(screened) == [(JAN_12, D("312.50"))]
    [row] = QuarantinedBar.objects.filter(asset=aapl)
    assert (row.status, row.decided_by, row.decided_at is not None) == ("rejected", None, True)
    assert row.detail.endswith(
        f"; closed by refresh #{later.pk}: the vendor now serves close 312.50, "
        "which passed the checks and was stored"
    )


def test_a_batch_costs_four_queries_whatever_its_size(run, django_assert_num_queries):
    assets = AssetFactory.create_batch(12)
    for asset in assets:
        store_closes(asset, {JAN_10: "100"})
    batch = [(asset, [bar(JAN_11, "101"), bar(JAN_12, "102")]) for asset in assets]

    # The assets, the stored closes, their splits, the quarantine rows of the batch's keys.
    with django_assert_num_queries(4):
        screened = screen(run, *batch)

    assert len(screened.accepted) == 24


# ------------------------------------------------------------------------------ property

prices = st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2)


@st.composite
def vendor_bars(draw):
    """A few days of bars, some with x1000 closes or closes outside their range."""
    days = draw(st.integers(min_value=1, max_value=8))
    bars = []
    for number in range(days):
        low = draw(prices)
        high = low + draw(st.decimals(min_value=D("0"), max_value=D("50"), places=2))
        close = draw(st.one_of(prices, st.just(low), st.just(high), st.just(high * 1000)))
        open_ = draw(st.one_of(st.none(), prices, st.just(low)))
        bars.append(bar(dt.date(2024, 2, 1) + dt.timedelta(days=number), str(close)))
        date, _, _, _, close_value, volume = bars[-1]
        bars[-1] = (date, open_, high, low, close_value, volume)
    return bars


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=vendor_bars(), second=vendor_bars(), stored=st.one_of(st.none(), prices))
def test_every_bar_is_accepted_or_quarantined_and_no_accepted_bar_is_out_of_range(
    run, first, second, stored
):
    one, two = AssetFactory(), AssetFactory(asset_class=AssetClass.FX)
    if stored is not None:
        store_closes(one, {dt.date(2024, 1, 31): str(stored)})

    screened = screen(run, (one, first), (two, second))

    assert len(screened.accepted) + screened.quarantined_count == len(first) + len(second)
    for row in screened.accepted.itertuples():
        assert row.low <= row.close <= row.high
        assert row.open is None or row.low <= row.open <= row.high
