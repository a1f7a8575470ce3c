"""Static checks of the deployment files: ops/compose.yaml, ops/k8s/ and ops/nginx.conf.

Nothing here starts a container or reaches a network: the files are parsed, the application's
own settings loader reads the environment each role would get, and the Kubernetes manifests are
validated against the API schemas that kubernetes-validate bundles.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from api.request_context import REQUEST_ID_HEADER
from core.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
OPS = ROOT / "ops"
K8S = OPS / "k8s"
DOCKERFILE = (ROOT / "Dockerfile").read_text()
KUBERNETES_VERSION = "1.32.0"
APP_ROLES = ("migrate", "api", "worker")
SECRET_NAME = "ironlog-secrets"
PUBLIC_PREFIXES = ("/v1", "/health", "/schema")
#: A stand-in for every value the environment must supply: long enough for JWT_SECRET.
DUMMY = "dummy0value0long0enough0for0a0production0jwt0secret"


# --- the image's own environment -------------------------------------------------------------


def _image_environment() -> dict[str, str]:
    """ENV of the Dockerfile's runtime stage: what every container starts with."""
    runtime = DOCKERFILE.split(" AS runtime", 1)[1]
    text = runtime.replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(pair.partition("=")[::2] for pair in line[4:].split() if "=" in pair)
    return env


def _image_uid() -> int:
    users = re.findall(r"^USER (\d+)", DOCKERFILE, re.MULTILINE)
    return int(users[-1])


# --- compose ------------------------------------------------------------------------------------

_REFERENCE = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$", re.DOTALL)


class MissingVariable(LookupError):
    """A `${VAR:?message}` whose variable is unset: compose refuses to start."""


