"""Headers on every response, request ids, and one log line per request."""

from __future__ import annotations

from typing import Any

import pytest
import structlog

SECURITY_HEADERS = {
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/health/live", 200),
        ("GET", "/nowhere", 404),
        ("GET", "/probe/items/1?limit=x", 422),
        ("GET", "/probe/crash", 500),
        ("GET", "/probe/not-modified", 304),
    ],
)
async def test_security_headers_are_on_every_response(
    client: Any, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-request-id"]


async def test_client_request_id_is_returned(client: Any) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": "phone-42.retry:1"})
    assert response.headers["x-request-id"] == "phone-42.retry:1"


@pytest.mark.parametrize("bad", ["", "has spaces", "x" * 200, "semi;colon"])
async def test_malformed_request_id_is_replaced(client: Any, bad: str) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": bad})
    generated = response.headers["x-request-id"]
    assert generated != bad and len(generated) == 32


async def test_each_request_gets_its_own_generated_id(client: Any) -> None:
    first = await client.get("/health/live")
    second = await client.get("/health/live")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_one_log_line_per_request_with_route_template(client: Any) -> None:
    with structlog.testing.capture_logs() as logs:
        response = await client.get("/probe/items/12", headers={"X-Request-ID": "req-line-1"})
    lines = [entry for entry in logs if entry["event"] == "request"]
    assert len(lines) == 1
    line = lines[0]
    assert line["route"] == "/probe/items/{item_id}"
    assert line["method"] == "GET" and line["status"] == response.status_code == 200
    assert line["request_id"] == "req-line-1"
    assert line["duration_ms"] >= 0


async def test_failed_requests_are_logged_with_their_status(client: Any) -> None:
    with structlog.testing.capture_logs() as logs:
        await client.get("/probe/items/3?limit=nope")
        await client.get("/not/a/route")
    statuses = [(entry["route"], entry["status"]) for entry in logs if entry["event"] == "request"]
    assert statuses == [("/probe/items/{item_id}", 422), ("unmatched", 404)]


async def test_metrics_show_timed_routes_and_count_unmatched_ones(client: Any) -> None:
    await client.get("/probe/items/5")
    await client.get("/no/such/route")
    text = (await client.get("/metrics")).text
    assert (
        'ironlog_http_request_duration_seconds_count{method="GET",route="/probe/items/{item_id}",status="200"}'
        in text
    )
    assert 'ironlog_http_unmatched_requests_total{method="GET",status="404"}' in text
    assert 'route="unmatched"' not in text


async def test_cors_is_off_unless_origins_are_configured(client: Any) -> None:
    response = await client.get("/health/live", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


async def test_openapi_schema_lists_operations_and_bearer_scheme(client: Any) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    operation_ids = {
        op["operationId"] for path in schema["paths"].values() for op in path.values() if "operationId" in op
    }
    assert {"getLiveness", "getReadiness", "getMetrics", "sendPing"} <= operation_ids
    ready = schema["paths"]["/health/ready"]["get"]
    assert ready["security"] == [{}]
    assert "application/problem+json" in ready["responses"]["503"]["content"]
    assert "examples" in ready["responses"]["503"]["content"]["application/problem+json"]
    docs = await client.get("/schema")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]


async def test_configured_cors_origin_is_allowed(settings: Any) -> None:
    import msgspec
    from litestar.testing import AsyncTestClient

    from api.app import create_app

    api = msgspec.structs.replace(settings.api, cors_origins=("https://app.ironlog.example",))
    app = create_app(msgspec.structs.replace(settings, api=api))
    async with AsyncTestClient(app=app) as cors_client:
        allowed = await cors_client.get("/health/live", headers={"Origin": "https://app.ironlog.example"})
        other = await cors_client.get("/health/live", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.ironlog.example"
    assert "access-control-allow-origin" not in other.headers
