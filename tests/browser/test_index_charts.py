"""The Index and Run admin pages draw their charts in Chromium: an analyst signs in, the Index
page charts the published run (level vs benchmark, drawdown, allocation), the Run page also
shows its metrics as a table. Ten years of trading days (2,400 levels) must draw quickly."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.factories import TEST_PASSWORD, AnalystFactory
from tests.portfolio.published import published_index_build

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

DAYS = 2400
# How long the page may take to load and report its charts drawn: generous for a loaded
# 2-core CI machine.
DRAW_SECONDS = 10
# How long building the four charts of ten years may take in the page itself (its own
# measurement, ``data-autoindex-charts-ms``): the goal, well inside the wait above.
DRAW_MILLISECONDS = 2000
CHARTS = ("chart-level", "chart-drawdown", "chart-allocation", "chart-allocation-sector")


def _sign_in(browser, live_server, email: str) -> None:
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.ID, "id_username").send_keys(email)
    browser.find_element(By.ID, "id_password").send_keys(TEST_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda driver: "/admin/login/" not in driver.current_url)


def _open_and_wait_for_charts(browser, url: str) -> int:
    """Open ``url``, wait for its charts, and answer how many milliseconds the page says
    building them took."""
    browser.get(url)
    WebDriverWait(browser, DRAW_SECONDS).until(
        lambda driver: driver.execute_script(
            "return document.documentElement.dataset.autoindexCharts === 'drawn'"
        )
    )
    return int(browser.execute_script("return document.documentElement.dataset.autoindexChartsMs"))


def _last_point(browser, canvas_id: str) -> float:
    return browser.execute_script(
        "var data = Chart.getChart(document.getElementById(arguments[0])).data;"
        "return data.datasets[0].data[data.datasets[0].data.length - 1];",
        canvas_id,
    )


def test_index_and_run_pages_draw_the_published_run(
    charts_available, browser, live_server, screenshot
):
    index = published_index_build(slug="pictured", assets=12, days=DAYS, rebalance_every=5)
    run = index.runs.get(status="published")
    analyst = AnalystFactory(is_staff=True, email="analyst@example.com")
    _sign_in(browser, live_server, analyst.email)

    milliseconds = _open_and_wait_for_charts(
        browser, f"{live_server.url}/admin/portfolio/index/{index.pk}/change/"
    )

    assert milliseconds < DRAW_MILLISECONDS
    drawn = browser.execute_script(
        "return arguments[0].map(function (id) {"
        "  var chart = Chart.getChart(document.getElementById(id));"
        "  return chart ? [chart.config.type, chart.data.datasets.length] : null; })",
        list(CHARTS),
    )
    assert drawn == [["line", 2], ["line", 1], ["line", 12], ["line", 3]]
    last_level = f"{run.last_level:.2f}"
    assert f"{_last_point(browser, 'chart-level'):.2f}" == last_level
    canvas = browser.find_element(By.ID, "chart-level")
    assert canvas.get_attribute("data-last-level") == last_level
    assert browser.find_element(By.ID, "autoindex-last-level").text == last_level
    assert _last_point(browser, "chart-drawdown") <= 0
    # 480 rebalances, drawn as at most 250 evenly spaced ones (the first and the last kept).
    allocation_dates = browser.execute_script(
        "return Chart.getChart(document.getElementById('chart-allocation')).data.labels.length"
    )
    assert allocation_dates == 250
    browser.set_window_size(1400, 2200)  # the whole page in the picture
    assert screenshot("index-page").stat().st_size > 0

    # The live stream's DOM event (core/static/core/live-events.js): a publish of this same run
    # changes nothing; another run of this index is announced with a link to reload.
    for run_id in (run.pk, run.pk + 1):
        browser.execute_script(
            "document.dispatchEvent(new CustomEvent('autoindex:event', {detail: {type:"
            " 'index_run.published', id: '1', data: {run_id: arguments[0], index: 'pictured',"
            " last_level: 301.456, data_through: '2032-03-13'}}}))",
            run_id,
        )
        note = browser.find_element(By.ID, "autoindex-live-note")
        assert note.is_displayed() == (run_id != run.pk)
    assert note.text == (
        f"Run #{run.pk + 1} was published (data through 2032-03-13, last level 301.46). "
        "Reload to see it."
    )

    _open_and_wait_for_charts(
        browser, f"{live_server.url}/admin/portfolio/indexrun/{run.pk}/change/"
    )

    stored = run.metrics["max"]["total_return"]
    cell = browser.find_element(
        By.CSS_SELECTOR, "#metrics-price tr[data-metric=total_return] td[data-range=max]"
    )
    assert cell.text == f"{stored * 100:.2f} %"
    assert f"{_last_point(browser, 'chart-level'):.2f}" == last_level
    browser.set_window_size(1400, 3200)
    assert screenshot("run-page").stat().st_size > 0
