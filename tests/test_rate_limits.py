"""Rate limits: per client address, per email, per refresh family; shared by every API process.

In-process tests give each app a Redis prefix of its own (under the run's prefix) and set the
ASGI peer per request from a test-only header, so that several clients can be told apart.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import msgspec
import pytest
from litestar.enums import ScopeType
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send
from prometheus_client import REGISTRY
from prometheus_client.mmap_dict import MmapedDict

from api.app import create_app
from api.auth.ratelimits import RateLimiter
from api.client_ip import ClientAddresses
from core.processes import free_port
from core.redis import Keys, open_redis
from core.settings import Settings
from tests.accounts import PASSWORD, bearer, new_identity, sign_up
from tests.harness import IronlogProcess, assert_problem, wait_until

PEER_HEADER = "x-test-peer"


class PeerFromHeader:
    """Sets the ASGI peer (`scope["client"]`) from `x-test-peer`, as if each came over its own TCP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            peer = dict(scope["headers"]).get(PEER_HEADER.encode())
            if peer:
                scope["client"] = (peer.decode(), 50000)
        await self.app(scope, receive, send)


def private_prefix(settings: Settings) -> str:
    """A Redis prefix of one test's own, inside the run's (so the run's cleanup removes it)."""
    return f"{settings.redis.prefix}rl-{uuid.uuid4().hex[:8]}:"


def with_limits(settings: Settings, **limits: Any) -> Settings:
    """`settings` with some rate limits changed and a fresh Redis prefix (no buckets carried over)."""
    return msgspec.structs.replace(
        settings,
        rate_limits=msgspec.structs.replace(settings.rate_limits, **limits),
        redis=msgspec.structs.replace(settings.redis, prefix=private_prefix(settings)),
    )


@asynccontextmanager
async def limited_client(settings: Settings, **limits: Any) -> AsyncIterator[Any]:
    app = PeerFromHeader(create_app(with_limits(settings, **limits)))
    async with AsyncTestClient(app=cast(Any, app)) as client:
        yield client


def peer(address: str) -> dict[str, str]:
    return {PEER_HEADER: address}


async def log_in(client: Any, email: str, password: str, address: str) -> Any:
    return await client.post(
        "/v1/auth/login", json={"email": email, "password": password}, headers=peer(address)
    )


async def register(client: Any, body: dict[str, Any], address: str) -> Any:
    return await client.post("/v1/auth/register", json=body, headers=peer(address))


def assert_too_many(response: Any, per_minute: int) -> None:
    """A 429 problem whose Retry-After is whole seconds, at least 1, at most one refill interval."""
    assert_problem(response, 429)
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= 60 // per_minute


# --- login ------------------------------------------------------------------------------------------


async def test_login_attempts_per_email_are_limited_whatever_their_outcome(settings: Settings) -> None:
    async with limited_client(settings, login_per_minute=3) as client:
        account = await sign_up(client)
        email = account["sent"]["email"]
        # Each attempt from a different address: only the per-email limit can be met.
        for address, spelling in [
            ("198.51.100.1", email),
            ("198.51.100.2", email.upper()),
            ("198.51.100.3", email),
        ]:
            response = await log_in(client, spelling, "not-the-password", address)
            assert response.status_code == 401, response.text[:500]

        assert_too_many(await log_in(client, email, "not-the-password", "198.51.100.4"), 3)
        # Attempts are counted, not failures: the right password is refused as well.
        assert_too_many(await log_in(client, email, PASSWORD, "198.51.100.5"), 3)
        # Another email is not affected by this one's limit.
        other = await log_in(client, "someone-else@example.com", PASSWORD, "198.51.100.6")
        assert other.status_code == 401


async def test_correct_logins_count_towards_the_email_limit(settings: Settings) -> None:
    async with limited_client(settings, login_per_minute=2) as client:
        account = await sign_up(client)
        email = account["sent"]["email"]
        for address in ("198.51.100.1", "198.51.100.2"):
            assert (await log_in(client, email, PASSWORD, address)).status_code == 200
        assert_too_many(await log_in(client, email, PASSWORD, "198.51.100.3"), 2)


