"""Schemathesis against the app's own `/schema/openapi.json`: every operation, every default check.

`make fuzz` runs it (it is skipped otherwise). The app runs in-process through Schemathesis' ASGI
transport, with its lifespan (Postgres pool, Redis) on the transport's event loop, against this run's
own database and Redis prefix (tests/conftest.py). Calls are signed in as a registered user; the
analyst and admin routes as a registered user granted the admin role. Tokens live 30 seconds here,
so a run signs in again many times: ahead of expiry, and on any 401 of an expired token.

Every default check runs, positive_data_acceptance allowing a 422 only where a rule no schema can
state was broken (UNSTATED_RULES, `refused_only_for_unstated_rules`). Examples are bounded
(MAX_EXAMPLES per operation in the fuzzing phase, plus the examples and coverage phases) to fit the
budget of DESIGN.md §8, schema fuzzing ≤ 10 minutes on two cores: a run takes about 1.5 minutes.
Not fuzzed: `/v1/stream` (a response that lasts as long as its token; tests/test_stream.py) and the
logout routes (they would revoke the session under test; tests/test_sessions.py).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import msgspec
import pytest
import schemathesis
from litestar import Litestar
from schemathesis.python import asgi

from api.app import create_app
from api.inputs import MESSAGE as NUL_MESSAGE
from commands.accounts import Role, set_role
from core.settings import Settings, get_settings
from tests.accounts import new_identity

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES = 100
#: Short-lived tokens, so that a run signs in again many times.
ACCESS_TOKEN_TTL_S = 30
#: Sign in again this long after the last sign-in, before the token expires.
REFRESH_INTERVAL_S = 20
#: Every access token the provider got: a request bearing one is never refused with a 401.
ISSUED: set[str] = set()
ROLE_PREFIXES = ("/v1/analytics/", "/v1/diagnostics/")

#: Per operation, the fields whose rules no JSON Schema states: across fields, against stored data, a
#: password policy, a cursor only the server makes, what a CSV export holds. A request valid by the
#: schema may still be refused with a 422, only one naming such a field (`refused_only_for_unstated_rules`).
_SET_FIELD = r"exercises\[\d+\]\.sets\[\d+\]\.(reps|repsMax|weight\.value|weight|durationS|distanceM)"
UNSTATED_RULES: dict[str, tuple[str, ...]] = {
    "POST /v1/auth/register": ("password", "displayName"),
    "POST /v1/me/password": ("newPassword",),
    "PATCH /v1/me": ("displayName", "timezone"),
    "PUT /v1/workouts/{workout_id}": (
        "startedAt",
        "endedAt",
        r"exercises\[\d+\]\.exerciseId",
        _SET_FIELD,
        "body",
    ),
    "PUT /v1/routines/{routine_id}": (r"exercises\[\d+\]\.exerciseId", _SET_FIELD, "body"),
    "PUT /v1/exercises/{exercise_id}": ("body",),
    "PUT /v1/bodyweight/{day}": ("weight.value", "date"),
    "PUT /v1/follows/{user_id}": ("userId",),
    "GET /v1/analytics/daily": ("from", "to"),
    "GET /v1/analytics/exercises": ("week",),
    "GET /v1/leaderboards/{board}": ("period", "exerciseId"),
    "POST /v1/imports": ("file", "weightUnit"),
    **{
        f"GET {path}": ("cursor",)
        for path in (
            "/v1/workouts",
            "/v1/routines",
            "/v1/bodyweight",
            "/v1/follows",
            "/v1/exercises",
            "/v1/users",
            "/v1/records",
            "/v1/exercises/{exercise_id}/history",
        )
    },
}
#: positive_data_acceptance's default expectations, and 422.
ACCEPTED_IF_VALID = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]


@pytest.fixture(scope="module")
def fuzzed_app(settings: Settings) -> Iterator[Litestar]:
    auth = msgspec.structs.replace(settings.auth, access_ttl_s=ACCESS_TOKEN_TTL_S)
    yield create_app(msgspec.structs.replace(settings, auth=auth))
    # Close the app's pool and clients before the run's database is dropped.
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def api_schema(fuzzed_app: Litestar) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "request-timeout": 30,
            # 422 too: `refused_only_for_unstated_rules` says which 422s are right.
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_IF_VALID}},
        }
    )
    return schemathesis.openapi.from_asgi("/schema/openapi.json", fuzzed_app, config=config)


schema = (
    schemathesis.pytest.from_fixture("api_schema")
    .exclude(path="/v1/stream")
    .exclude(path_regex=r"^/v1/auth/logout")
)


def _role_for(case: Any, context: Any) -> str:
    return "admin" if context.operation.path.startswith(ROLE_PREFIXES) else "user"


async def _grant(email: str, role: Role) -> None:
    url = get_settings().database.url
    assert url
    connection = await asyncpg.connect(url)
    try:
        assert await set_role(connection, email, role) is not None
    finally:
        await connection.close()


@schema.auth(refresh_interval=REFRESH_INTERVAL_S, cache_by_key=_role_for)
class SignedIn:
    """A registered account per role; each token fetch after the first signs in again."""

    def __init__(self) -> None:
        self.accounts: dict[str, dict[str, str]] = {}

    def get(self, case: Any, context: Any) -> str:
        role = _role_for(case, context)
        with asgi.get_client(context.app) as client:
            account = self.accounts.get(role)
            if account is None:
                identity = new_identity(handle=f"fuzz_{role}_{uuid.uuid4().hex[:8]}")
                registered = client.post("/v1/auth/register", json=identity)
                assert registered.status_code == 201, registered.text
                account = self.accounts[role] = {"email": identity["email"], "password": identity["password"]}
                if role != "user":
                    asyncio.run(_grant(account["email"], "admin"))
            signed_in = client.post("/v1/auth/login", json=account)
        assert signed_in.status_code == 200, signed_in.text
        token: str = signed_in.json()["accessToken"]
        ISSUED.add(token)
        return token

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def refused_only_for_unstated_rules(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 422 to a request generated as valid names only fields of UNSTATED_RULES, or text holding a NUL
    character (any text field, on any route: Postgres cannot store it; api/inputs.py)."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return None
    rules = UNSTATED_RULES.get(case.operation.label, ())
    errors = response.json().get("errors") or []
    assert errors, f"a request valid by the schema was refused, naming no field: {response.text}"
    for error in errors:
        field = str(error.get("field"))
        unstated = error.get("message") == NUL_MESSAGE or any(re.fullmatch(rule, field) for rule in rules)
        assert unstated, f"a request valid by the schema was refused for {field!r}: {response.text}"
    return True


def signed_in_requests_are_let_in(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 401 to a request bearing a token the provider got would mean the run is no longer signed in
    (and every later check would see only 401s)."""
    if case.operation.definition.raw.get("security") == [{}]:
        return None  # a public route: a 401 there is about the credentials it is sent
    token = str(response.request.headers.get("Authorization", "")).removeprefix("Bearer ")
    assert not (response.status_code == 401 and token in ISSUED), f"signed in, yet 401: {response.text}"
    return True


@schema.parametrize()
def test_the_api_keeps_to_its_schema(case: Any) -> None:
    case.call_and_validate(additional_checks=[refused_only_for_unstated_rules, signed_in_requests_are_let_in])
