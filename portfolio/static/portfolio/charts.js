/* Draws the run charts of the Index and Run admin pages with Chart.js.
 *
 * Data: the JSON of <script type="application/json" id="autoindex-chart-data"> (portfolio/
 * admin_charts.py, run_chart_data): dates, level, benchmark (rebased, may hold nulls), drawdown
 * (%), allocation {dates, symbols, weights[symbol][date] in %}, sectors {names, weights}.
 * No inline script anywhere (CSP 'self'). Levels are shown with 2 decimals, weights and
 * drawdowns as percentages.
 *
 * Live updates: listens for the "autoindex:event" DOM event (core/static/core/live-events.js)
 * and, when another run of this index is published, says so with a link to reload.
 */
(function () {
  "use strict";

  var COMMON = {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: "index", intersect: false },
    elements: { point: { radius: 0, hitRadius: 4 }, line: { borderWidth: 1.5 } },
  };

  function palette(count) {
    var colors = [];
    for (var i = 0; i < count; i++) {
      var hue = Math.round((i * 360) / Math.max(count, 1) + (i % 2) * 17) % 360;
      colors.push("hsl(" + hue + ", 62%, " + (i % 3 === 0 ? 48 : i % 3 === 1 ? 58 : 40) + "%)");
    }
    return colors;
  }

  function percentTick(value) {
    // One decimal where whole percents would repeat (a shallow drawdown); none otherwise.
    var rounded = Math.round(Number(value) * 10) / 10;
    return (rounded === 0 ? 0 : rounded) + " %";
  }

  function levelChart(canvas, data) {
    var datasets = [
      { label: "Index level", data: data.level, borderColor: "#205067", backgroundColor: "#205067" },
    ];
    if (data.benchmark) {
      datasets.push({
        label: (data.benchmark_symbol || "Benchmark") + " (rebased)",
        data: data.benchmark,
        borderColor: "#c0702a",
        backgroundColor: "#c0702a",
        spanGaps: true,
      });
    }
    return new Chart(canvas, {
      type: "line",
      data: { labels: data.dates, datasets: datasets },
      options: Object.assign({}, COMMON, {
        plugins: {
          tooltip: {
            callbacks: {
              label: function (item) {
                return item.dataset.label + ": " + Number(item.raw).toFixed(2);
              },
            },
          },
        },
        scales: { x: { ticks: { maxTicksLimit: 10 } }, y: { ticks: { callback: function (v) { return Number(v).toFixed(2); } } } },
      }),
    });
  }

  function drawdownChart(canvas, data) {
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: data.dates,
        datasets: [
          {
            label: "Drawdown",
            data: data.drawdown,
            borderColor: "#ba2121",
            backgroundColor: "rgba(186, 33, 33, 0.25)",
            fill: "origin",
          },
        ],
      },
      options: Object.assign({}, COMMON, {
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: function (item) {
                return "Drawdown: " + Number(item.raw).toFixed(2) + " %";
              },
            },
          },
        },
        scales: { x: { ticks: { maxTicksLimit: 10 } }, y: { max: 0, ticks: { callback: percentTick } } },
      }),
    });
  }

  function stackedChart(canvas, dates, names, weights) {
    var colors = palette(names.length);
    var datasets = names.map(function (name, i) {
      return {
        label: name,
        data: weights[i],
        borderColor: colors[i],
        backgroundColor: colors[i],
        fill: i === 0 ? "origin" : "-1",
        borderWidth: 0.5,
        stepped: "before",
      };
    });
    return new Chart(canvas, {
      type: "line",
      data: { labels: dates, datasets: datasets },
      options: Object.assign({}, COMMON, {
        plugins: {
          legend: { display: names.length <= 25, position: "right", labels: { boxWidth: 10 } },
          tooltip: {
            filter: function (item) { return item.raw > 0; },
            callbacks: {
              label: function (item) {
                return item.dataset.label + ": " + Number(item.raw).toFixed(2) + " %";
              },
            },
          },
        },
        scales: {
          x: { ticks: { maxTicksLimit: 10 } },
          y: { stacked: true, min: 0, max: 100, ticks: { callback: percentTick } },
        },
      }),
    });
  }

  function draw() {
    var source = document.getElementById("autoindex-chart-data");
    if (!source || typeof Chart === "undefined") {
      return;
    }
    var started = performance.now();
    var data = JSON.parse(source.textContent);
    var level = document.getElementById("chart-level");
    if (level) {
      levelChart(level, data);
    }
    var drawdown = document.getElementById("chart-drawdown");
    if (drawdown) {
      drawdownChart(drawdown, data);
    }
    var allocation = document.getElementById("chart-allocation");
    if (allocation) {
      stackedChart(allocation, data.allocation.dates, data.allocation.symbols, data.allocation.weights);
    }
    var sectors = document.getElementById("chart-allocation-sector");
    if (sectors) {
      stackedChart(sectors, data.allocation.dates, data.sectors.names, data.sectors.weights);
    }
    // How long parsing the data and building every chart took (read by the browser tests).
    document.documentElement.dataset.autoindexChartsMs = String(Math.round(performance.now() - started));
    document.documentElement.dataset.autoindexCharts = "drawn";
  }

  function listen() {
    var container = document.getElementById("autoindex-charts");
    var note = document.getElementById("autoindex-live-note");
    if (!container || !note) {
      return;
    }
    document.addEventListener("autoindex:event", function (event) {
      var detail = event.detail || {};
      var data = detail.data || {};
      if (detail.type !== "index_run.published" || data.index !== container.dataset.index) {
        return;
      }
      if (String(data.run_id) === container.dataset.runId) {
        return;
      }
      note.textContent = "Run #" + data.run_id + " was published (data through " +
        (data.data_through || "?") + ", last level " +
        (data.last_level == null ? "?" : Number(data.last_level).toFixed(2)) + "). ";
      var link = document.createElement("a");
      link.href = window.location.pathname;
      link.textContent = "Reload to see it.";
      note.appendChild(link);
      note.hidden = false;
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { draw(); listen(); });
  } else {
    draw();
    listen();
  }
})();
