"""Hostile input on every route: no request, however malformed, gets a 5xx or harms what comes next.

Each case of the corpus (tests/security/hostile.py) is applied to every operation the app serves,
twice: in process, straight to the ASGI app, and over raw sockets to a real `ironlog api` process
(uvicorn), where each hostile request is followed by a normal one on the same connection and the
server's log must hold no traceback. The answer must be a 4xx problem with a detail, or the normal
answer.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import unquote

import pytest

from core.settings import Settings
from tests.accounts import access_headers, new_identity
from tests.harness import IronlogProcess
from tests.security.conftest import ApiServer, RawResponse
from tests.security.hostile import CASES, Caller, Case, violation
from tests.security.inventory import Operation
from tests.security.raw_http import ConnectionClosed, RawConnection, RawRequest


def _caller(settings: Settings, registered: dict[str, Any]) -> Caller:
    user_id = uuid.UUID(registered["user"]["id"])

    def mint() -> bytes:
        return access_headers(settings, "admin", user_id=user_id)["Authorization"].encode()

    return Caller(me=registered, mint=mint, max_body_bytes=settings.api.max_body_bytes)


def _normal(caller: Caller) -> RawRequest:
    return RawRequest("GET", b"/v1/me", ((b"authorization", caller.authorization),))


# In process: the ASGI app as uvicorn would call it.


def call_asgi(client: Any, raw: RawRequest) -> RawResponse:
    """`raw` given to the in-process client's app as uvicorn would give it, on the loop the app's
    lifespan runs on (as the client's own transport does); the answer."""
    answer: RawResponse = client.blocking_portal.call(_call_asgi, client.app, raw)
    return answer


async def _call_asgi(app: Any, raw: RawRequest) -> RawResponse:
    # The client disconnects once the body is sent, which also ends an event stream.
    raw_path, _, query = raw.target.partition(b"?")
    headers = [(b"host", b"127.0.0.1"), *((name.lower(), value) for name, value in raw.headers)]
    if raw.body is not None:
        headers.append((b"content-length", str(len(raw.body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": raw.method,
        "scheme": "http",
        "path": unquote(raw_path.decode("ascii")),
        "raw_path": raw_path,
        "root_path": "",
        "query_string": query,
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    pending = [{"type": "http.request", "body": raw.body or b"", "more_body": False}]
    status, response_headers, body = 0, {}, bytearray()

    async def receive() -> dict[str, Any]:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers.update({k.decode(): v.decode("latin-1") for k, v in message.get("headers", [])})
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    return RawResponse(status, response_headers, bytes(body))


@pytest.fixture(scope="module")
async def caller(shared_client: Any, settings: Settings, module_worker: IronlogProcess) -> Caller:
    identity = new_identity()
    registered = await shared_client.post("/v1/auth/register", json=identity)
    assert registered.status_code == 201, registered.text
    return _caller(settings, {**registered.json(), "sent": identity})


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_hostile_input_in_process(shared_client: Any, caller: Caller, case: Case) -> None:
    failures = []
    for op, raw in case.requests(caller):
        problem = violation(op, call_asgi(shared_client, raw))
        if problem:
            failures.append(f"{op.label}: {problem}".replace("\n", " ")[:400])
        after = call_asgi(shared_client, _normal(caller))
        if after.status_code != 200:
            failures.append(f"{op.label}: the next request got {after.status_code}: {after.text[:200]}")
    assert not failures, "\n".join(failures)


# A real server: uvicorn parses the bytes, and the connection must survive each answer.


@pytest.fixture(scope="module")
def socket_caller(api_server: ApiServer, settings: Settings, module_worker: IronlogProcess) -> Caller:
    identity = new_identity()
    with RawConnection(api_server.port) as connection:
        body = json.dumps(identity).encode()
        response = connection.exchange(
            RawRequest("POST", b"/v1/auth/register", ((b"content-type", b"application/json"),), body)
        )
    assert response.status_code == 201, response.text
    return _caller(settings, {**response.json(), "sent": identity})


def _exchange_on(connection: RawConnection, raw: RawRequest) -> tuple[RawResponse, bool]:
    """Send `raw`; the answer and whether the connection may carry another request (an event stream
    holds its connection: its head is the answer)."""
    connection.send(raw.encode())
    status, headers = connection.read_head()
    if headers.get("content-type", "").startswith("text/event-stream"):
        return RawResponse(status, headers, b""), False
    return RawResponse(status, headers, connection.read_body(raw.method, status, headers)), True


#: uvicorn (httptools) refuses these itself, before the app: a plain 400, and the connection closed.
#: nginx refuses them sooner (RELIABILITY.md, "Server limits"); tests/security/test_server_limits.py.
UVICORN_MAX_TARGET = 65_536


def refused_by_uvicorn(raw: RawRequest) -> bool:
    return len(raw.target) > UVICORN_MAX_TARGET or not raw.target.isascii()


class Sweep:
    """One case over one keep-alive connection at a time; a new one only where the old cannot go on."""

    def __init__(self, server: ApiServer, caller: Caller) -> None:
        self.server = server
        self.caller = caller
        self.connection = RawConnection(server.port)
        self.failures: list[str] = []

    def reconnect(self) -> None:
        self.connection.close()
        self.connection = RawConnection(self.server.port)

    def fail(self, op: Operation, what: str) -> None:
        self.failures.append(f"{op.label}: {what}".replace("\n", " ")[:400])

    def run(self, op: Operation, raw: RawRequest) -> None:
        try:
            response, reusable = _exchange_on(self.connection, raw)
        except ConnectionClosed as closed:
            self.fail(op, f"no answer, {closed}")
            self.reconnect()
            return
        if refused_by_uvicorn(raw):
            if response.status_code != 400 or not self.connection.is_closed_by_server(wait_s=2):
                self.fail(op, f"uvicorn was to refuse it and close; got {response.status_code}")
            reusable = False
        elif problem := violation(op, response):
            self.fail(op, problem)
        if not reusable:
            self.reconnect()
        try:
            after = self.connection.exchange(_normal(self.caller))
        except ConnectionClosed:
            self.fail(op, f"the connection did not survive a {response.status_code}")
            self.reconnect()
            return
        if after.status_code != 200:
            self.fail(op, f"the next request got {after.status_code}: {after.text[:200]}")


@pytest.mark.e2e
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input_on_a_real_server(api_server: ApiServer, socket_caller: Caller, case: Case) -> None:
    log_offset = api_server.log_size()
    sweep = Sweep(api_server, socket_caller)
    try:
        for op, raw in case.requests(socket_caller):
            sweep.run(op, raw)
    finally:
        sweep.connection.close()
    logged = api_server.log_since(log_offset)
    assert "Traceback" not in logged and "unhandled_exception" not in logged, logged[-3000:]
    assert not sweep.failures, "\n".join(sweep.failures)


# The three that answered 500 before: each now a 4xx problem saying what was wrong, logged on one line.

KNOWN = {
    "deep-nesting": (b"[" * 100_000 + b"]" * 100_000, {}, 400, "nested too deeply"),
    "invalid-utf8": (b'{"title": "\xff\xfe"}', {}, 400, "not valid UTF-8"),
    "long-token": (None, {b"x-consistency-token": b"9" * 20_000}, 422, "X-Consistency-Token must be"),
}


@pytest.mark.e2e
def test_the_inputs_that_were_500s_are_problems_logged_on_one_line(
    api_server: ApiServer, socket_caller: Caller
) -> None:
    log_offset = api_server.log_size()
    with RawConnection(api_server.port) as connection:
        for request_id, (body, headers, status, detail) in KNOWN.items():
            sent = {
                b"authorization": socket_caller.authorization,
                b"x-request-id": request_id.encode(),
                **headers,
            }
            if body is None:
                raw = RawRequest("GET", b"/v1/workouts", tuple(sent.items()))
            else:
                sent[b"content-type"] = b"application/json"
                raw = RawRequest("PUT", f"/v1/workouts/{uuid.uuid4()}".encode(), tuple(sent.items()), body)
            response = connection.exchange(raw)
            assert response.status_code == status, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert detail in response.json()["detail"], response.text
            assert connection.exchange(_normal(socket_caller)).status_code == 200
    api_server.wait_for_log('"request_id":"long-token"')  # JSON lines as msgspec writes them
    logged = api_server.log_since(log_offset)
    assert "Traceback" not in logged and "unhandled_exception" not in logged, logged[-3000:]
    for request_id in KNOWN:
        lines = [line for line in logged.splitlines() if f'"{request_id}"' in line]
        assert len(lines) == 1, lines
        assert json.loads(lines[0])["event"] == "request", lines
