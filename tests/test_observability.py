"""Prometheus and Grafana files: well formed, and every metric they use is exported by API or worker."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from core.processes import free_port
from core.settings import Settings
from tests.accounts import bearer, sign_up
from tests.harness import read_fresh, wait_until
from tests.workouts import workout

OPS = Path(__file__).resolve().parent.parent / "ops"
PROMETHEUS = OPS / "prometheus" / "prometheus.yml"
ALERTS = OPS / "prometheus" / "alerts.yml"
DATASOURCES = OPS / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = OPS / "grafana" / "provisioning" / "dashboards" / "ironlog.yml"
DASHBOARD = OPS / "grafana" / "dashboards" / "ironlog.json"

#: Metric names of ours and Dramatiq's; label values such as job="ironlog-api" do not match.
METRIC_NAME = re.compile(r"\b(?:ironlog|dramatiq)_[A-Za-z0-9_]+")
DURATION = re.compile(r"^\d+[smhd]$")
SEVERITIES = {"critical", "warning"}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels_of(container: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those inside (collapsed) rows."""
    found = []
    for panel in container.get("panels", []):
        found.append(panel)
        found.extend(panels_of(panel))
    return found


def dashboard_queries() -> list[str]:
    board = dashboard()
    queries = [t["expr"] for p in panels_of(board) if p["type"] != "row" for t in p["targets"]]
    for variable in board.get("templating", {}).get("list", []):
        query = variable.get("query")
        queries.append(query["query"] if isinstance(query, dict) else str(query or ""))
    return queries


def metric_names(expressions: list[str]) -> set[str]:
    return {name for expression in expressions for name in METRIC_NAME.findall(expression)}


def exported_samples(text: str) -> set[str]:
    """Every sample name in an exposition: counters' `_total`, histograms' `_bucket`, `_count`, `_sum`."""
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def test_alert_rules_are_well_formed_and_point_at_their_runbook() -> None:
    groups = load_yaml(ALERTS)["groups"]
    assert groups and all(group["name"] and group["rules"] for group in groups)
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names)), "alert names must be unique"
    for rule in alert_rules():
        name = rule["alert"]
        assert re.fullmatch(r"Ironlog[A-Z][A-Za-z]+", name), name
        assert isinstance(rule["expr"], str) and rule["expr"].strip(), name
        assert DURATION.match(str(rule["for"])), name
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        runbook = f"docs/operations.md#{name.lower()}"
        assert annotations["summary"].strip(), name
        assert runbook in annotations["description"], name
        assert annotations["runbook_url"] == runbook, name
    # The alerts the operations guide promises.
    assert {
        "IronlogApiLatencyHigh",
        "IronlogCacheHitRatioLow",
        "IronlogProjectionLagHigh",
        "IronlogUsersParked",
        "IronlogApiNotReady",
        "IronlogApiDown",
    } <= set(names)


def test_prometheus_scrapes_the_api_and_the_worker_and_loads_the_rules() -> None:
    config = load_yaml(PROMETHEUS)
    assert config["rule_files"] == [ALERTS.name]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for job, service, port in (("ironlog-api", "api", 8000), ("ironlog-worker", "worker", 9191)):
        scrape = jobs[job]
        assert scrape.get("metrics_path", "/metrics") == "/metrics"
        discovered = [(name, sd["port"]) for sd in scrape.get("dns_sd_configs", []) for name in sd["names"]]
        static = [t for sc in scrape.get("static_configs", []) for t in sc["targets"]]
        assert (service, port) in discovered or f"{service}:{port}" in static, job
    # The alerts that watch scrape targets name these jobs.
    up_jobs = set(re.findall(r'up\{job="([^"]+)"\}', ALERTS.read_text()))
    assert up_jobs and up_jobs <= set(jobs)