async def test_login_attempts_per_client_address_are_limited_across_emails(settings: Settings) -> None:
    async with limited_client(settings, login_per_minute=3) as client:
        # A new email each time: only the per-address limit can be met.
        for n in range(3):
            response = await log_in(client, f"nobody-{n}@example.com", PASSWORD, "198.51.100.7")
            assert response.status_code == 401, response.text[:500]
        assert_too_many(await log_in(client, "nobody-3@example.com", PASSWORD, "198.51.100.7"), 3)
        # Another address is not affected.
        other = await log_in(client, "nobody-4@example.com", PASSWORD, "198.51.100.8")
        assert other.status_code == 401


# --- register ---------------------------------------------------------------------------------------


async def test_registrations_per_client_address_are_limited(settings: Settings) -> None:
    async with limited_client(settings, register_per_minute=2) as client:
        for _ in range(2):
            response = await register(client, new_identity(), "198.51.100.10")
            assert response.status_code == 201, response.text[:500]
        assert_too_many(await register(client, new_identity(), "198.51.100.10"), 2)
        other = await register(client, new_identity(), "198.51.100.11")
        assert other.status_code == 201, other.text[:500]


async def test_registrations_per_email_are_limited(settings: Settings) -> None:
    async with limited_client(settings, register_per_minute=2) as client:
        email = new_identity()["email"]
        first = await register(client, new_identity(email=email), "198.51.100.12")
        assert first.status_code == 201, first.text[:500]
        # The second attempt fails (the email is taken) but counts; the email is normalised.
        taken = await register(client, new_identity(email=f"  {email.upper()} "), "198.51.100.13")
        assert taken.status_code == 409, taken.text[:500]
        assert_too_many(await register(client, new_identity(email=email), "198.51.100.14"), 2)
        other = await register(client, new_identity(), "198.51.100.15")
        assert other.status_code == 201, other.text[:500]


# --- refresh ----------------------------------------------------------------------------------------


async def refresh(client: Any, token: str) -> Any:
    return await client.post("/v1/auth/refresh", json={"refreshToken": token})


async def test_refreshes_per_family_are_limited_and_other_families_are_not(settings: Settings) -> None:
    async with limited_client(settings, refresh_per_minute=2) as client:
        account = await sign_up(client)
        token = account["refreshToken"]
        for _ in range(2):
            response = await refresh(client, token)
            assert response.status_code == 200, response.text[:500]
            token = response.json()["refreshToken"]
        assert_too_many(await refresh(client, token), 2)

        # Another sign-in of the same user is another family, with a budget of its own.
        login = await log_in(client, account["sent"]["email"], PASSWORD, "198.51.100.20")
        assert login.status_code == 200, login.text[:500]
        other = await refresh(client, login.json()["refreshToken"])
        assert other.status_code == 200, other.text[:500]


# --- password change --------------------------------------------------------------------------------


async def change_password(client: Any, account: dict[str, Any], current: str) -> Any:
    body = {"currentPassword": current, "newPassword": "new-chalk-and-iron-plates-77"}
    return await client.post("/v1/me/password", json=body, headers=bearer(account))


async def test_password_changes_per_user_are_limited(settings: Settings) -> None:
    async with limited_client(settings, password_per_minute=2) as client:
        account = await sign_up(client)
        for _ in range(2):
            wrong = await change_password(client, account, "not-the-password")
            assert wrong.status_code == 403, wrong.text[:500]
        # Guessing the current password is what this limit stops: the right one is refused too.
        assert_too_many(await change_password(client, account, PASSWORD), 2)
        other = await change_password(client, await sign_up(client), PASSWORD)
        assert other.status_code == 204, other.text[:500]


# --- the limiter itself ----------------------------------------------------------------------------


async def test_a_limit_allows_a_burst_of_n_then_asks_to_wait_one_interval(settings: Settings) -> None:
    redis = open_redis(settings)
    limiter = RateLimiter(redis, Keys(private_prefix(settings)))
    try:
        waits = [await limiter.wait_ms("probe", "subject", 3) for _ in range(4)]
        assert waits[:3] == [0, 0, 0]
        assert 19_000 < waits[3] <= 20_000  # 3 a minute: the next one is 20 s away
        assert await limiter.wait_ms("probe", "another-subject", 3) == 0
        assert await limiter.wait_ms("another-limit", "subject", 3) == 0
    finally:
        await redis.aclose()


