"""Broken object-level authorization, on every route: another user's ids reveal and change nothing.

Every operation with a path parameter gets a probe (a completeness test fails for a new one until it
has one); every list, feed and export of the caller's own data is read by an intruder and searched for
the owner's ids. Read models are projected in-process, so no worker is needed.
tests/test_ownership.py does the same journey end to end with a real worker; tests/test_stream.py
checks, against a real API process, that a stream carries only its user's announcements.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from redis import Redis as SyncRedis

from core.redis import Keys
from core.settings import Settings
from projections.cache import projected_channel
from tests.accounts import bearer, sign_up
from tests.harness import assert_problem
from tests.security.conftest import expiring_headers, stream_version
from tests.security.inventory import OPERATIONS, Operation, concrete
from tests.test_custom_exercises import LANDMINE, using
from tests.test_routines import PUSH_A

OWNER_TITLE = "Owner's secret squat day"
OWNER_EXERCISE = {**LANDMINE, "name": "Owner Landmine Twist"}
DAY = "2026-11-20"


@dataclass
class World:
    owner: dict[str, Any]
    intruder: dict[str, Any]
    friend: dict[str, Any]
    exercise_id: uuid.UUID = field(default_factory=uuid.uuid4)
    workout_id: uuid.UUID = field(default_factory=uuid.uuid4)
    routine_id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def owner_id(self) -> str:
        return str(self.owner["user"]["id"])

    @property
    def intruder_id(self) -> str:
        return str(self.intruder["user"]["id"])

    def path(self, template: str) -> str:
        return concrete(
            template,
            workout_id=self.workout_id,
            routine_id=self.routine_id,
            exercise_id=self.exercise_id,
            user_id=self.friend["user"]["id"],
            day=DAY,
        )

    def secrets(self) -> list[str]:
        """What of the owner's must never reach the intruder."""
        return [
            self.owner_id,
            str(self.exercise_id),
            str(self.workout_id),
            str(self.routine_id),
            OWNER_TITLE,
            OWNER_EXERCISE["name"],
            self.owner["user"]["email"],
        ]


async def _ok(response: Any) -> Any:
    assert response.status_code in {200, 201, 204}, response.text
    return response


@pytest.fixture
async def world(client: Any, project: Any) -> World:
    """An owner with one of everything (projected), a friend the owner follows, and an intruder."""
    owner, friend, intruder = await sign_up(client), await sign_up(client), await sign_up(client)
    w = World(owner=owner, intruder=intruder, friend=friend)
    me = bearer(owner)
    await _ok(await client.put(f"/v1/exercises/{w.exercise_id}", json=OWNER_EXERCISE, headers=me))
    body = {**using(str(w.exercise_id)), "title": OWNER_TITLE}
    await _ok(await client.put(f"/v1/workouts/{w.workout_id}", json=body, headers=me))
    routine = {**PUSH_A, "exercises": [*PUSH_A["exercises"], {"exerciseId": str(w.exercise_id), "sets": []}]}
    await _ok(await client.put(f"/v1/routines/{w.routine_id}", json=routine, headers=me))
    await _ok(
        await client.put(f"/v1/bodyweight/{DAY}", json={"weight": {"value": 80, "unit": "kg"}}, headers=me)
    )
    await _ok(await client.put(f"/v1/follows/{friend['user']['id']}", headers=me))
    for user in (owner, friend, intruder):
        await project(user["user"]["id"])
    return w


OWNER_VIEWS = [
    "/v1/workouts/{workout_id}",
    "/v1/routines/{routine_id}",
    "/v1/exercises/{exercise_id}",
    "/v1/exercises/{exercise_id}/history",
    "/v1/exercises/{exercise_id}/history/last",
    "/v1/records/{exercise_id}",
    "/v1/workouts",
    "/v1/routines",
    "/v1/bodyweight",
    "/v1/follows",
    "/v1/records",
    "/v1/changes?since=0",
    "/v1/me",
    "/v1/me/export",
    "/v1/me/export/workouts.csv",
    "/v1/stats/dashboard",
]


