"""Server limits, on a real `ironlog api` (uvicorn): those the app owns (how long a body may take, how
long an idle connection stays open), and what uvicorn itself refuses or lets through, which decides
what nginx must bound in front (RELIABILITY.md, "Server limits"; ops/nginx.conf's side is checked in
tests/test_deployment.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from api.cli import KEEP_ALIVE_S
from core.settings import Settings
from tests.accounts import access_headers
from tests.harness import assert_problem
from tests.security.conftest import ApiServer, expiring_headers, start_api_server
from tests.security.raw_http import RawConnection, RawRequest

pytestmark = pytest.mark.e2e

BODY_TIMEOUT_S = 2.0  # short here; 30 s by default (IRONLOG_BODY_TIMEOUT_S)
HEALTH = RawRequest("GET", b"/health/live")


@pytest.fixture(scope="module")
def server(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    started = start_api_server(tmp_path_factory.mktemp("limits"), IRONLOG_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S))
    try:
        yield started
    finally:
        started.stop()


def _head(method: str, target: str, headers: dict[str, str], length: int) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _healthy(server: ApiServer) -> bool:
    with RawConnection(server.port) as connection:
        return connection.exchange(HEALTH).status_code == 200


# The app's own: a body arrives whole within IRONLOG_BODY_TIMEOUT_S.


def test_a_body_trickled_a_byte_a_second_is_cut_off_at_the_deadline(
    server: ApiServer, settings: Settings
) -> None:
    headers = {**access_headers(settings), "Content-Type": "application/json"}
    with RawConnection(server.port) as connection:
        started = time.monotonic()
        connection.send(_head("PUT", f"/v1/workouts/{uuid.uuid4()}", headers, 1000))
        for _ in range(int(BODY_TIMEOUT_S) + 5):
            connection.send(b" ")
            if connection.answered(wait_s=1.0):
                break
        response = connection.read_response()
        waited = time.monotonic() - started
        assert "did not arrive within 2 s" in assert_problem(response, 408)["detail"]
        assert response.headers["connection"] == "close"
        assert BODY_TIMEOUT_S <= waited < BODY_TIMEOUT_S + 1.5, waited
        assert connection.is_closed_by_server(wait_s=2)
    assert _healthy(server)


def test_a_body_sent_slowly_within_the_deadline_is_read(server: ApiServer) -> None:
    body = b'{"email": "nobody@example.com", "password": "not-the-password-at-all"}'
    with RawConnection(server.port) as connection:
        connection.send(_head("POST", "/v1/auth/login", {"Content-Type": "application/json"}, len(body)))
        for start in range(0, len(body), len(body) // 4 + 1):
            time.sleep(BODY_TIMEOUT_S / 6)
            connection.send(body[start : start + len(body) // 4 + 1])
        assert_problem(connection.read_response(), 401)  # read and judged, not cut off
        assert connection.exchange(HEALTH).status_code == 200


def test_an_event_stream_outlives_the_body_deadline(server: ApiServer, settings: Settings) -> None:
    # The stream waits on the connection for as long as it lasts: only an incomplete body is timed.
    lasts_s = BODY_TIMEOUT_S + 2
    headers = expiring_headers(settings, uuid.uuid4(), lasts_s)
    with RawConnection(server.port) as connection:
        started = time.monotonic()
        connection.send(_head("GET", "/v1/stream", headers, 0))
        response = connection.read_response()
        assert response.status_code == 200
        assert "event: expired" in response.text
        assert time.monotonic() - started >= lasts_s - 1


# The app's own: uvicorn's keep-alive, set in api/cli.py.


def test_an_idle_keep_alive_connection_is_closed_after_five_seconds(server: ApiServer) -> None:
    with RawConnection(server.port) as connection:
        assert connection.exchange(HEALTH).status_code == 200
        # nginx reuses upstream connections idle for up to 4 s (ops/nginx.conf): those must be open.
        assert not connection.is_closed_by_server(wait_s=4)
        assert connection.exchange(HEALTH).status_code == 200
        started = time.monotonic()
        assert connection.is_closed_by_server(wait_s=KEEP_ALIVE_S + 2)
        assert time.monotonic() - started >= KEEP_ALIVE_S - 0.5, "closed before the keep-alive ran out"


# uvicorn's: what it refuses itself (a plain 400, the connection closed), and what it lets through.


@pytest.mark.parametrize(
    "request_line",
    [
        b"GET /health/live?" + b"a" * 70_000 + b" HTTP/1.1",
        b"GET /health/live?a=\xff HTTP/1.1",
        b"GET /health/\xff HTTP/1.1",
    ],
    ids=["a 70 KB target", "raw bytes in the query", "raw bytes in the path"],
)
def test_uvicorn_refuses_an_unreadable_request_line_and_closes(
    server: ApiServer, request_line: bytes
) -> None:
    offset = server.log_size()
    with RawConnection(server.port) as connection:
        connection.send(request_line + b"\r\nHost: 127.0.0.1\r\n\r\n")
        response = connection.read_response()
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("text/plain")
        assert connection.is_closed_by_server(wait_s=2)
    assert _healthy(server)
    assert "Traceback" not in server.log_since(offset)


def test_uvicorn_bounds_neither_header_size_nor_count(server: ApiServer) -> None:
    # Why nginx's large_client_header_buffers is the limit that holds: uvicorn passes all of this on.
    big = RawRequest("GET", b"/health/live", ((b"x-big", b"a" * 100_000),))
    many = RawRequest("GET", b"/health/live", tuple((b"x-%d" % n, b"v") for n in range(1000)))
    with RawConnection(server.port) as connection:
        assert connection.exchange(big).status_code == 200
        assert connection.exchange(many).status_code == 200


def test_uvicorn_never_times_out_a_connection_that_sends_nothing(server: ApiServer) -> None:
    # Nor a head sent slowly: nginx's client_header_timeout (15 s) is the one that ends those.
    with RawConnection(server.port) as connection:
        assert not connection.is_closed_by_server(wait_s=KEEP_ALIVE_S + 1)
        connection.send(b"GET /health/live HTTP/1.1\r\n")
        assert not connection.is_closed_by_server(wait_s=1)
        connection.send(b"Host: 127.0.0.1\r\n\r\n")
        assert connection.read_response().status_code == 200