def interpolate(text: str, environ: Mapping[str, str]) -> str:
    """Compose's variable interpolation: $VAR, ${VAR}, ${VAR:-default}, ${VAR:?error}, $$."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group("bare"):
            return environ.get(match.group("bare"), "")
        braced = _BRACED.match(match.group("braced") or "")
        assert braced, f"malformed reference {match.group(0)}"
        name, op, arg = braced.group("name"), braced.group("op") or "", braced.group("arg") or ""
        value = environ.get(name)
        is_set = value is not None and (value != "" or not op.startswith(":"))
        if op.endswith("-"):
            return value if is_set and value is not None else arg
        if op.endswith("?"):
            if not is_set or value is None:
                raise MissingVariable(f"{name}: {arg}")
            return value
        if op.endswith("+"):
            return arg if is_set else ""
        return value or ""

    return _REFERENCE.sub(replace, text)


def _resolve(node: Any, environ: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, environ)
    if isinstance(node, dict):
        return {key: _resolve(value, environ) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, environ) for item in node]
    return node


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


RAW_COMPOSE: dict[str, Any] = yaml.safe_load((OPS / "compose.yaml").read_text())
REQUIRED_VARIABLES = {
    braced.group("name")
    for text in _strings(RAW_COMPOSE)
    for match in _REFERENCE.finditer(text)
    if (braced := _BRACED.match(match.group("braced") or "")) and (braced.group("op") or "").endswith("?")
}
COMPOSE: dict[str, Any] = _resolve(RAW_COMPOSE, dict.fromkeys(REQUIRED_VARIABLES, DUMMY))
SERVICES: dict[str, Any] = COMPOSE["services"]


def _environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def _compose_settings(role: str) -> Settings:
    return load_settings({**_image_environment(), **_environment_of(SERVICES[role])})


def _bind_sources() -> dict[str, list[str]]:
    """Host paths bind-mounted into each service (relative to ops/, as compose resolves them)."""
    sources: dict[str, list[str]] = {}
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("."):
                sources.setdefault(name, []).append(source)
    return sources


def _mounted_at(service: str, host_path: str) -> PurePosixPath | None:
    """Where `host_path` (relative to ops/) appears inside `service`, if it is bind-mounted."""
    wanted = (OPS / host_path).resolve()
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if not source.startswith("."):
            continue
        mounted = (OPS / source).resolve()
        if wanted == mounted or mounted in wanted.parents:
            return PurePosixPath(target) / wanted.relative_to(mounted).as_posix()
    return None


def test_secrets_come_from_the_environment_and_are_required() -> None:
    assert {"JWT_SECRET", "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} <= REQUIRED_VARIABLES
    with pytest.raises(MissingVariable, match="JWT_SECRET"):
        _resolve(RAW_COMPOSE, dict.fromkeys(REQUIRED_VARIABLES - {"JWT_SECRET"}, DUMMY))
    for name, service in RAW_COMPOSE["services"].items():
        for key, value in _environment_of(service).items():
            if re.search(r"SECRET|PASSWORD", key):
                assert value.startswith("${"), f"{name}: {key} must come from the environment"
            if key == "DATABASE_URL":
                assert "${POSTGRES_PASSWORD" in value, f"{name}: the database password is written down"


@pytest.mark.parametrize("role", APP_ROLES)
def test_each_role_loads_production_settings(role: str) -> None:
    assert _environment_of(SERVICES[role])["IRONLOG_ENV"] == "production"
    settings = _compose_settings(role)
    assert settings.is_production
    assert settings.api.diagnostics is False
    assert settings.log_format == "json"
    assert settings.jwt_secret == DUMMY


@pytest.mark.parametrize("role", APP_ROLES)
@pytest.mark.parametrize("variable", ["DATABASE_URL", "REDIS_URL", "BROKER_URL"])
def test_service_urls_name_compose_services(role: str, variable: str) -> None:
    url = _environment_of(SERVICES[role])[variable]
    assert urlsplit(url).hostname in SERVICES


def test_broker_is_a_separate_redis_with_an_append_only_file() -> None:
    settings = _compose_settings("worker")
    assert settings.redis.url is not None and settings.redis.broker_url is not None
    cache = urlsplit(settings.redis.url).hostname
    broker = urlsplit(settings.redis.broker_url).hostname
    assert cache != broker
    command = SERVICES[str(broker)]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(volume.endswith(":/data") for volume in SERVICES[str(broker)]["volumes"])


def test_every_dependency_exists_and_can_meet_its_condition() -> None:
    for name, service in SERVICES.items():
        for target, spec in (service.get("depends_on") or {}).items():
            assert target in SERVICES, f"{name} depends on unknown {target}"
            condition = spec.get("condition", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[target], f"{name} waits for {target} to be healthy"
            elif condition == "service_completed_successfully":
                assert SERVICES[target].get("restart") == "no", f"{target} must run once"


def test_app_waits_for_migrations_and_datastores() -> None:
    for role in ("api", "worker"):
        depends = SERVICES[role]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        for store in ("postgres", "redis-cache", "redis-broker"):
            assert depends[store]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["postgres", "redis-cache", "redis-broker", "api", "worker", "nginx"])
def test_service_has_a_healthcheck(name: str) -> None:
    assert SERVICES[name]["healthcheck"]["test"]


def test_api_readiness_is_its_healthcheck() -> None:
    assert "/health/ready" in " ".join(SERVICES["api"]["healthcheck"]["test"])


def test_two_api_replicas_sit_behind_nginx_only() -> None:
    assert SERVICES["api"]["deploy"]["replicas"] == 2
    assert "ports" not in SERVICES["api"]
    published = {name for name, service in SERVICES.items() if service.get("ports")}
    assert "nginx" in published
    for name in published - {"nginx"}:
        for port in SERVICES[name]["ports"]:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this host"


def test_api_trusts_forwarded_addresses_from_the_nginx_network_only() -> None:
    settings = _compose_settings("api")
    edge_subnets = [c["subnet"] for c in COMPOSE["networks"]["edge"]["ipam"]["config"]]
    assert list(settings.rate_limits.trusted_proxies) == edge_subnets
    assert SERVICES["nginx"]["networks"] == ["edge"]
    assert settings.rate_limits.client_ip_header == "x-forwarded-for"


def test_worker_serves_metrics_to_other_containers() -> None:
    settings = _compose_settings("worker")
    assert settings.worker.metrics_host == "0.0.0.0"
    assert str(settings.worker.metrics_port) in SERVICES["worker"]["expose"]


def test_bind_mounts_name_files_in_the_repository() -> None:
    sources = _bind_sources()
    assert sources["nginx"] == ["./nginx.conf"]
    for name, paths in sources.items():
        for path in paths:
            assert (OPS / path).resolve().is_relative_to(OPS), f"{name} mounts {path} from outside ops/"
            if not path.startswith(("./prometheus", "./grafana")):
                assert (OPS / path).exists(), f"{name} mounts missing {path}"


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("prometheus", "prometheus/prometheus.yml"),
        ("prometheus", "prometheus/alerts.yml"),
        ("grafana", "grafana/provisioning/datasources/prometheus.yml"),
        ("grafana", "grafana/provisioning/dashboards/ironlog.yml"),
        ("grafana", "grafana/dashboards/ironlog.json"),
    ],
)
def test_monitoring_files_are_mounted(service: str, path: str) -> None:
    assert _mounted_at(service, path) is not None


def _monitoring_file(path: str) -> Any:
    file = OPS / path
    if not file.exists():
        pytest.skip(f"ops/{path} is not in this tree yet")
    return yaml.safe_load(file.read_text())


def test_prometheus_loads_the_mounted_alert_rules() -> None:
    config = _monitoring_file("prometheus/prometheus.yml")
    config_dir = PurePosixPath("/etc/prometheus")
    assert _mounted_at("prometheus", "prometheus/prometheus.yml") == config_dir / "prometheus.yml"
    alerts = _mounted_at("prometheus", "prometheus/alerts.yml")
    rule_files = [config_dir / rule for rule in config.get("rule_files", [])]
    assert alerts in rule_files


def test_prometheus_scrapes_compose_services_on_their_ports() -> None:
    config = _monitoring_file("prometheus/prometheus.yml")
    discovered = [
        (name, str(sd["port"]))
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
        for name in sd["names"]
    ]
    assert {name for name, _ in discovered} >= {"api", "worker"}
    for name, port in discovered:
        assert port in SERVICES[name]["expose"], f"{name} does not expose {port}"


def test_every_alert_has_a_runbook_section() -> None:
    rules = _monitoring_file("prometheus/alerts.yml")
    alerts = [rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
    headings = set(re.findall(r"^#+ (\S+)\s*$", (ROOT / "docs" / "operations.md").read_text(), re.MULTILINE))
    assert alerts and set(alerts) <= headings


def test_grafana_reads_the_mounted_dashboards_and_datasource() -> None:
    providers = _monitoring_file("grafana/provisioning/dashboards/ironlog.yml")["providers"]
    dashboards = _mounted_at("grafana", "grafana/dashboards/ironlog.json")
    assert dashboards is not None
    assert any(PurePosixPath(p["options"]["path"]) in (dashboards, dashboards.parent) for p in providers)
    datasources = _monitoring_file("grafana/provisioning/datasources/prometheus.yml")["datasources"]
    hosts = {urlsplit(d["url"]).hostname for d in datasources if d.get("type") == "prometheus"}
    assert hosts and hosts <= set(SERVICES)


# --- Kubernetes -------------------------------------------------------------------------------

MANIFEST_FILES = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
DOCUMENTS = [
    (path.name, document)
    for path in MANIFEST_FILES
    for document in yaml.safe_load_all(path.read_text())
    if document
]
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
WORKLOADS = {doc["metadata"]["name"]: doc for _, doc in DOCUMENTS if doc["kind"] in WORKLOAD_KINDS}
CONFIG_MAPS = {doc["metadata"]["name"]: doc for _, doc in DOCUMENTS if doc["kind"] == "ConfigMap"}


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in DOCUMENTS if doc["kind"] == kind]


def _pod_spec(workload: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def _containers(workload: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = _pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def _container_environment(container: Mapping[str, Any]) -> dict[str, str]:
    """What the container sees: its ConfigMaps, plain values, and a stand-in for each secret."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(CONFIG_MAPS[source["configMapRef"]["name"]]["data"])
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        elif "secretKeyRef" in variable["valueFrom"] and not variable["valueFrom"]["secretKeyRef"].get(
            "optional"
        ):
            env[variable["name"]] = _stand_in(variable["name"])
    return env