async def owner_view(client: Any, w: World) -> dict[str, tuple[int, str]]:
    """Everything the owner can see of their own data."""
    view = {}
    for template in OWNER_VIEWS:
        response = await client.get(w.path(template), headers=bearer(w.owner))
        assert response.status_code == 200, (template, response.text)
        view[template] = (response.status_code, response.text)
    return view


# How an intruder's request on another user's id must end, per operation.


@dataclass(frozen=True)
class Probe:
    # hidden: 404 | empty: 200, no items | unlisted: 200, the owner absent | forbidden: 403
    # own: acts on the caller's own data (the id is not the owner's object)
    expect: str
    body: Callable[[World], Any] | None = None
    why: str = ""


PROBES: dict[str, Probe] = {
    "GET /v1/workouts/{workout_id}": Probe("hidden"),
    "PUT /v1/workouts/{workout_id}": Probe("hidden", body=lambda w: using("barbell-bench-press")),
    "DELETE /v1/workouts/{workout_id}": Probe("hidden"),
    "GET /v1/routines/{routine_id}": Probe("hidden"),
    "PUT /v1/routines/{routine_id}": Probe("hidden", body=lambda w: PUSH_A),
    "DELETE /v1/routines/{routine_id}": Probe("hidden"),
    "GET /v1/exercises/{exercise_id}": Probe("hidden"),
    "PUT /v1/exercises/{exercise_id}": Probe("hidden", body=lambda w: LANDMINE),
    "DELETE /v1/exercises/{exercise_id}": Probe("hidden"),
    "GET /v1/exercises/{exercise_id}/history": Probe("empty", why="the caller's own history of that id"),
    "GET /v1/exercises/{exercise_id}/history/last": Probe("hidden"),
    "GET /v1/records/{exercise_id}": Probe("hidden"),
    "PUT /v1/bodyweight/{day}": Probe(
        "own", body=lambda w: {"weight": {"value": 120, "unit": "kg"}}, why="a day of the caller's own log"
    ),
    "DELETE /v1/bodyweight/{day}": Probe("own", why="a day of the caller's own log"),
    "PUT /v1/follows/{user_id}": Probe("own", why="the id names a person to follow: the caller's own list"),
    "DELETE /v1/follows/{user_id}": Probe("own", why="removes the caller's own follow, not the owner's"),
    "GET /v1/leaderboards/{board}": Probe("unlisted", why="boards list opted-in users; the owner is not one"),
    "GET /v1/diagnostics/ping/{token}": Probe("forbidden", why="admins only"),
}

#: Path parameters that name no object of any user: a sign-in provider is the same for everyone.
NOT_IDS = {"provider"}
WITH_IDS = [op for op in OPERATIONS if set(op.path_params) - NOT_IDS and not op.public]


def test_every_route_with_an_id_has_a_probe() -> None:
    assert {op.label for op in WITH_IDS} == set(PROBES), "say how an intruder's request must end"


@pytest.mark.parametrize("op", WITH_IDS, ids=[op.label for op in WITH_IDS])
async def test_another_users_id_reveals_and_changes_nothing(
    client: Any, world: World, project: Any, db: asyncpg.Connection, op: Operation
) -> None:
    probe = PROBES[op.label]
    before = await owner_view(client, world)
    owner_version = await stream_version(db, world.owner_id)
    intruder_version = await stream_version(db, world.intruder_id)
    url = world.path(op.path)
    if op.path == "/v1/leaderboards/{board}":
        url += "?period=2026-W48&scope=global"
    body = probe.body(world) if probe.body else None
    for extra in ({}, {"If-Match": '"1"'}) if op.method in {"PUT", "DELETE"} else ({},):
        headers = {**bearer(world.intruder), **extra}
        response = await client.request(op.method, url, json=body, headers=headers)
        if probe.expect == "hidden":
            assert_problem(response, 404)
        elif probe.expect == "forbidden":
            assert_problem(response, 403)
        elif probe.expect == "empty":
            assert response.status_code == 200, response.text
            assert response.json()["items"] == []
        else:  # own, unlisted: the check below that nothing of the owner's is in the answer
            assert response.status_code in {200, 201, 204}, response.text
        assert not [s for s in world.secrets() if s in response.text and s not in url], response.text
    if probe.expect != "own":
        assert await stream_version(db, world.intruder_id) == intruder_version, "the intruder wrote something"

    await project(world.owner_id)
    assert await stream_version(db, world.owner_id) == owner_version
    assert await owner_view(client, world) == before


