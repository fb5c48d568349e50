"""The operator's kit in deploy/: Prometheus config, alert rules and their unit tests, Grafana.

``promtool`` (Debian's ``prometheus`` package; ``.ci/run`` installs it) checks the scrape
config and the rules, runs the rules' unit tests (deploy/prometheus/alerts_test.yml) and
parses every dashboard query. Without it those tests are skipped, saying so. The dashboard
is checked as a Grafana dashboard (the keys and shapes Grafana needs to load it) and every
metric it or an alert queries must be one the app (docs/metrics.md) or django-prometheus
exports: a renamed series cannot leave a dead panel or a silent alert behind.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "autoindex.json"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not found: install Debian's 'prometheus' package (.ci/run does) to check "
    "deploy/prometheus",
)

# The series of the shared observability spec (docs/metrics.md), histograms without suffix.
APP_METRICS = {
    "autoindex_celery_tasks_total",
    "autoindex_celery_task_duration_seconds",
    "autoindex_celery_queue_length",
    "autoindex_refresh_runs_total",
    "autoindex_refresh_rows_total",
    "autoindex_price_revisions_total",
    "autoindex_bars_quarantined_total",
    "autoindex_twelvedata_requests_total",
    "autoindex_twelvedata_credits_used_today",
    "autoindex_twelvedata_credits_remaining_today",
    "autoindex_twelvedata_credits_per_day",
    "autoindex_twelvedata_circuit_state",
    "autoindex_twelvedata_circuit_opened_timestamp_seconds",
    "autoindex_latest_price_timestamp_seconds",
    "autoindex_index_published_run_age_seconds",
    "autoindex_index_last_level",
    "autoindex_index_data_through_timestamp_seconds",
    "autoindex_index_rebalances",
    "autoindex_index_compute_duration_seconds",
    "autoindex_index_computations_total",
    "autoindex_api_problems_total",
    "autoindex_api_throttled_total",
    "autoindex_db_pool_size",
    "autoindex_db_pool_available",
    "autoindex_db_pool_waiting",
    "autoindex_db_pool_errors_total",
    "autoindex_worker_heartbeat_timestamp_seconds",
    "autoindex_beat_heartbeat_timestamp_seconds",
}
DJANGO_PROMETHEUS_METRICS = {
    "django_http_requests_latency_seconds_by_view_method",
    "django_http_responses_total_by_status_total",
    "django_http_requests_total_by_method_total",
    "django_db_execute_total",
    "django_db_errors_total",
    "django_cache_get_total",
    "django_cache_get_hits_total",
    "django_cache_get_misses_total",
}
PROMETHEUS_METRICS = {"up"}
KNOWN_METRICS = APP_METRICS | DJANGO_PROMETHEUS_METRICS | PROMETHEUS_METRICS
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
METRIC_TOKEN = re.compile(r"\b(?:autoindex|django)_[a-z0-9_]+|\bup(?=\{)")
GRAFANA_PANEL_TYPES = {"row", "stat", "timeseries", "gauge", "table", "text", "bargauge"}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(  # noqa: S603 - fixed arguments, our own files
        [PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False
    )


def _metric_names(expr: str) -> set[str]:
    names = set()
    for token in METRIC_TOKEN.findall(expr):
        for suffix in HISTOGRAM_SUFFIXES:
            if token.endswith(suffix) and token.removesuffix(suffix) in KNOWN_METRICS:
                token = token.removesuffix(suffix)
        names.add(token)
    return names


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _dashboard_exprs() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in _dashboard()["panels"]
        for target in panel.get("targets", [])
    ]


def _alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


@needs_promtool
def test_promtool_accepts_the_scrape_config():
    result = _promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_accepts_the_alert_rules():
    result = _promtool("check", "rules", str(PROMETHEUS / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alert_rules())} rules found" in result.stdout


@needs_promtool
def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_say():
    result = _promtool("test", "rules", str(PROMETHEUS / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_issues_alerts_exist_and_each_has_a_unit_test():
    names = {rule["alert"] for rule in _alert_rules()}
    assert {
        "AutoIndexPricesStale",
        "AutoIndexNotPublished",
        "AutoIndexRefreshFailedTwice",
        "AutoIndexVendorBreakerOpen",
        "AutoIndexHighErrorRate",
        "AutoIndexVendorCreditsLow",
        "AutoIndexQueueBacklog",
    } <= names
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    for name in names:
        mine = [case for case in cases if case["alertname"] == name]
        assert any(case["exp_alerts"] for case in mine), f"{name} is never seen firing"
        quiet = [case for case in mine if not case["exp_alerts"]]
        assert quiet or name == "AutoIndexPricesStale", f"{name} is never seen quiet"
    for rule in _alert_rules():
        assert rule["labels"]["severity"] in {"page", "ticket"}
        assert rule["annotations"]["summary"]


def test_every_alert_queries_known_metrics_only():
    for rule in _alert_rules():
        names = _metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= KNOWN_METRICS, (rule["alert"], names - KNOWN_METRICS)


def test_the_scrape_config_reads_the_web_metrics_with_a_bearer_token_file():
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    web = next(job for job in config["scrape_configs"] if job["job_name"] == "autoindex")
    assert web["metrics_path"] == "/metrics"
    assert web["authorization"]["type"] == "Bearer"
    assert (PROMETHEUS / web["authorization"]["credentials_file"]).is_file()
    assert config["rule_files"] == ["alerts.yml"]


def test_the_dashboard_is_a_loadable_grafana_dashboard():
    dashboard = _dashboard()

    assert dashboard["uid"] == "autoindex"
    assert dashboard["title"] == "AutoIndex"
    assert isinstance(dashboard["schemaVersion"], int)
    assert dashboard["schemaVersion"] >= 36
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    occupied: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        assert panel["type"] in GRAFANA_PANEL_TYPES, panel["title"]
        position = panel["gridPos"]
        assert all(isinstance(position[key], int) for key in ("h", "w", "x", "y"))
        assert position["x"] >= 0
        assert position["x"] + position["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(position["x"], position["x"] + position["w"])
            for y in range(position["y"], position["y"] + position["h"])
        }
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids))


def test_the_dashboard_covers_the_issues_areas_with_known_metrics_only():
    rows = [panel["title"] for panel in _dashboard()["panels"] if panel["type"] == "row"]
    assert rows == [
        "Index level and freshness",
        "Refresh outcomes",
        "Vendor calls and credits",
        "API latency and errors",
        "Celery",
    ]
    used: set[str] = set()
    for title, expr in _dashboard_exprs():
        names = _metric_names(expr)
        assert names, title
        assert names <= KNOWN_METRICS, (title, names - KNOWN_METRICS)
        used |= names
    # Every series of the spec has a panel (heartbeats, pool and credits included).
    assert used >= APP_METRICS


@needs_promtool
def test_every_dashboard_query_parses_as_promql(tmp_path):
    # promtool parses the expressions of recording rules: one rule per panel query.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{number}", "expr": expr}
                    for number, (_title, expr) in enumerate(_dashboard_exprs())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump(rules))

    result = _promtool("check", "rules", str(path))

    assert result.returncode == 0, result.stdout + result.stderr
