"""Error tracking: off without SENTRY_DSN; with it, events carry request and user ids and nothing personal."""

from __future__ import annotations

import gzip
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dramatiq
import msgspec
import pytest
import sentry_sdk
import structlog
from litestar.testing import AsyncTestClient
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.dramatiq import DramatiqIntegration
from sentry_sdk.integrations.litestar import LitestarIntegration
from sentry_sdk.transport import Transport

from api.app import create_app
from core.sentry import before_send, init_error_tracking, scrub
from core.settings import SentrySettings, Settings, SettingsError, load_settings
from tests.accounts import PASSWORD, bearer, sign_up
from tests.harness import wait_until
from tests.probes import PROBES
from workers.broker import build_broker, close, queue_name
from workers.context import LogContext
from workers.enqueue import Enqueuer

#: A DSN no event is ever sent to: the tests hand Sentry a transport that keeps envelopes in memory.
DSN = "https://public-key@sentry.invalid/42"


class KeptEnvelopes(Transport):
    """A Sentry transport that keeps what it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []
        self._lock = threading.Lock()

    def capture_envelope(self, envelope: Envelope) -> None:
        with self._lock:
            self.envelopes.append(envelope)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            found = [envelope.get_event() for envelope in self.envelopes]
        return [dict(event) for event in found if event is not None]

    def serialized(self) -> bytes:
        with self._lock:
            return b"".join(envelope.serialize() for envelope in self.envelopes)


class FakeIngest:
    """An HTTP server that takes envelopes as Sentry's ingestion endpoint does, for real processes."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        received = self.envelopes

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                received.append(Envelope.deserialize(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.dsn = f"http://public-key@127.0.0.1:{self._server.server_address[1]}/7"

    def errors(self) -> list[dict[str, Any]]:
        events = [envelope.get_event() for envelope in list(self.envelopes)]
        return [dict(event) for event in events if event is not None and event.get("exception")]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def with_dsn(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, sentry=SentrySettings(dsn=DSN, environment="test"))


def _stop_sentry() -> None:
    client = sentry_sdk.get_client()
    if client.is_active():
        client.close()
    sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
def kept() -> Iterator[KeptEnvelopes]:
    """Sentry running in this process with an in-memory transport; stopped afterwards."""
    transport = KeptEnvelopes()
    yield transport
    _stop_sentry()


def test_without_a_dsn_nothing_is_initialised(settings: Settings) -> None:
    assert settings.sentry.dsn is None
    assert not init_error_tracking(settings, integrations=[LitestarIntegration()])
    create_app(settings)
    assert not sentry_sdk.get_client().is_active()


def test_with_a_dsn_building_the_app_starts_sentry_with_the_litestar_integration(settings: Settings) -> None:
    try:
        create_app(with_dsn(settings))
        client = sentry_sdk.get_client()
        assert client.is_active()
        assert client.get_integration(LitestarIntegration) is not None
        assert not client.should_send_default_pii()
        assert client.options["environment"] == "test"
    finally:
        _stop_sentry()


async def test_an_api_error_carries_the_request_and_user_ids_and_nothing_personal(
    settings: Settings, kept: KeptEnvelopes
) -> None:
    configured = with_dsn(settings)
    assert init_error_tracking(configured, integrations=[LitestarIntegration()], transport=kept)
    async with AsyncTestClient(app=create_app(configured, extra_handlers=PROBES)) as client:
        signed_in = await sign_up(client)
        email = signed_in["sent"]["email"]
        handle = signed_in["sent"]["handle"]
        token = signed_in["accessToken"]
        request_id = f"req-{uuid.uuid4().hex[:12]}"
        response = await client.post(
            "/probe/crash-signed-in",
            json={"email": email, "password": PASSWORD},
            headers={**bearer(signed_in), "X-Request-ID": request_id, "Cookie": "session=cookie-secret-7"},
        )
        # Refusals the API answers itself (4xx problems) are no errors to report.
        missing = await client.get(f"/v1/workouts/{uuid.uuid4()}", headers=bearer(signed_in))
        refused = await client.patch("/v1/me", json={"timezone": "Mars/Olympus"}, headers=bearer(signed_in))
    assert response.status_code == 500
    assert (missing.status_code, refused.status_code) == (404, 422)
    sentry_sdk.flush()

    errors = [e for e in kept.events() if e.get("exception")]
    assert len(errors) == 1, [e.get("logentry") for e in kept.events()]
    event = errors[0]
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    user_id = signed_in["user"]["id"]
    assert event["tags"]["request_id"] == request_id
    assert event["tags"]["user_id"] == user_id
    assert event["user"] == {"id": user_id}
    request = event["request"]
    assert request["url"].endswith("/probe/crash-signed-in")
    assert "data" not in request and "cookies" not in request
    assert not {"authorization", "cookie"} & {name.lower() for name in request.get("headers", {})}

    sent = kept.serialized()
    for secret in (email, PASSWORD, token, handle, "cookie-secret-7"):
        assert secret.encode() not in sent, secret
    assert b"authorization" not in sent.lower()


def test_a_worker_error_carries_the_request_and_user_ids(settings: Settings, kept: KeptEnvelopes) -> None:
    assert init_error_tracking(with_dsn(settings), integrations=[DramatiqIntegration()], transport=kept)
    # Built after Sentry started, as workers/app.py does: the integration adds its middleware.
    broker = build_broker(settings, worker_middleware=[LogContext()])  # the run's own queues
    broker.emit_after("process_boot")
    user_id = str(uuid.uuid4())
    queue = queue_name(settings, "default")  # one the run deletes at its end, on either broker

    def fail(user: str) -> None:
        raise RuntimeError(f"projection failed for lifter-{user[:4]}@example.com")

    actor: dramatiq.Actor[Any, Any] = dramatiq.Actor(
        fail,
        broker=broker,
        actor_name="project_user",
        queue_name=queue,
        priority=0,
        options={"max_retries": 0},
    )
    actor.send_with_options(args=(user_id,), request_id="req-from-the-api")
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join(queue, timeout=30_000)
        worker.join()
    finally:
        worker.stop()
        broker.flush(queue)
        close(broker)
    sentry_sdk.flush()

    errors = [e for e in kept.events() if e.get("exception")]
    assert errors
    for event in errors:
        assert event["tags"]["request_id"] == "req-from-the-api"
        assert event["tags"]["user_id"] == user_id
        assert event["user"] == {"id": user_id}
    assert f"lifter-{user_id[:4]}@example.com".encode() not in kept.serialized()


@pytest.mark.e2e
async def test_a_real_worker_reports_a_failing_message_with_its_ids(
    settings: Settings, start_worker: Any
) -> None:
    ingest = FakeIngest()
    try:
        start_worker(SENTRY_DSN=ingest.dsn)
        enqueuer = Enqueuer(settings)
        request_id = f"req-{uuid.uuid4().hex[:12]}"
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            assert await enqueuer.send(enqueuer.actors.project_user, "not-a-user-id")
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            enqueuer.close()
        wait_until(lambda: bool(ingest.errors()), 30, "the worker to report the failure")
    finally:
        ingest.close()
    event = ingest.errors()[0]
    assert event["exception"]["values"][-1]["type"] == "ValueError"
    assert event["tags"]["request_id"] == request_id
    assert event["tags"]["user_id"] == "not-a-user-id"
    assert event["user"] == {"id": "not-a-user-id"}
    assert event["environment"] == "test"


def test_scrubbing_drops_credentials_and_masks_emails_and_tokens() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    event: Any = {
        "message": f"login failed for sam@example.org with Bearer abc.def and {jwt}",
        "request": {
            "url": "https://api.example/v1/auth/login",
            "method": "POST",
            "data": {"email": "sam@example.org", "password": "hunter2"},
            "cookies": {"session": "s"},
            "query_string": "handle=sam",
            "headers": {"Authorization": "Bearer a", "Cookie": "s=1", "User-Agent": "app", "X-Api-Key": "1"},
        },
        "extra": {"newPassword": "p", "refreshToken": "t", "displayName": "Sam", "count": 3},
        "user": {"id": "u-1", "email": "sam@example.org", "ip_address": "10.0.0.1"},
        "exception": {"values": [{"type": "E", "mechanism": {"type": "litestar", "handled": False}}]},
    }
    cleaned: Any = before_send(event, {})
    assert cleaned["message"] == "login failed for [Filtered] with Bearer [Filtered] and [Filtered]"
    assert cleaned["request"] == {
        "url": "https://api.example/v1/auth/login",
        "method": "POST",
        "headers": {"User-Agent": "app"},
    }
    assert cleaned["extra"] == {"count": 3}
    assert cleaned["user"] == {"id": "u-1"}
    assert cleaned["tags"] == {"user_id": "u-1"}
    assert cleaned["exception"]["values"][0]["mechanism"] == {"type": "litestar", "handled": False}
    assert scrub(("a@b.io", 1, None)) == ["[Filtered]", 1, None]


def test_sentry_settings_are_read_and_checked() -> None:
    assert load_settings({}).sentry == SentrySettings()
    configured = load_settings(
        {"SENTRY_DSN": DSN, "SENTRY_ENVIRONMENT": "staging", "SENTRY_TRACES_SAMPLE_RATE": "0.25"}
    ).sentry
    assert configured == SentrySettings(dsn=DSN, environment="staging", traces_sample_rate=0.25)
    assert load_settings({"SENTRY_DSN": ""}).sentry.dsn is None
    with pytest.raises(SettingsError, match="SENTRY_DSN"):
        load_settings({"SENTRY_DSN": "ftp://key@sentry.example/1"})
    for rate in ("1.5", "-0.1", "often"):
        with pytest.raises(SettingsError, match="SENTRY_TRACES_SAMPLE_RATE"):
            load_settings({"SENTRY_TRACES_SAMPLE_RATE": rate})