# Lists, feeds and exports: only the caller's own data, whoever else exists.

LISTS = [
    op
    for op in OPERATIONS
    if op.method == "GET"
    and not op.path_params
    and not op.public
    and not op.guarded
    and op.path != "/v1/stream"
]


@pytest.mark.parametrize("op", LISTS, ids=[op.label for op in LISTS])
async def test_an_intruders_lists_and_exports_hold_nothing_of_the_owner(
    client: Any, world: World, op: Operation
) -> None:
    params: dict[str, str] = {}
    if op.path == "/v1/users":
        params["handle"] = world.intruder["user"]["handle"]  # people search: public fields of matches only
    elif op.path == "/v1/changes":
        params["since"] = "0"
    elif op.path == "/v1/exercises":
        params["q"] = OWNER_EXERCISE["name"]
    response = await client.get(op.path, params=params, headers=bearer(world.intruder))
    assert response.status_code == 200, response.text
    leaked = [s for s in world.secrets() if s in response.text]
    assert not leaked, (op.label, leaked)


async def test_people_search_shows_public_fields_only(client: Any, world: World) -> None:
    response = await client.get(
        "/v1/users", params={"handle": world.owner["user"]["handle"]}, headers=bearer(world.intruder)
    )
    assert response.status_code == 200, response.text
    [found] = response.json()["items"]
    assert set(found) == {"id", "handle", "displayName"}


async def test_importing_the_owners_export_touches_only_the_importer(
    client: Any, world: World, project: Any, db: asyncpg.Connection
) -> None:
    before = await owner_view(client, world)
    owner_version = await stream_version(db, world.owner_id)
    csv = (await client.get("/v1/me/export/workouts.csv", headers=bearer(world.owner))).content
    files = {"file": ("strong.csv", csv, "text/csv")}
    for dry_run in ("true", "false"):
        imported = await client.post(
            "/v1/imports", files=files, params={"dryRun": dry_run}, headers=bearer(world.intruder)
        )
        assert imported.status_code == 200, imported.text
        assert imported.json()["workoutsCreated"] == 1
    await project(world.intruder_id)
    feed = (await client.get("/v1/workouts", headers=bearer(world.intruder))).json()["items"]
    assert len(feed) == 1 and feed[0]["id"] != str(world.workout_id)

    await project(world.owner_id)
    assert await stream_version(db, world.owner_id) == owner_version
    assert await owner_view(client, world) == before


def _announce_until(stop: threading.Event, redis_url: str, channels: dict[str, int]) -> None:
    """Publish increasing versions on `channels` until `stop` (from a thread: the in-process client
    holds the event loop until the stream's response ends)."""
    redis = SyncRedis.from_url(redis_url)
    try:
        while not stop.wait(0.2):
            for channel, version in channels.items():
                channels[channel] = version + 1
                redis.publish(channel, str(version + 1))
    finally:
        redis.close()


async def test_a_stream_carries_nothing_of_another_user(
    client: Any, world: World, settings: Settings
) -> None:
    assert settings.redis.url
    keys = Keys(settings.redis.prefix)
    own = projected_channel(keys, uuid.UUID(world.intruder_id))
    others = projected_channel(keys, uuid.UUID(world.owner_id))
    stop = threading.Event()
    announcer = threading.Thread(
        target=_announce_until, args=(stop, settings.redis.url, {own: 1_000_000, others: 2_000_000})
    )
    announcer.start()
    try:
        response = await client.get(
            "/v1/stream", headers=expiring_headers(settings, uuid.UUID(world.intruder_id), 3)
        )
    finally:
        stop.set()
        announcer.join()
    assert response.status_code == 200
    assert '"version":1000' in response.text, "the intruder's own announcements arrived"
    assert '"version":2000' not in response.text
    assert world.owner_id not in response.text