def _stand_in(name: str) -> str:
    return {
        "DATABASE_URL": "postgresql://ironlog:secret@postgres.example:5432/ironlog",
        "REDIS_URL": "rediss://:secret@cache.example:6379/0",
        "BROKER_URL": "rediss://:secret@broker.example:6379/0",
    }.get(name, DUMMY)


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


@pytest.mark.parametrize(
    ("name", "document"), DOCUMENTS, ids=[f"{n}:{d['kind']}:{d['metadata']['name']}" for n, d in DOCUMENTS]
)
def test_manifest_is_valid_kubernetes(name: str, document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    assert document["metadata"].get("namespace", "ironlog") == "ironlog"


def test_kustomization_lists_every_manifest_and_nothing_else() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources))
    assert set(resources) == {path.name for path in MANIFEST_FILES}
    assert kustomization["namespace"] == "ironlog"


def test_no_secret_is_committed_only_referenced() -> None:
    assert _of_kind("Secret") == []
    secret_names = {
        "DATABASE_URL",
        "REDIS_URL",
        "BROKER_URL",
        "JWT_SECRET",
        "IRONLOG_ANALYST_PASSWORD",
        "SENTRY_DSN",
    }
    for config_map in CONFIG_MAPS.values():
        assert not secret_names & set(config_map["data"])
    for workload in WORKLOADS.values():
        for container in _containers(workload):
            for variable in container.get("env", []):
                if variable["name"] in secret_names:
                    assert variable["valueFrom"]["secretKeyRef"]["name"] == SECRET_NAME