def test_grafana_provisions_the_datasource_and_the_dashboard_folder() -> None:
    datasources = load_yaml(DATASOURCES)["datasources"]
    assert [d["type"] for d in datasources] == ["prometheus"]
    providers = load_yaml(DASHBOARD_PROVIDERS)["providers"]
    assert providers and all(p["type"] == "file" and p["options"]["path"] for p in providers)
    uid = datasources[0]["uid"]
    board = dashboard()
    assert board["uid"] and board["title"]
    panels = [p for p in panels_of(board) if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["uid"] == uid, panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip() and target["refId"], panel["title"]
            assert target.get("datasource", panel["datasource"])["uid"] == uid, panel["title"]
    titles = " ".join(p["title"].lower() for p in panels)
    for topic in ("request rate", "latency", "error", "cache hit", "lag", "parked", "dramatiq", "pool"):
        assert topic in titles, topic


def test_the_expressions_name_only_metrics_of_ours_or_dramatiqs() -> None:
    used = metric_names(dashboard_queries() + [rule["expr"] for rule in alert_rules()])
    # A sanity check on the extraction itself: the names the issue asks the panels to show.
    assert {
        "ironlog_http_request_duration_seconds_bucket",
        "ironlog_cache_requests_total",
        "ironlog_projection_lag_seconds_bucket",
        "ironlog_projection_lagging_users",
        "ironlog_projection_parked_users",
        "ironlog_events_projected_total",
        "dramatiq_messages_total",
        "ironlog_db_pool_connections",
        "ironlog_ready",
    } <= used


#: Series that exist only where DATABASE_REPLICA_URLS names replicas: tests/replica shows them exported.
ONLY_WITH_REPLICAS = {
    "ironlog_db_reads_total",
    "ironlog_db_replica_in_rotation",
    "ironlog_db_replica_lag_seconds",
}


@pytest.mark.e2e
async def test_every_metric_the_alerts_and_the_dashboard_use_is_exported(
    settings: Settings, start_ironlog: Any, start_worker: Any
) -> None:
    worker = start_worker()
    port = free_port()
    api = start_ironlog(["api", "--port", str(port), "--workers", "2"])
    base = f"http://127.0.0.1:{port}"

    def api_answers() -> bool:
        try:
            return httpx.get(f"{base}/health/live", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(api_answers, 60, f"the API to answer\n{api.log()}")

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        signed_in = await sign_up(client)
        headers = bearer(signed_in)
        written = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=headers)
        assert written.status_code == 201, written.text
        token = written.headers["x-consistency-token"]
        detail = await read_fresh(client, written.headers["location"], headers, token)
        assert detail.status_code == 200
        assert (await read_fresh(client, "/v1/stats/dashboard", headers, token)).status_code == 200
        assert (await client.get("/v1/stats/dashboard", headers=headers)).status_code == 200  # a hit
        assert (await client.get("/health/ready")).status_code == 200
        assert (await client.get("/v1/no-such-route")).status_code == 404

        # A message that always fails: Dramatiq's error, retry and dead-letter series appear.
        from workers.enqueue import Enqueuer

        enqueuer = Enqueuer(settings)
        try:
            assert await enqueuer.send(enqueuer.actors.project_user, "not-a-user-id")
        finally:
            enqueuer.close()

        def scrape_worker() -> str:
            url = f"http://127.0.0.1:{worker.metrics_port}/metrics"
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    return str(answer.read().decode())
            except OSError:  # Dramatiq's exposition server is a process of its own, up a little later
                return ""

        wait_until(
            lambda: "dramatiq_message_rejects_total{" in scrape_worker(),
            30,
            "the failing message to be dead-lettered",
        )
        worker_metrics = scrape_worker()
        api_metrics = (await client.get("/metrics")).text

    assert 'ironlog_ready{check="postgres"} 1.0' in api_metrics
    assert 'ironlog_db_pool_connections{role="api",state="in_use"}' in api_metrics
    assert 'ironlog_db_pool_connections{role="worker",state="in_use"}' in worker_metrics
    assert 'ironlog_cache_requests_total{model="dashboard",result="hit"}' in api_metrics
    exported = exported_samples(api_metrics) | exported_samples(worker_metrics)
    used = metric_names(dashboard_queries() + [rule["expr"] for rule in alert_rules()])
    missing = sorted(used - exported - ONLY_WITH_REPLICAS)
    assert not missing, f"used by the alerts or the dashboard, exported by neither API nor worker: {missing}"