def _unavailable_count() -> float:
    return REGISTRY.get_sample_value("ironlog_rate_limit_unavailable_total") or 0.0


async def test_limiter_lets_requests_through_when_redis_is_unreachable(settings: Settings) -> None:
    # The API's own client configuration, pointed at a port nobody listens on.
    nowhere = msgspec.structs.replace(settings.redis, url=f"redis://127.0.0.1:{free_port()}/0")
    redis = open_redis(msgspec.structs.replace(settings, redis=nowhere))
    limiter = RateLimiter(redis, Keys("ironlog-unreachable:"))
    before = _unavailable_count()
    try:
        # One a minute: were anything counted, the second check would be refused.
        assert await limiter.wait_ms("login-ip", "203.0.113.7", 1) == 0
        assert await limiter.wait_ms("login-ip", "203.0.113.7", 1) == 0
        await limiter.enforce("login-ip", "203.0.113.7", 1)
    finally:
        await redis.aclose()
    assert _unavailable_count() == before + 3


# --- client addresses -------------------------------------------------------------------------------


def scope(peer: str | None, headers: list[tuple[str, str]] | None = None) -> Scope:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers or []]
    return cast(Scope, {"type": "http", "client": (peer, 50000) if peer else None, "headers": raw})


XFF = "x-forwarded-for"


@pytest.mark.parametrize(
    ("trusted", "header", "peer_address", "headers", "expected"),
    [
        pytest.param(
            ("10.0.0.0/8",), XFF, "198.51.100.9", [(XFF, "203.0.113.7")], "198.51.100.9", id="untrusted-peer"
        ),
        pytest.param(
            ("10.0.0.0/8",),
            XFF,
            "10.1.2.3",
            [(XFF, "203.0.113.7, 10.0.0.5")],
            "203.0.113.7",
            id="via-proxies",
        ),
        pytest.param(
            ("10.0.0.0/8",),
            XFF,
            "10.1.2.3",
            [(XFF, "1.1.1.1, 203.0.113.7")],
            "203.0.113.7",
            id="client-forged-left-most-entry",
        ),
        pytest.param(
            ("10.0.0.0/8",),
            XFF,
            "10.1.2.3",
            [(XFF, "1.1.1.1"), (XFF, "203.0.113.7, 10.0.0.5")],
            "203.0.113.7",
            id="header-repeated",
        ),
        pytest.param(("10.0.0.0/8",), XFF, "10.1.2.3", [], "10.1.2.3", id="trusted-peer-without-header"),
        pytest.param(
            ("10.0.0.0/8",), XFF, "10.1.2.3", [(XFF, "203.0.113.7, garbage")], "10.1.2.3", id="malformed-hop"
        ),
        pytest.param(
            ("10.0.0.0/8",),
            "X-Real-IP",
            "10.1.2.3",
            [("x-real-ip", "203.0.113.9"), (XFF, "1.1.1.1")],
            "203.0.113.9",
            id="custom-header",
        ),
        pytest.param(
            ("10.0.0.0/8",),
            "x-real-ip",
            "10.1.2.3",
            [(XFF, "1.1.1.1")],
            "10.1.2.3",
            id="other-header-ignored",
        ),
        pytest.param((), XFF, "10.1.2.3", [(XFF, "203.0.113.7")], "10.1.2.3", id="no-trusted-proxies"),
        pytest.param(("::1/128",), XFF, "::1", [(XFF, "[2001:db8::7]")], "2001:db8::7", id="ipv6-bracketed"),
        pytest.param(
            ("10.0.0.0/8",), XFF, "testclient", [(XFF, "203.0.113.7")], "testclient", id="peer-not-ip"
        ),
        pytest.param(("10.0.0.0/8",), XFF, None, [(XFF, "203.0.113.7")], "unknown", id="no-peer"),
    ],
)
def test_client_address_is_forwarded_only_through_trusted_proxies(
    trusted: tuple[str, ...],
    header: str,
    peer_address: str | None,
    headers: list[tuple[str, str]],
    expected: str,
) -> None:
    assert ClientAddresses(trusted, header).of(scope(peer_address, headers)) == expected