def test_ingress_routes_only_public_paths_to_existing_service_ports() -> None:
    ingresses = _of_kind("Ingress")
    assert ingresses
    services = {doc["metadata"]["name"]: doc for doc in _of_kind("Service")}
    for ingress in ingresses:
        assert "defaultBackend" not in ingress["spec"]
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                route = path["path"]
                assert path["pathType"] in ("Prefix", "Exact")
                assert route != "/" and not route.startswith("/metrics")
                assert any(route == p or route.startswith(p + "/") for p in PUBLIC_PREFIXES), route
                backend = path["backend"]["service"]
                port_names = {port["name"] for port in services[backend["name"]]["spec"]["ports"]}
                assert backend["port"]["name"] in port_names


def test_every_container_has_requests_and_limits() -> None:
    for name, workload in WORKLOADS.items():
        for container in _containers(workload):
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{name}/{container['name']}"


def test_api_has_readiness_and_liveness_probes() -> None:
    (api,) = _pod_spec(WORKLOADS["ironlog-api"])["containers"]
    assert api["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert api["livenessProbe"]["httpGet"]["path"] == "/health/live"


def test_pods_run_as_the_image_user_on_a_read_only_root() -> None:
    data_dir = _image_environment()["IRONLOG_DATA_DIR"]
    for name, workload in WORKLOADS.items():
        pod = _pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == _image_uid()
        assert pod["automountServiceAccountToken"] is False
        for container in _containers(workload):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            mounts = {mount["mountPath"] for mount in container.get("volumeMounts", [])}
            assert {data_dir, "/tmp"} <= mounts, f"{name}: the data dir and /tmp must be writable"


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_workload_loads_production_settings(name: str) -> None:
    for container in _containers(WORKLOADS[name]):
        settings = load_settings({**_image_environment(), **_container_environment(container)})
        assert settings.is_production
        assert settings.api.diagnostics is False


def test_worker_metrics_port_is_the_one_the_pod_exposes() -> None:
    (worker,) = _pod_spec(WORKLOADS["ironlog-worker"])["containers"]
    settings = load_settings({**_image_environment(), **_container_environment(worker)})
    assert settings.worker.metrics_host == "0.0.0.0"
    ports = {port["name"]: port["containerPort"] for port in worker["ports"]}
    assert ports["metrics"] == settings.worker.metrics_port
    assert worker["livenessProbe"]["httpGet"]["port"] == "metrics"


def test_services_select_pods_and_their_named_ports() -> None:
    for service in _of_kind("Service"):
        selected = [
            w
            for w in WORKLOADS.values()
            if _selects(service["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])
        ]
        assert selected, service["metadata"]["name"]
        for workload in selected:
            names = {port["name"] for c in _containers(workload) for port in c.get("ports", [])}
            assert {port["targetPort"] for port in service["spec"]["ports"]} <= names


def test_autoscaler_and_disruption_budget_cover_the_api() -> None:
    (hpa,) = _of_kind("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "ironlog-api")
    assert hpa["spec"]["minReplicas"] >= 2
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert "replicas" not in WORKLOADS["ironlog-api"]["spec"], "the autoscaler owns the replica count"
    api_labels = WORKLOADS["ironlog-api"]["spec"]["template"]["metadata"]["labels"]
    budgets = _of_kind("PodDisruptionBudget")
    assert any(_selects(pdb["spec"]["selector"]["matchLabels"], api_labels) for pdb in budgets)


def test_the_first_apply_leaves_out_only_what_must_wait_for_migrations() -> None:
    """docs/operations.md applies `-l 'ironlog.app/after-migrate!=true'` before the migration job."""
    waiting = {
        doc["metadata"]["name"]
        for _, doc in DOCUMENTS
        if doc["metadata"].get("labels", {}).get("ironlog.app/after-migrate") == "true"
    }
    assert waiting == {"ironlog-api", "ironlog-worker"}
    assert {WORKLOADS[name]["kind"] for name in waiting} == {"Deployment"}


def test_network_policies_admit_only_the_ingress_controller_and_monitoring() -> None:
    policies = _of_kind("NetworkPolicy")
    assert any(
        p["spec"]["podSelector"] == {}
        and "Ingress" in p["spec"]["policyTypes"]
        and not p["spec"].get("ingress")
        for p in policies
    ), "a default deny of ingress for the whole namespace"
    api_labels = WORKLOADS["ironlog-api"]["spec"]["template"]["metadata"]["labels"]
    sources: dict[str, set[int]] = {}
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            for peer in rule["from"]:
                namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                sources.setdefault(namespace, set()).update(p["port"] for p in rule["ports"])
                if namespace == "ingress-nginx":
                    assert _selects(policy["spec"]["podSelector"]["matchLabels"], api_labels)
    assert sources == {"ingress-nginx": {8000}, "monitoring": {8000, 9191}}


# --- nginx ------------------------------------------------------------------------------------

NGINX_TEXT = (OPS / "nginx.conf").read_text()
_TOKEN = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[{};]|[^\s{};\"']+")


@dataclass
class Directive:
    name: str
    args: list[str]
    block: list[Directive] | None = None

    def all(self, name: str) -> list[Directive]:
        return [d for d in self.block or [] if d.name == name]

    def one(self, name: str) -> Directive:
        (found,) = self.all(name)
        return found

    def values(self, name: str) -> list[list[str]]:
        return [d.args for d in self.all(name)]

    def entries(self) -> list[list[str]]:
        """A block's lines as words, for blocks such as `map` whose lines are not directives."""
        return [[d.name, *d.args] for d in self.block or []]


def parse_nginx(text: str) -> Directive:
    """nginx's configuration as a tree of directives (comments dropped, quotes kept)."""
    text = re.sub(r"(?m)^\s*#.*$|\s#.*$", "", text)
    root = Directive("main", [], [])
    stack = [root]
    words: list[str] = []
    for token in _TOKEN.findall(text):
        if token == ";":
            assert stack[-1].block is not None
            stack[-1].block.append(Directive(words[0], words[1:]))
            words = []
        elif token == "{":
            block = Directive(words[0], words[1:], [])
            assert stack[-1].block is not None
            stack[-1].block.append(block)
            stack.append(block)
            words = []
        elif token == "}":
            stack.pop()
        else:
            words.append(token)
    assert len(stack) == 1 and not words, "unbalanced nginx.conf"
    return root


NGINX = parse_nginx(NGINX_TEXT)
HTTP = NGINX.one("http")
(SERVER,) = HTTP.all("server")


def route(uri: str) -> Directive:
    """The location nginx picks for `uri`: exact, then longest prefix (^~ stops), then regex."""
    locations = SERVER.all("location")
    for location in locations:
        if location.args[:1] == ["="] and location.args[1] == uri:
            return location
    prefixes = [loc for loc in locations if len(loc.args) == 1 or loc.args[0] == "^~"]
    matching = [loc for loc in prefixes if uri.startswith(loc.args[-1])]
    longest = max(matching, key=lambda loc: len(loc.args[-1]), default=None)
    if longest is not None and longest.args[0] == "^~":
        return longest
    for location in locations:
        if location.args[0] in ("~", "~*"):
            flags = re.IGNORECASE if location.args[0] == "~*" else 0
            if re.search(location.args[1], uri, flags):
                return location
    assert longest is not None, f"no location for {uri}"
    return longest


def _proxied(location: Directive) -> bool:
    return bool(location.all("proxy_pass"))


@pytest.mark.parametrize("uri", ["/metrics", "/", "/metrics/", "/internal", "/v1"])
def test_nginx_does_not_route(uri: str) -> None:
    assert not _proxied(route(uri))


@pytest.mark.parametrize(
    "uri",
    ["/v1/workouts", "/v1/stats/dashboard", "/v1/stream", "/v1/imports", "/health/ready", "/schema"],
)
def test_nginx_routes_the_public_api(uri: str) -> None:
    assert route(uri).one("proxy_pass").args == ["http://ironlog_api"]


def test_nginx_streams_server_sent_events_unbuffered() -> None:
    stream = route("/v1/stream")
    assert stream.args == ["=", "/v1/stream"]
    assert stream.values("proxy_buffering") == [["off"]]
    assert stream.values("gzip") == [["off"]]
    (timeout,) = stream.values("proxy_read_timeout")
    assert timeout[0].endswith("h") or int(timeout[0].rstrip("s")) >= 60


def test_nginx_keeps_upstream_connections_alive() -> None:
    (upstream,) = HTTP.all("upstream")
    assert upstream.args == ["ironlog_api"]
    assert int(upstream.one("keepalive").args[0]) > 0
    assert SERVER.values("proxy_http_version") == [["1.1"]]
    assert ["Connection", '""'] in SERVER.values("proxy_set_header")
    for location in SERVER.all("location"):
        assert not location.all("proxy_set_header"), "a location's own headers would drop the server's"


def test_nginx_takes_16m_bodies_only_for_imports() -> None:
    assert HTTP.values("client_max_body_size") == [["1m"]]
    for location in SERVER.all("location"):
        sizes = location.values("client_max_body_size")
        assert sizes == ([["16m"]] if location is route("/v1/imports") else [])


def test_nginx_forwards_request_id_and_client_address_as_the_app_reads_them() -> None:
    headers = {args[0].lower(): args[1] for args in SERVER.values("proxy_set_header")}
    client_ip_header = load_settings({}).rate_limits.client_ip_header
    assert headers[client_ip_header] == "$remote_addr"
    request_id = headers[REQUEST_ID_HEADER]
    (mapping,) = [m for m in HTTP.all("map") if m.args[1] == request_id]
    assert ['""', "$request_id"] in mapping.entries(), "nginx makes an id when the client sent none"


def test_nginx_hides_its_version_and_compresses_json() -> None:
    assert HTTP.values("server_tokens") == [["off"]]
    assert HTTP.values("gzip") == [["on"]]
    assert "application/json" in HTTP.one("gzip_types").args


def test_nginx_keeps_versioned_etags_strong() -> None:
    for uri in ("/v1/workouts/3f2b1c9e-0d7a-4e43-a1b6-c0f9e8d7c6b5", "/v1/routines/x", "/v1/exercises/x"):
        assert route(uri).values("gzip") == [["off"]], uri


def _nginx_version() -> tuple[int, ...]:
    nginx = shutil.which("nginx")
    if nginx is None:
        pytest.skip("nginx is not installed")
    output = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=True).stderr
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", output)
    assert found, output
    return tuple(int(part) for part in found.groups())


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    version = _nginx_version()
    text = NGINX_TEXT.replace("server api:8000", "server 127.0.0.1:8000")  # no Docker DNS here
    text = text.replace("pid /tmp/nginx.pid;", f"pid {tmp_path / 'nginx.pid'};")
    if version < (1, 27, 3):  # older nginx has no `resolve` on upstream servers
        text = text.replace(" resolve ", " ")
    config = tmp_path / "nginx.conf"
    config.write_text(text)
    command = ["nginx", "-t", "-q", "-c", str(config), "-e", "stderr"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr


# --- backups ------------------------------------------------------------------------------------

BACKUP_COMPONENT = K8S / "postgres-backup"


def _pgbackrest_stanzas(text: str) -> set[str]:
    return {name for name in re.findall(r"^\[([\w-]+)\]\s*$", text, re.MULTILINE) if name != "global"}


def test_postgres_archives_every_wal_segment_into_the_backup_repository() -> None:
    command = " ".join(SERVICES["postgres"]["command"])
    assert "archive_mode=on" in command and "wal_level=replica" in command
    stanza = re.search(r"archive_command=pgbackrest --stanza=(\S+) archive-push %p", command)
    assert stanza is not None
    assert stanza.group(1) in _pgbackrest_stanzas((OPS / "postgres" / "pgbackrest.conf").read_text())
    repository = "pgbackrest:/var/lib/pgbackrest"
    assert repository in SERVICES["postgres"]["volumes"] and repository in SERVICES["backup"]["volumes"]
    assert "pgdata:/var/lib/postgresql/data:ro" in SERVICES["backup"]["volumes"]


def test_the_cluster_backup_component_is_valid_and_names_the_archived_stanza() -> None:
    kustomization = yaml.safe_load((BACKUP_COMPONENT / "kustomization.yaml").read_text())
    files = {path.name for path in BACKUP_COMPONENT.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    documents = [doc for name in files for doc in yaml.safe_load_all((BACKUP_COMPONENT / name).read_text())]
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    config = next(doc for doc in documents if doc["kind"] == "ConfigMap")["data"]["pgbackrest.conf"]
    jobs = [doc for doc in documents if doc["kind"] == "CronJob"]
    assert {job["metadata"]["name"] for job in jobs} == {"postgres-backup-full", "postgres-backup-diff"}
    for job in jobs:
        command = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
        assert f"--stanza={next(iter(_pgbackrest_stanzas(config)))}" in command


def test_nginx_states_the_limits_uvicorn_leaves_open() -> None:
    # RELIABILITY.md, "Server limits": uvicorn bounds no header size or count and times out no slow
    # head; these are the limits that hold in front of it.
    assert HTTP.values("large_client_header_buffers") == [["4", "8k"]]
    assert HTTP.values("client_header_timeout") == [["15s"]]
    assert HTTP.values("client_body_timeout") == [["30s"]]
    assert HTTP.values("client_max_body_size") == [["1m"]]
    assert route("/v1/imports").values("client_max_body_size") == [["16m"]]


def test_nginx_lets_go_of_idle_upstream_connections_before_the_api_does() -> None:
    from api.cli import KEEP_ALIVE_S

    (upstream,) = HTTP.all("upstream")
    (timeout,) = upstream.values("keepalive_timeout")
    assert int(timeout[0].rstrip("s")) < KEEP_ALIVE_S


def test_the_replica_streams_from_the_primary_which_admits_it() -> None:
    replica = SERVICES["postgres-replica"]
    dockerfile = (OPS / "postgres" / "Dockerfile").read_text()
    entrypoint = (OPS / "postgres" / "replica-entrypoint.sh").read_text()
    admission = (OPS / "postgres" / "replication.sh").read_text()
    assert replica["entrypoint"] == ["replica-entrypoint"]
    assert "replica-entrypoint.sh /usr/local/bin/replica-entrypoint" in dockerfile
    assert "replication.sh /docker-entrypoint-initdb.d/" in dockerfile
    assert "pg_basebackup -h postgres" in entrypoint and " -R " in entrypoint
    assert "synchronous_standby_names=" in entrypoint  # the standby's own role, not the primary's
    assert "host replication ${POSTGRES_USER}" in admission
    assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert replica["environment"]["POSTGRES_USER"] == SERVICES["postgres"]["environment"]["POSTGRES_USER"]
    # The app reads on it only when told to: the setting is passed through, empty by default.
    assert "DATABASE_REPLICA_URLS" in RAW_COMPOSE["x-ironlog-environment"]


#: Compose's own: the network nginx trusts and the port it publishes; Kubernetes has its ingress.
COMPOSE_ONLY = {"IRONLOG_EDGE_SUBNET", "IRONLOG_HTTP_PORT"}


def test_kubernetes_can_set_every_setting_compose_sets() -> None:
    """An operator moving from compose to Kubernetes finds each setting there too (a secret may go to
    the one workload that uses it: the analyst's password to the migration job)."""
    containers = [container for workload in WORKLOADS.values() for container in _containers(workload)]
    seen = {name for container in containers for name in _container_environment(container)}
    seen |= {variable["name"] for container in containers for variable in container.get("env", [])}
    compose = {
        name for role in APP_ROLES for name in _environment_of(SERVICES[role]) if name.startswith("IRONLOG_")
    }
    assert compose - COMPOSE_ONLY - seen == set()
