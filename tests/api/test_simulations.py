"""POST indexes/{slug}/simulations/: the demo index, real FX closes, problem+json errors.

Expectations are recomputed by hand from the stored levels and FX closes: units bought =
amount × (USD per unit of the currency on the day) ÷ level; value = units × level ÷ rate on
the valuation day.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from market.models import Price
from portfolio import services
from portfolio.models import Index, IndexRun, IndexValue
from tests.portfolio.published import FIRST_DAY, published_index_build

from .conftest import api_url, assert_problem

pytestmark = pytest.mark.django_db

D = datetime.date
CENT = Decimal("0.01")


@pytest.fixture
def demo_index() -> Index:
    call_command("load_demo_data", verbosity=0)
    index = Index.objects.select_related("strategy", "benchmark").get(slug="autoindex")
    services.index_run_compute(index=index, trigger=IndexRun.Trigger.CLI)
    return index


@pytest.fixture
def viewer(client_as):
    return client_as("viewer")


def simulate(client, slug: str = "autoindex", **body):
    return client.post(api_url("index-simulations", slug=slug), body, format="json")


def published_levels(index: Index, start: datetime.date, end: datetime.date):
    return list(
        IndexValue.objects.filter(
            run__index=index, run__status="published", date__gte=start, date__lte=end
        )
        .order_by("date")
        .values_list("date", "total_level")
    )


def close_as_of(symbol: str, day: datetime.date) -> float:
    price = Price.objects.filter(asset__symbol=symbol, date__lte=day).order_by("-date").first()
    assert (day - price.date).days <= 5
    return float(price.close)


def cents(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(CENT)


def test_eur_simulation_converts_in_and_out_at_each_days_rate(viewer, demo_index):
    start, end = D(2019, 6, 3), D(2023, 6, 30)

    response = simulate(viewer, amount="10000.00", currency="eur", start=start, end=end)

    assert response.status_code == 200, response.content
    body = response.json()
    levels = published_levels(demo_index, start, end)
    (start_day, start_level), (end_day, end_level) = levels[0], levels[-1]
    usd_per_eur_in = close_as_of("EUR/USD", start_day)
    usd_per_eur_out = close_as_of("EUR/USD", end_day)
    assert abs(usd_per_eur_in - usd_per_eur_out) > 0.01  # the rate really moved
    expected = 10_000 * usd_per_eur_in / start_level * end_level / usd_per_eur_out
    assert (body["currency"], body["start_date"], body["end_date"]) == (
        "EUR",
        start_day.isoformat(),
        end_day.isoformat(),
    )
    assert body["invested"] == "10000.00"
    assert abs(Decimal(body["final_value"]) - cents(expected)) <= CENT
    assert Decimal(body["profit"]) == Decimal(body["final_value"]) - Decimal(body["invested"])
    assert float(body["roi"]) == pytest.approx(expected / 10_000 - 1, abs=1e-6)
    years = (end_day - start_day).days / 365.25
    assert float(body["cagr"]) == pytest.approx((expected / 10_000) ** (1 / years) - 1, abs=1e-6)
    assert Decimal(body["max_drawdown"]) <= 0
    assert len(body["roi"].split(".")[1]) == 6
    # One value per trading day, in EUR at that day's rate; the last is the final value.
    assert [point["date"] for point in body["values"]] == [day.isoformat() for day, _ in levels]
    assert body["values"][0]["value"] == "10000.00"
    assert body["values"][-1]["value"] == body["final_value"]
    middle_day, middle_level = levels[len(levels) // 2]
    middle = (
        10_000 * usd_per_eur_in / start_level * middle_level / close_as_of("EUR/USD", middle_day)
    )
    assert abs(Decimal(body["values"][len(levels) // 2]["value"]) - cents(middle)) <= CENT
    assert body["contributions"] == [{"date": start_day.isoformat(), "amount": "10000.00"}]


def test_monthly_contributions_buy_on_the_first_trading_day_of_each_month(viewer, demo_index):
    start, end = D(2021, 1, 4), D(2021, 4, 30)

    response = simulate(
        viewer,
        amount="1000.00",
        currency="USD",
        start=start,
        end=end,
        monthly_contribution="100.00",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    levels = published_levels(demo_index, start, end)
    first_of_month: dict[tuple[int, int], tuple[datetime.date, float]] = {}
    for day, level in levels:
        first_of_month.setdefault((day.year, day.month), (day, level))
    flows = [(levels[0][0], levels[0][1], 1000.0)] + [
        (day, level, 100.0) for key, (day, level) in first_of_month.items() if key != (2021, 1)
    ]
    assert body["contributions"] == [
        {"date": day.isoformat(), "amount": f"{amount:.2f}"} for day, _, amount in flows
    ]
    assert body["invested"] == "1300.00"
    units = sum(amount / level for _, level, amount in flows)
    assert abs(Decimal(body["final_value"]) - cents(units * levels[-1][1])) <= CENT
    assert Decimal(body["profit"]) == Decimal(body["final_value"]) - Decimal("1300.00")


def test_a_weekend_start_invests_on_the_next_trading_day(viewer, demo_index):
    saturday = D(2020, 3, 7)

    body = simulate(viewer, amount="500", currency="USD", start=saturday, end=D(2020, 3, 31)).json()

    assert body["start_date"] == "2020-03-09"
    assert body["values"][0] == {"date": "2020-03-09", "value": "500.00"}


def test_a_start_after_the_data_is_unprocessable(viewer, demo_index):
    body = assert_problem(simulate(viewer, amount="100", currency="EUR", start="2025-01-02"), 422)

    assert body["type"].endswith("/simulation-out-of-range")
    assert body["reason"] == "start-after-data"
    assert "after the last index date 2024-09-12" in body["detail"]


def test_a_start_before_the_index_existed_is_unprocessable_not_moved(viewer, demo_index):
    run = IndexRun.objects.get(index=demo_index, status="published")

    body = assert_problem(simulate(viewer, amount="100", currency="USD", start="2001-01-02"), 422)

    assert body["reason"] == "start-before-data"
    assert body["first_date"] == run.inception_date.isoformat()
    assert "before the first index date" in body["detail"]


# Input validation needs no real data: a small synthetic index is enough.


@pytest.fixture
def synthetic(db) -> Index:
    return published_index_build(slug="sim", days=40)


@pytest.mark.parametrize(
    ("body", "pointers"),
    [
        ({"amount": "-5"}, ["#/amount"]),
        ({"amount": "0"}, ["#/amount"]),
        ({"amount": "10.005"}, ["#/amount"]),
        ({"currency": "XYZ"}, ["#/currency"]),
        ({"currency": "euro"}, ["#/currency"]),
        ({"start": "2023-02-01", "end": "2023-01-15"}, ["#/end"]),
        ({"start": "not a date"}, ["#/start"]),
        ({"monthly_contribution": "-1"}, ["#/monthly_contribution"]),
        ({"amount": "-1", "currency": "XYZ"}, ["#/amount", "#/currency"]),
    ],
)
def test_invalid_input_is_a_400_with_field_errors(viewer, synthetic, body, pointers):
    request = {"amount": "100", "currency": "USD", "start": FIRST_DAY.isoformat(), **body}

    problem = assert_problem(simulate(viewer, "sim", **request), 400)

    assert sorted(error["pointer"] for error in problem["errors"]) == pointers


def test_missing_fields_are_each_reported(viewer, synthetic):
    problem = assert_problem(simulate(viewer, "sim"), 400)

    assert sorted(error["pointer"] for error in problem["errors"]) == [
        "#/amount",
        "#/currency",
        "#/start",
    ]


def test_an_unknown_index_is_404(viewer):
    assert_problem(simulate(viewer, "nope", amount="1", currency="USD", start="2023-01-02"), 404)


def test_simulations_are_throttled_per_user(client_as, synthetic, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "simulation": "2/min",
        },
    }
    viewer, other = client_as("viewer"), client_as("viewer")
    request = {"amount": "100", "currency": "USD", "start": FIRST_DAY.isoformat()}

    statuses = [simulate(viewer, "sim", **request).status_code for _ in range(2)]
    throttled = simulate(viewer, "sim", **request)

    assert statuses == [200, 200]
    assert_problem(throttled, 429)
    assert int(throttled["Retry-After"]) > 0
    assert simulate(other, "sim", **request).status_code == 200
    # Reads are not counted against the simulation scope.
    assert viewer.get(api_url("index-values", slug="sim")).status_code == 200