# --- real API processes ----------------------------------------------------------------------------

LOGIN_ROUTE = "/v1/auth/login"


def _post(port: int, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> int:
    # A new connection per request, so the kernel spreads them over the worker processes.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _live(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/health/live")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def start_api(start_ironlog: Any, workers: int, **env: str) -> int:
    """Start `ironlog api` with `workers` processes; its port once every process has started."""
    port = free_port()
    api: IronlogProcess = start_ironlog(["api", "--port", str(port), "--workers", str(workers)], **env)
    wait_until(lambda: _live(port), 60, "the API to answer")
    wait_until(
        lambda: api.log().count("Application startup complete") >= workers, 30, "every API process to start"
    )
    return port


def login_answers_by_pid(metrics_dir: Path) -> dict[str, Counter[str]]:
    """Per API process (pid), how many login requests it answered, by status (from its metrics file)."""
    answers: dict[str, Counter[str]] = {}
    for path in metrics_dir.glob("histogram_*.db"):
        statuses: Counter[str] = Counter()
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):  # type: ignore[no-untyped-call]
            _, sample, labels, _ = json.loads(key)
            if sample.endswith("_bucket") and labels.get("route") == LOGIN_ROUTE:
                statuses[labels["status"]] += int(value)  # buckets are stored uncumulated
        if statuses:
            answers[path.stem.rsplit("_", 1)[-1]] = statuses
    return answers


@pytest.mark.e2e
def test_login_limit_is_shared_by_every_api_process(start_ironlog: Any, tmp_path: Path) -> None:
    port = start_api(start_ironlog, 2, IRONLOG_RATE_LOGIN_PER_MINUTE="5")
    identity = new_identity()
    assert _post(port, "/v1/auth/register", identity) == 201
    login = {"email": identity["email"], "password": PASSWORD}
    metrics_dir = tmp_path / "data" / "metrics" / f"api-{port}"

    started = time.monotonic()
    statuses = [_post(port, LOGIN_ROUTE, login) for _ in range(12)]
    # Which process accepts a connection is up to the kernel: go on until both have answered a
    # login, well within the 12 s in which a limit of 5 a minute refills one attempt.
    while len(login_answers_by_pid(metrics_dir)) < 2 and time.monotonic() - started < 8:
        statuses.append(_post(port, LOGIN_ROUTE, login))

    assert statuses.count(200) == 5, statuses
    assert statuses[:5] == [200] * 5
    assert set(statuses[5:]) == {429}, statuses
    wait_until(
        lambda: sum(sum(c.values()) for c in login_answers_by_pid(metrics_dir).values()) == len(statuses),
        5,
        "every login to be counted",
    )
    answers = login_answers_by_pid(metrics_dir)
    # Were the limit per process, two processes that both answered would have let 6 or more through.
    assert len(answers) == 2, f"expected both API processes to answer logins: {answers}"
    assert sum((c for c in answers.values()), Counter[str]()) == Counter(map(str, statuses))


@pytest.mark.e2e
def test_forwarded_client_addresses_are_limited_apart_behind_a_trusted_proxy(start_ironlog: Any) -> None:
    port = start_api(start_ironlog, 1, IRONLOG_TRUSTED_PROXIES="127.0.0.1", IRONLOG_RATE_LOGIN_PER_MINUTE="3")

    def attempt(forwarded_for: str) -> int:
        # A new email every time: only the per-address limit can be met.
        body = {"email": f"nobody-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
        return _post(port, LOGIN_ROUTE, body, {"X-Forwarded-For": forwarded_for})

    assert [attempt("203.0.113.7") for _ in range(3)] == [401, 401, 401]
    assert attempt("203.0.113.7") == 429
    # A client cannot escape by prepending an address of its choice: the proxy appends the real one.
    assert attempt("203.0.113.8, 203.0.113.7") == 429
    # Another client behind the same proxy has its own budget.
    assert attempt("203.0.113.8") == 401
