/* The close history of an asset on its admin page, with its price revisions marked as points.
 *
 * Data: <script type="application/json" id="asset-chart-data"> (json_script) with
 * {symbol, dates: [ISO dates], closes: [numbers], revisions: [{date, old_close, new_close}]}.
 * Draws on <canvas id="chart-asset-close">; needs Chart.js 4 (vendor/chartjs) loaded first.
 */
(function () {
  "use strict";

  function draw() {
    var canvas = document.getElementById("chart-asset-close");
    var source = document.getElementById("asset-chart-data");
    if (!canvas || !source || typeof window.Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var revisions = (data.revisions || []).map(function (revision) {
      return {x: revision.date, y: revision.new_close, old: revision.old_close};
    });
    var closes = data.dates.map(function (day, position) {
      return {x: day, y: data.closes[position]};
    });
    var chart = new window.Chart(canvas, {
      type: "line",
      data: {
        datasets: [
          {label: data.symbol + " close", data: closes, borderColor: "#417690", borderWidth: 1.5, pointRadius: 0, tension: 0},
          {label: "revised close", data: revisions, type: "scatter", borderColor: "#ba2121", backgroundColor: "#ba2121", pointRadius: 4}
        ]
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: {xAxisKey: "x", yAxisKey: "y"},
        scales: {x: {type: "category", labels: data.dates, ticks: {maxTicksLimit: 12}}},
        plugins: {
          tooltip: {
            callbacks: {
              afterLabel: function (item) {
                var point = item.raw || {};
                return point.old === undefined ? "" : "was " + point.old;
              }
            }
          }
        }
      }
    });
    canvas.setAttribute("data-points", String(closes.length));
    canvas.setAttribute("data-revisions", String(revisions.length));
    canvas.chart = chart;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
}());
