"""Mass assignment: a field a body does not declare (userId, role, version, …) is a 422, and writes nothing.

Every route that reads a JSON body is probed; a completeness test fails for a new one until it has a
valid body here. The unknown field is sent last, so the 422 naming it also shows that the rest of the
body was valid.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from tests.accounts import PASSWORD, bearer, new_identity, sign_up
from tests.harness import assert_problem
from tests.security.inventory import OPERATIONS, concrete
from tests.test_custom_exercises import LANDMINE
from tests.test_routines import PUSH_A
from tests.workouts import workout

Body = Callable[[dict[str, Any]], dict[str, Any]]

#: A valid body per JSON route, for the signed-in user given.
BODIES: dict[str, Body] = {
    "POST /v1/auth/register": lambda me: new_identity(),
    "POST /v1/auth/login": lambda me: {"email": me["sent"]["email"], "password": PASSWORD},
    "POST /v1/auth/refresh": lambda me: {"refreshToken": me["refreshToken"]},
    "POST /v1/auth/oauth/{provider}": lambda me: {"idToken": "not-an-id-token"},
    "POST /v1/auth/oauth/apple/notifications": lambda me: {"payload": "not-a-notification"},
    "POST /v1/me/identities/{provider}": lambda me: {"idToken": "not-an-id-token"},
    "POST /v1/me/password": lambda me: {
        "currentPassword": PASSWORD,
        "newPassword": "another-long-passphrase-91",
    },
    "PATCH /v1/me": lambda me: {"displayName": "Renamed Lifter", "leaderboardOptIn": True},
    "DELETE /v1/me": lambda me: {"password": PASSWORD},
    "PUT /v1/workouts/{workout_id}": lambda me: workout(),
    "PUT /v1/routines/{routine_id}": lambda me: copy.deepcopy(PUSH_A),
    "PUT /v1/exercises/{exercise_id}": lambda me: copy.deepcopy(LANDMINE),
    "PUT /v1/bodyweight/{day}": lambda me: {"weight": {"value": 80, "unit": "kg"}},
}

#: Fields a client might try to set on a server-owned attribute.
UNKNOWN_FIELDS = {
    "userId": str(uuid.uuid4()),
    "role": "admin",
    "version": 99,
    "createdAt": "2020-01-01T00:00:00Z",
    "id": str(uuid.uuid4()),
    "passwordHash": "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
}

JSON_ROUTES = [op for op in OPERATIONS if op.body == "application/json"]


def test_every_json_route_has_a_valid_body_here() -> None:
    assert {op.label for op in JSON_ROUTES} == set(BODIES)


async def fingerprint(db: asyncpg.Connection, user_id: str) -> tuple[Any, ...]:
    """Everything a command of the user could have changed: their row, sessions, stream; all users."""
    row = await db.fetchrow(
        """
        SELECT (SELECT row_to_json(u)::text FROM users u WHERE u.id = $1) AS account,
               (SELECT count(*) FROM refresh_families WHERE user_id = $1) AS sessions,
               (SELECT count(*) FILTER (WHERE t.used_at IS NOT NULL) FROM refresh_tokens t
                  JOIN refresh_families f ON f.id = t.family_id WHERE f.user_id = $1) AS used_tokens,
               (SELECT version FROM streams WHERE user_id = $1) AS stream,
               (SELECT count(*) FROM users) AS users
        """,
        uuid.UUID(user_id),
    )
    return tuple(row)


@pytest.mark.parametrize("field", list(UNKNOWN_FIELDS))
@pytest.mark.parametrize("label", sorted(BODIES))
async def test_an_unknown_field_is_a_422_naming_it_and_writes_nothing(
    client: Any, db: asyncpg.Connection, label: str, field: str
) -> None:
    me = await sign_up(client)
    method, _, path = label.partition(" ")
    before = await fingerprint(db, me["user"]["id"])
    body = {**BODIES[label](me), field: UNKNOWN_FIELDS[field]}
    response = await client.request(method, concrete(path), json=body, headers=bearer(me))
    problem = assert_problem(response, 422)
    assert [error["field"] for error in problem["errors"]] == [field], problem
    assert await fingerprint(db, me["user"]["id"]) == before
    # The session is intact: the refresh token was not used up by the refused request.
    assert (
        await client.post("/v1/auth/refresh", json={"refreshToken": me["refreshToken"]})
    ).status_code == 200


@pytest.mark.parametrize(
    ("label", "where"),
    [
        ("PUT /v1/workouts/{workout_id}", "exercises[0]"),
        ("PUT /v1/workouts/{workout_id}", "exercises[0].sets[1]"),
        ("PUT /v1/routines/{routine_id}", "exercises[1].sets[0]"),
    ],
)
async def test_an_unknown_nested_field_is_a_422_naming_its_path(
    client: Any, db: asyncpg.Connection, label: str, where: str
) -> None:
    me = await sign_up(client)
    method, _, path = label.partition(" ")
    body = BODIES[label](me)
    target: Any = body
    for step in where.replace("]", "").replace("[", ".").split("."):
        target = target[int(step)] if step.isdigit() else target[step]
    target["userId"] = str(uuid.uuid4())
    before = await fingerprint(db, me["user"]["id"])
    problem = assert_problem(await client.request(method, concrete(path), json=body, headers=bearer(me)), 422)
    assert [error["field"] for error in problem["errors"]] == [f"{where}.userId"]
    assert await fingerprint(db, me["user"]["id"]) == before


async def test_a_profile_change_cannot_grant_a_role(client: Any) -> None:
    me = await sign_up(client)
    for body in ({"role": "admin"}, {"displayName": "X Y", "role": "admin"}, {"Role": "admin"}):
        assert_problem(await client.patch("/v1/me", json=body, headers=bearer(me)), 422)
    signed_in = await client.post("/v1/auth/login", json={"email": me["sent"]["email"], "password": PASSWORD})
    assert signed_in.json()["user"]["role"] == "user"
