"""Contract tests of the read routes the MVP's web client reaches (contract §2.2).

Each test calls the route as the client does (method, path, parameters, ``Authorization:
Bearer``) and asserts the fields the client reads, with their JSON types, against the
published run built by ``tests/portfolio/published.py``.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest

from market.models import Asset, Price
from portfolio.models import IndexValue
from tests.compat.conftest import assert_v1_headers
from tests.portfolio.published import (
    BENCHMARK_GAP_EVERY,
    FIRST_DAY,
    benchmark_close_on,
    level_on,
    trading_days,
)

pytestmark = pytest.mark.django_db

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DAYS = trading_days(120)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def test_index_history_is_every_published_level_as_numbers(served_index, mvp_client):
    response = mvp_client("viewer").get("index/history")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert [point["date"] for point in body["series"]] == [day.isoformat() for day in DAYS]
    assert all(_is_number(point["value"]) for point in body["series"])
    assert body["series"][5]["value"] == pytest.approx(level_on(5), rel=1e-12)
    assert body["start_date"] is None
    assert body["end_date"] is None
    assert_v1_headers(response, "/api/v2/indexes/autoindex/values/")


def test_index_history_without_a_published_run_is_the_mvp_404(unpublished_index, mvp_client):
    response = mvp_client("viewer").get("index/history")

    assert response.status_code == 404
    assert response.json() == {"detail": "No index history. Run tasks/refresh."}
    assert_v1_headers(response)


def test_index_current_is_the_latest_rebalance_with_float_weights(served_index, mvp_client):
    response = mvp_client("viewer").get("index/current")

    assert response.status_code == 200
    body = response.json()
    assert body["date"] == DAYS[100].isoformat()  # rebalances every 20 days: the last is day 100
    allocations = body["allocations"]
    assert [row["symbol"] for row in allocations] == [
        "COMPAT003",
        "COMPAT002",
        "COMPAT001",
        "COMPAT000",
    ]
    assert [row["weight"] for row in allocations] == pytest.approx([0.4, 0.3, 0.2, 0.1])
    assert all(isinstance(row["weight"], float) for row in allocations)
    assert sum(row["weight"] for row in allocations) == pytest.approx(1.0)
    assert {row["sector"] for row in allocations} == {"Sector 0", "Sector 1", "Sector 2"}
    assert allocations[0]["name"] == "COMPAT asset 3"
    assert allocations[0]["daily_return"] is None
    assert body["total_assets"] is None


def test_index_current_without_a_published_run_is_the_mvp_404(unpublished_index, mvp_client):
    response = mvp_client("viewer").get("index/current")

    assert response.status_code == 404
    assert response.json() == {"detail": "No allocations computed yet. Run tasks/refresh."}


def test_currencies_names_every_convertible_currency(served_index, mvp_client):
    eur = Asset.objects.get(symbol="EUR/USD")  # created by the default index's migration
    Price.objects.create(asset=eur, date=FIRST_DAY, close=Decimal("1.1"))

    response = mvp_client("viewer").get("index/currencies")

    assert response.status_code == 200
    assert response.json() == {"EUR": "Euro", "USD": "US Dollar"}


def test_asset_history_rebases_closes_to_100(served_index, mvp_client):
    asset = Asset.objects.get(symbol="COMPAT001")
    Price.objects.bulk_create(
        [
            Price(asset=asset, date=DAYS[0], close=Decimal("50")),
            Price(asset=asset, date=DAYS[1], close=Decimal("55")),
            Price(asset=asset, date=DAYS[2], close=Decimal("45")),
        ]
    )

    response = mvp_client("viewer").get("index/assets/COMPAT001/history")

    assert response.status_code == 200
    assert response.json() == {
        "series": [
            {"date": DAYS[0].isoformat(), "value": 100.0},
            {"date": DAYS[1].isoformat(), "value": pytest.approx(110.0)},
            {"date": DAYS[2].isoformat(), "value": pytest.approx(90.0)},
        ],
        "start_date": None,
        "end_date": None,
    }


def test_asset_history_of_unknown_and_empty_assets_are_the_mvp_404s(served_index, mvp_client):
    client = mvp_client("viewer")

    unknown = client.get("index/assets/ZZZ/history")
    empty = client.get("index/assets/COMPAT002/history")

    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Asset ZZZ not found"}
    assert empty.status_code == 404
    assert empty.json() == {"detail": "No price history for COMPAT002"}


def test_sp500_is_the_benchmark_rebased_to_100_from_inception(served_index, mvp_client):
    response = mvp_client("viewer").get("benchmark/sp500")

    assert response.status_code == 200
    body = response.json()
    assert body["benchmark_name"] == "COMPAT benchmark"
    with_close = [
        number for number in range(120) if number % BENCHMARK_GAP_EVERY != BENCHMARK_GAP_EVERY - 1
    ]
    assert [point["date"] for point in body["series"]] == [
        DAYS[number].isoformat() for number in with_close
    ]
    first = float(benchmark_close_on(0))
    assert body["series"][3]["value"] == pytest.approx(
        float(benchmark_close_on(with_close[3])) / first * 100
    )
    assert all(_is_number(point["value"]) for point in body["series"])
    assert all(DATE.match(point["date"]) for point in body["series"])


def test_sp500_without_a_benchmark_is_an_empty_series(settings, mvp_client):
    from tests.portfolio.published import published_index_build

    settings.API_V1_INDEX_SLUG = "nobench"
    published_index_build(slug="nobench", benchmark=False)

    response = mvp_client("viewer").get("benchmark/sp500")

    assert response.status_code == 200
    assert response.json() == {"series": [], "benchmark_name": "S&P 500"}


def test_benchmark_compare_pairs_by_date_in_percent(served_index, mvp_client):
    response = mvp_client("viewer").get("benchmark/compare")

    assert response.status_code == 200
    body = response.json()
    block_fields = {
        "start_value",
        "end_value",
        "total_return",
        "annualized_return",
        "volatility",
        "sharpe_ratio",
    }
    assert set(body["autoindex"]) == block_fields
    assert set(body["sp500"]) == block_fields
    assert all(_is_number(value) for value in body["autoindex"].values())
    # The last common date is day 118 (day 118 has a benchmark close, 119 % 7 == 0 does too).
    last_common = max(n for n in range(120) if n % BENCHMARK_GAP_EVERY != BENCHMARK_GAP_EVERY - 1)
    assert body["autoindex"]["total_return"] == pytest.approx(
        (level_on(last_common) / level_on(0) - 1) * 100
    )
    assert body["sp500"]["total_return"] == pytest.approx(
        (float(benchmark_close_on(last_common)) / float(benchmark_close_on(0)) - 1) * 100
    )
    assert body["outperformance"]["total"] == pytest.approx(
        body["autoindex"]["total_return"] - body["sp500"]["total_return"]
    )
    assert set(body["outperformance"]) == {"total", "annualized", "information_ratio"}


def test_risk_metrics_row_has_the_fields_the_dashboard_reads(served_index, mvp_client):
    response = mvp_client("viewer").get("strategy/risk-metrics", {"days": 30})

    assert response.status_code == 200
    metrics = response.json()["metrics"]
    assert len(metrics) == 1
    row = metrics[0]
    assert row["date"] == DAYS[-1].isoformat()
    for field in (
        "total_return",
        "sharpe_ratio",
        "sortino_ratio",
        "max_drawdown",
        "current_drawdown",
        "volatility",
        "beta_sp500",
        "correlation_sp500",
    ):
        assert _is_number(row[field]), field
    assert row["total_return"] == pytest.approx((level_on(119) / level_on(0) - 1) * 100)
    assert row["max_drawdown"] <= 0


def test_risk_metrics_before_any_publication_are_an_empty_list(unpublished_index, mvp_client):
    response = mvp_client("viewer").get("strategy/risk-metrics", {"limit": 30})

    assert response.status_code == 200
    assert response.json() == {"message": "No risk metrics available yet", "metrics": []}


# SIMULATION


def test_simulate_answers_the_mvp_fields_with_numbers(served_index, mvp_client):
    start = DAYS[10]

    response = mvp_client("viewer").post(
        "index/simulate", {"amount": 10000, "start_date": start.isoformat(), "currency": "USD"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["start_date"] == start.isoformat()
    assert body["end_date"] == DAYS[-1].isoformat()
    assert body["start_value"] == pytest.approx(level_on(10))
    assert body["end_value"] == pytest.approx(level_on(119))
    assert body["amount_initial"] == 10000.0
    assert body["amount_final"] == pytest.approx(10000 * level_on(119) / level_on(10))
    assert body["roi_pct"] == pytest.approx((level_on(119) / level_on(10) - 1) * 100)
    assert body["currency"] == "USD"
    assert len(body["series"]) == 110
    assert all(_is_number(body[field]) for field in ("start_value", "end_value", "roi_pct"))


def test_simulate_before_inception_starts_at_inception(served_index, mvp_client):
    response = mvp_client("viewer").post(
        "index/simulate", {"amount": 1000, "start_date": "2019-01-01", "currency": "USD"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["start_date"] == FIRST_DAY.isoformat()
    assert body["requested_start_date"] == "2019-01-01"
    assert body["start_value"] == pytest.approx(100.0)


def test_simulate_converts_at_each_days_fx_rate(served_index, mvp_client):
    """The MVP converted in and out at today's rate (ROI in EUR = ROI in USD); v1 now uses the
    rate of each day, in the same fields."""
    eur = Asset.objects.get(symbol="EUR/USD")  # created by the default index's migration
    calendar = [
        FIRST_DAY + datetime.timedelta(days=n) for n in range((DAYS[-1] - FIRST_DAY).days + 1)
    ]
    Price.objects.bulk_create(
        [
            Price(asset=eur, date=day, close=Decimal("1.00") if day < DAYS[60] else Decimal("1.25"))
            for day in calendar
        ]
    )

    response = mvp_client("viewer").post(
        "index/simulate", {"amount": 1000, "start_date": DAYS[0].isoformat(), "currency": "EUR"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["currency"] == "EUR"
    growth = level_on(119) / level_on(0)
    assert body["amount_final"] == pytest.approx(1000 * growth / 1.25)
    assert body["end_value"] == pytest.approx(level_on(119))  # still the index level


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"amount": 100, "start_date": "2030-01-01"}, 400, "Start date out of range"),
        (
            {"amount": 100, "start_date": "2023-02-01", "currency": "XXX"},
            400,
            "Cannot convert from XXX to USD",
        ),
    ],
)
def test_simulate_errors_are_the_mvp_400s(served_index, mvp_client, body, status, detail):
    response = mvp_client("viewer").post("index/simulate", body)

    assert response.status_code == status
    assert response.json() == {"detail": detail}


def test_simulate_with_a_non_positive_amount_is_the_mvp_422_list(served_index, mvp_client):
    response = mvp_client("viewer").post(
        "index/simulate", {"amount": 0, "start_date": "2023-02-01"}
    )

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "amount"]
    assert isinstance(error["msg"], str)


def test_simulate_without_published_levels_is_the_mvp_404(unpublished_index, mvp_client):
    response = mvp_client("viewer").post(
        "index/simulate", {"amount": 100, "start_date": "2023-02-01"}
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "No index history. Run tasks/refresh."}


def test_history_serves_only_the_published_run(served_index, mvp_client):
    """A newer run that is not published (e.g. still running) never reaches v1."""
    from tests.portfolio.published import run_build

    run_build(index=served_index, shift=50.0, publish=False)
    assert IndexValue.objects.filter(level__gt=140).exists()

    body = mvp_client("viewer").get("index/history").json()

    assert max(point["value"] for point in body["series"]) < 140
