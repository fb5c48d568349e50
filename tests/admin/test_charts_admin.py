"""The charts and readable tables of the Index and Run admin pages (portfolio/admin_charts.py),
through the real admin with the Django test client: what the page carries for the charts, the
metrics and diagnostics tables, numbers for people."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portfolio.models import IndexRun
from tests.portfolio.published import level_on, published_index_build, run_build

pytestmark = pytest.mark.django_db

DAYS = 40

DIAGNOSTICS = {
    "inception_date": "2023-01-02",
    "last_date": "2023-02-24",
    "rebalance_frequency": "monthly",
    "rebalance_count": 2,
    "asset_count": 3,
    "eligible_count_min": 2,
    "eligible_count_max": 3,
    "eligible_counts": [2, 3],
    "held_counts": [2, 3],
    "exclusions_encoding": "change_log",
    "exclusions": [
        {"date": "2023-01-02", "excluded": {"CHART002": "insufficient_coverage"}},
        {"date": "2023-02-01", "excluded": {}},
    ],
    "market_cap_fallbacks": [{"date": "2023-01-02", "missing": ["CHART000", "CHART001"]}],
    "skipped_rebalance_dates": [],
    "total_turnover": 0.4512,
    "cost_factor": 0.9991,
}


@pytest.fixture
def index():
    index = published_index_build(slug="chart", assets=3, days=DAYS, rebalance_every=10)
    IndexRun.objects.filter(index=index).update(diagnostics=DIAGNOSTICS)
    return index


def _chart_data(response) -> dict:
    match = re.search(
        r'<script id="autoindex-chart-data" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.DOTALL,
    )
    assert match, "no chart data on the page"
    return json.loads(match.group(1))


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@override_settings(CHARTS_AVAILABLE=True)
def test_index_page_carries_the_published_runs_series_for_three_charts(analyst, index):
    run = index.runs.get(status="published")

    response = analyst.client.get(reverse("admin:portfolio_index_change", args=[index.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    for canvas in ("chart-level", "chart-drawdown", "chart-allocation", "chart-allocation-sector"):
        assert f'id="{canvas}"' in page
    assert f'data-last-level="{run.last_level:.2f}"' in page
    assert "portfolio/charts.js" in page
    data = _chart_data(response)
    assert data["run_id"] == run.pk
    assert len(data["dates"]) == DAYS
    assert data["level"][-1] == level_on(DAYS - 1)
    assert data["level"][0] == 100.0
    # The benchmark is rebased onto the first date it shares with the index (day 0 here).
    assert data["benchmark"][0] == 100.0
    assert data["drawdown"][0] == 0.0
    assert max(value for value in data["drawdown"] if value is not None) == 0.0
    assert data["allocation"]["symbols"] == ["CHART000", "CHART001", "CHART002"]
    assert data["allocation"]["weights"][2] == [50.0] * 4
    assert data["sectors"]["names"] == ["Sector 0", "Sector 1", "Sector 2"]


@override_settings(CHARTS_AVAILABLE=True)
def test_index_page_charts_the_newly_published_run(analyst, index):
    newer = run_build(index=index, days=DAYS, rebalance_every=10, shift=7.0)

    response = analyst.client.get(reverse("admin:portfolio_index_change", args=[index.pk]))

    assert _chart_data(response)["run_id"] == newer.pk
    assert f'data-last-level="{newer.last_level:.2f}"' in response.content.decode()


@override_settings(CHARTS_AVAILABLE=False)
def test_without_the_chart_library_the_pages_say_so_and_still_work(analyst, index):
    run = index.runs.get(status="published")

    index_page = analyst.client.get(reverse("admin:portfolio_index_change", args=[index.pk]))
    run_page = analyst.client.get(reverse("admin:portfolio_indexrun_change", args=[run.pk]))

    for response in (index_page, run_page):
        assert response.status_code == 200
        page = response.content.decode()
        assert "Charts unavailable (npm not installed)." in page
        assert "chart.umd.min.js" not in page
        assert 'id="chart-level"' not in page
    assert 'id="metrics-price"' in run_page.content.decode()


def test_index_page_without_a_published_run_says_there_is_nothing_to_chart(analyst):
    draft = published_index_build(slug="draft", days=10, publish=False)

    response = analyst.client.get(reverse("admin:portfolio_index_change", args=[draft.pk]))

    assert response.status_code == 200
    assert "No run is published yet: nothing to chart." in response.content.decode()


@override_settings(CHARTS_AVAILABLE=True)
def test_run_page_shows_metrics_as_a_ranges_by_metrics_table(analyst, index):
    run = index.runs.get(status="published")
    stored = run.metrics["max"]

    response = analyst.client.get(reverse("admin:portfolio_indexrun_change", args=[run.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    table = page[
        page.index('id="metrics-price"') : page.index("</table>", page.index('id="metrics-price"'))
    ]
    assert re.search(r"<th scope=\"col\">max</th>", table)
    row = re.search(r'<tr data-metric="total_return">(.*?)</tr>', table, re.DOTALL).group(1)
    assert f'<td data-range="max">{stored["total_return"] * 100:.2f} %</td>' in row
    sharpe = re.search(r'<tr data-metric="sharpe">(.*?)</tr>', table, re.DOTALL).group(1)
    assert f'<td data-range="max">{stored["sharpe"]:.2f}</td>' in sharpe
    assert 'id="metrics-total"' in page
    assert 'id="chart-level"' in page


def test_run_page_shows_diagnostics_as_tables(analyst, index):
    run = index.runs.get(status="published")

    response = analyst.client.get(reverse("admin:portfolio_indexrun_change", args=[run.pk]))

    page = response.content.decode()
    summary = _text(page[page.index('id="diagnostics-summary"') :].split("</table>")[0])
    assert "Eligible assets at a rebalance (fewest) 2" in summary
    assert "Eligible assets at a rebalance (most) 3" in summary
    assert "Total turnover 45.12 %" in summary
    exclusions = _text(page[page.index('id="diagnostics-exclusions"') :].split("</table>")[0])
    assert "2023-01-02 CHART002 insufficient_coverage" in exclusions
    fallbacks = _text(page[page.index('id="diagnostics-fallbacks"') :].split("</table>")[0])
    assert "2023-01-02 CHART000, CHART001" in fallbacks


def test_run_page_moves_the_raw_json_to_a_collapsed_fieldset(analyst, index):
    run = index.runs.get(status="published")

    response = analyst.client.get(reverse("admin:portfolio_indexrun_change", args=[run.pk]))

    fieldsets = response.context["adminform"].fieldsets
    assert fieldsets[-1][0] == "Raw metrics and diagnostics (JSON)"
    assert "collapse" in fieldsets[-1][1]["classes"]
    assert list(fieldsets[-1][1]["fields"]) == ["metrics", "metrics_total", "diagnostics"]
    assert all("metrics" not in options["fields"] for _, options in fieldsets[:-1])


def test_run_list_shows_last_levels_with_two_decimals(analyst, index):
    run = index.runs.get(status="published")

    response = analyst.client.get(reverse("admin:portfolio_indexrun_changelist"))

    assert response.status_code == 200
    cell = re.search(r'<td class="field-last_level_shown">(.*?)</td>', response.content.decode())
    assert cell.group(1) == f"{run.last_level:.2f}"


@override_settings(CHARTS_AVAILABLE=True)
@pytest.mark.parametrize("page", ["index", "run"])
def test_chart_pages_ask_as_many_queries_for_a_long_run_as_for_a_short_one(analyst, page):
    small = published_index_build(slug="small", assets=2, days=20, rebalance_every=10)
    large = published_index_build(slug="large", assets=12, days=600, rebalance_every=2)

    def queries(index) -> int:
        if page == "index":
            url = reverse("admin:portfolio_index_change", args=[index.pk])
        else:
            run = index.runs.get(status="published")
            url = reverse("admin:portfolio_indexrun_change", args=[run.pk])
        with CaptureQueriesContext(connection) as captured:
            assert analyst.client.get(url).status_code == 200
        return len(captured.captured_queries)

    queries(small)  # warm: the session, the content types
    assert queries(large) == queries(small)


@pytest.mark.parametrize(
    "name", ["admin:portfolio_index_change", "admin:portfolio_indexrun_change"]
)
@pytest.mark.parametrize("object_id", ["999999", "not-a-number"])
def test_chart_pages_of_a_missing_object_redirect_as_the_admin_does(analyst, name, object_id):
    response = analyst.client.get(reverse(name, args=[object_id]))

    assert response.status_code == 302
