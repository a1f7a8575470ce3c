"""Schemathesis against the app's own `/schema/openapi.json`: every operation, every default check.

`make fuzz` runs it (it is skipped otherwise). The app runs in-process through Schemathesis' ASGI
transport, with its lifespan (Postgres pool, Redis) on the transport's event loop, against this run's
own database and Redis prefix (tests/conftest.py). Calls are signed in as a registered user; the
analyst and admin routes as a registered user granted the admin role. Tokens live 30 seconds here,
so a run signs in again many times: ahead of expiry, and on any 401 of an expired token. No worker
projects the user's writes here, so reads that wait for them (a consistency token, or a miss on the
user's own things) wait 50 ms instead of 2 s.

Every default check runs, positive_data_acceptance allowing a 422 only where a rule no schema can
state was broken (UNSTATED_RULES, each with its reason; `refused_only_for_unstated_rules`). Examples are
bounded (MAX_EXAMPLES per operation in the fuzzing phase, plus the examples and coverage phases) to fit the
budget of schema fuzzing, ≤ 10 minutes on two cores (docs/architecture.md#tests-and-their-budgets):
a run takes about 1.5 minutes.
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
from commands.accounts import Role, set_role
from core import clock
from core.settings import Settings, get_settings
from tests.accounts import new_identity

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES = 100
#: How long a read waits for writes no worker will project.
CONSISTENCY_WAIT_S = 0.05
#: Short-lived tokens, so that a run signs in again many times.
ACCESS_TOKEN_TTL_S = 30
#: Sign in again this long after the last sign-in, before the token expires.
REFRESH_INTERVAL_S = 20
#: Every access token the provider got: a request bearing one is never refused with a 401.
ISSUED: set[str] = set()
ROLE_PREFIXES = ("/v1/analytics/", "/v1/diagnostics/")

#: Per operation, the fields whose rules no JSON Schema can state, each with why: rules on stored data,
#: across fields, against the clock, a password policy, a file's contents. A request valid by the schema
#: may still be refused with a 422, only one naming such a field (`refused_only_for_unstated_rules`).
#: Everything else the API enforces, the schema states (docs/architecture.md, "API contract").
_STRENGTH = "password strength: not the email or handle, not a common password"
_KNOWN_EXERCISE = "a catalog exercise or one of the user's own (stored data)"
_CURSOR = "a cursor the server made, for this list (stored data)"
_PER_USER_LIMIT = "at most so many per user, counting those stored"
UNSTATED_RULES: dict[str, dict[str, str]] = {
    "POST /v1/auth/register": {"password": _STRENGTH},
    "POST /v1/me/password": {
        "newPassword": _STRENGTH,
        "currentPassword": "required when the account has one (stored data)",
        "identity": "required when the account has no password (stored data)",
    },
    "DELETE /v1/me": {
        "password": "required when the account has one (stored data)",
        "identity": "required when the account has no password (stored data)",
    },
    "PATCH /v1/me": {"timezone": "a zone of the tz database, a list that changes with its releases"},
    "PUT /v1/workouts/{workout_id}": {
        "startedAt": "at most 24 h after the server's clock; in 1900-9998 (no keyword bounds a date-time)",
        "endedAt": "after startedAt and at most 24 h after it (another field)",
        r"exercises\[\d+\]\.exerciseId": _KNOWN_EXERCISE,
        r"exercises\[\d+\]\.sets\[\d+\]\.(reps|weight|durationS|distanceM)": (
            "what the exercise is measured by (stored data for the user's own exercises)"
        ),
        r"exercises\[\d+\]\.sets\[\d+\]\.weight\.value": "at most 1500 kg after the unit's conversion",
    },
    "PUT /v1/routines/{routine_id}": {
        r"exercises\[\d+\]\.exerciseId": _KNOWN_EXERCISE,
        r"exercises\[\d+\]\.sets\[\d+\]\.repsMax": "at least the set's reps (another field)",
        "body": _PER_USER_LIMIT,
    },
    "PUT /v1/exercises/{exercise_id}": {"body": _PER_USER_LIMIT},
    "PUT /v1/bodyweight/{day}": {
        "date": "not after tomorrow by the server's clock; from 1900 (a date's range)"
    },
    "PUT /v1/follows/{user_id}": {"userId": "not yourself, and at most 1000 people followed (stored data)"},
    "GET /v1/analytics/daily": {
        "from": "not after `to` (another field); a date's range",
        "to": "at most 366 days after `from` (another field); a date's range",
    },
    "GET /v1/analytics/exercises": {"week": "an ISO week of its year: W53 exists in some years only"},
    "GET /v1/leaderboards/{board}": {
        "period": "an ISO week of its year (W53 in some years only), for the weekly board (the path)",
        "exerciseId": "required by the e1rm boards (the path)",
    },
    "POST /v1/imports": {
        "file": "the file's contents: a Strong or Hevy export",
        "weightUnit": "needed when the file's contents carry no unit",
    },
    **{
        f"GET {path}": {"cursor": _CURSOR}
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
#: positive_data_acceptance's default expectations, and 422 (UNSTATED_RULES), 410 and 412 (a valid
#: If-Match fails on a version not current, and a valid id may be one deleted: stored data), 400 (a
#: header value Schemathesis calls valid but its pattern refuses: `malformed_only_outside_the_schema`).
ACCEPTED_IF_VALID = ["2xx", "3xx", "400", "401", "403", "404", "409", "410", "412", "422", "429", "5xx"]


@pytest.fixture(scope="module")
def fuzzed_app(settings: Settings) -> Iterator[Litestar]:
    auth = msgspec.structs.replace(settings.auth, access_ttl_s=ACCESS_TOKEN_TTL_S)
    projection = msgspec.structs.replace(settings.projection, consistency_wait_s=CONSISTENCY_WAIT_S)
    yield create_app(msgspec.structs.replace(settings, auth=auth, projection=projection))
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
        assert await set_role(connection, email, role, now=clock.now()) is not None
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


def headers_outside_their_patterns(case: Any) -> set[str]:
    """The declared headers whose value, as sent, does not match their schema's pattern. Schemathesis'
    coverage phase draws header values from A-Z, a-z and 0-9 only, and so sends `If-Match: 0` as if it
    were valid although the entity-tag pattern refuses it; the API's 400 or 422 to those is right."""
    declared = {
        parameter["name"].lower(): parameter.get("schema", {}).get("pattern")
        for parameter in case.operation.definition.raw.get("parameters", [])
        if parameter.get("in") == "header"
    }
    return {
        name
        for name, value in (case.headers or {}).items()
        if (pattern := declared.get(name.lower())) and not re.search(pattern, str(value))
    }


def malformed_only_outside_the_schema(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 400 to a request generated as valid is about a header whose value the schema refuses."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 400:
        return None
    outside = headers_outside_their_patterns(case)
    detail = str(response.json().get("detail"))
    assert any(detail.startswith(name) for name in outside), f"valid, yet 400: {response.text}"
    return True


def refused_only_for_unstated_rules(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 422 to a request generated as valid names only fields of UNSTATED_RULES (text holding a NUL is
    not valid by the schema: its strings say so with a pattern)."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return None
    rules = UNSTATED_RULES.get(case.operation.label, {})
    outside = headers_outside_their_patterns(case)
    errors = response.json().get("errors") or []
    assert errors, f"a request valid by the schema was refused, naming no field: {response.text}"
    for error in errors:
        field = str(error.get("field"))
        unstated = field in outside or any(re.fullmatch(rule, field) for rule in rules)
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
    case.call_and_validate(
        additional_checks=[
            refused_only_for_unstated_rules,
            malformed_only_outside_the_schema,
            signed_in_requests_are_let_in,
        ]
    )
