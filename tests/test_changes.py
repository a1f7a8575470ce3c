"""The sync feed: a phone replaying it from zero ends with exactly the server's current state."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest

from api.changes import ChangePage
from tests.accounts import bearer, sign_up
from tests.harness import assert_problem, read_fresh
from tests.workouts import workout

pytestmark = pytest.mark.e2e

LANDMINE = {
    "name": "Landmine Press",
    "category": "barbell",
    "equipment": "barbell",
    "measurement": "weight_reps",
    "primaryMuscles": ["shoulders"],
}


class Phone:
    """What an offline client keeps, rebuilt only from the change feed."""

    def __init__(self) -> None:
        self.since = 0
        self.profile: dict[str, Any] = {}
        self.workouts: dict[str, dict[str, Any]] = {}
        self.routines: dict[str, dict[str, Any]] = {}
        self.exercises: dict[str, dict[str, Any]] = {}
        self.bodyweight: dict[str, dict[str, Any]] = {}
        self.follows: set[str] = set()

    def apply(self, change: dict[str, Any]) -> None:
        event, kind = change["event"], change["type"]
        if kind in ("UserRegistered", "ProfileChanged"):
            self.profile.update({k: v for k, v in event.items() if k != "type"})
        elif kind in ("WorkoutLogged", "WorkoutAmended"):
            self.workouts[event["workoutId"]] = event["workout"]
        elif kind == "WorkoutDeleted":
            self.workouts.pop(event["workoutId"])
        elif kind == "RoutineDefined":
            self.routines[event["routineId"]] = event["routine"]
        elif kind == "RoutineDeleted":
            self.routines.pop(event["routineId"])
        elif kind == "ExerciseDefined":
            self.exercises[event["exerciseId"]] = event["exercise"]
        elif kind == "ExerciseDeleted":
            self.exercises.pop(event["exerciseId"])
        elif kind == "BodyweightRecorded":
            self.bodyweight[event["day"]] = event["weight"]
        elif kind == "BodyweightDeleted":
            self.bodyweight.pop(event["day"])
        elif kind == "Followed":
            self.follows.add(event["followeeId"])
        elif kind == "Unfollowed":
            self.follows.discard(event["followeeId"])
        else:
            raise AssertionError(f"a change the phone does not know: {kind}")

    async def sync(self, client: Any, headers: dict[str, str], limit: int = 3) -> int:
        """Pull every page; how many pages it took."""
        pages = 0
        while True:
            response = await client.get(
                "/v1/changes", params={"since": self.since, "limit": limit}, headers=headers
            )
            assert response.status_code == 200, response.text
            page = msgspec.json.decode(response.content, type=ChangePage)  # the documented shape
            body = response.json()
            for change in body["changes"]:
                assert change["version"] == self.since + 1, "changes come in order, without gaps"
                self.apply(change)
                self.since = change["version"]
            pages += 1
            assert page.next_since == self.since
            if not body["hasMore"]:
                return pages


async def test_replaying_the_feed_from_zero_rebuilds_the_servers_state(
    client: Any, start_worker: Any
) -> None:
    start_worker()
    signed_in = await sign_up(client)
    me = bearer(signed_in)
    friend = await sign_up(client)
    kept, amended, removed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    exercise_id, routine_id = str(uuid.uuid4()), str(uuid.uuid4())

    await client.patch("/v1/me", json={"unit": "lb", "timezone": "Europe/Berlin"}, headers=me)
    await client.put(f"/v1/exercises/{exercise_id}", json=LANDMINE, headers=me)
    await client.put(f"/v1/workouts/{kept}", json=workout(), headers=me)
    await client.put(f"/v1/workouts/{amended}", json=workout(), headers=me)
    await client.put(
        f"/v1/workouts/{amended}", json=workout(title="Amended"), headers={**me, "If-Match": '"1"'}
    )
    await client.put(f"/v1/workouts/{removed}", json=workout(), headers=me)
    await client.delete(f"/v1/workouts/{removed}", headers=me)
    routine = {"name": "Push A", "exercises": [{"exerciseId": exercise_id, "sets": [{"reps": 8}]}]}
    await client.put(f"/v1/routines/{routine_id}", json=routine, headers=me)
    await client.put("/v1/bodyweight/2026-11-20", json={"weight": {"value": 181.4, "unit": "lb"}}, headers=me)
    await client.put("/v1/bodyweight/2026-11-21", json={"weight": {"value": 82, "unit": "kg"}}, headers=me)
    await client.delete("/v1/bodyweight/2026-11-21", headers=me)
    last = await client.put(f"/v1/follows/{friend['user']['id']}", headers=me)

    phone = Phone()
    pages = await phone.sync(client, me)

    assert pages > 1
    assert phone.since == int(last.headers["x-consistency-token"])
    server_me = (await client.get("/v1/me", headers=me)).json()
    for field in (
        "handle",
        "displayName",
        "unit",
        "timezone",
        "weekStart",
        "e1rmFormula",
        "leaderboardOptIn",
    ):
        assert phone.profile[field] == server_me[field], field
    assert set(phone.workouts) == {str(kept), str(amended)}
    for workout_id, body in phone.workouts.items():
        detail = (await read_fresh(client, f"/v1/workouts/{workout_id}", me, str(phone.since))).json()
        assert detail["title"] == body["title"] and detail["startedAt"] == body["startedAt"]
        sent_sets = [s for e in body["exercises"] for s in e["sets"]]
        served_sets = [s for e in detail["exercises"] for s in e["sets"]]
        assert [s.get("weight") for s in served_sets] == [
            {**s["weight"], "value": float(s["weight"]["value"])} if "weight" in s else None
            for s in sent_sets
        ]
    routines = (await read_fresh(client, "/v1/routines", me, str(phone.since))).json()["items"]
    assert {r["id"]: r["name"] for r in routines} == {k: v["name"] for k, v in phone.routines.items()}
    assert set(phone.exercises) == {exercise_id}
    log = (await read_fresh(client, "/v1/bodyweight", me, str(phone.since))).json()["items"]
    assert {e["date"]: e["weight"] for e in log} == {
        day: {**w, "value": float(w["value"])} for day, w in phone.bodyweight.items()
    }
    follows = (await read_fresh(client, "/v1/follows", me, str(phone.since))).json()["items"]
    assert {f["userId"] for f in follows} == phone.follows

    # Later, only what is new comes down.
    await client.delete(f"/v1/workouts/{kept}", headers=me)
    assert await phone.sync(client, me) == 1
    assert set(phone.workouts) == {str(amended)}


async def test_the_feed_is_the_callers_own(client: Any) -> None:
    owner = bearer(await sign_up(client))
    await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=owner)
    other = bearer(await sign_up(client))
    changes = (await client.get("/v1/changes", headers=other)).json()["changes"]
    assert [c["type"] for c in changes] == ["UserRegistered"]


@pytest.mark.parametrize("params", [{"since": -1}, {"limit": 0}, {"limit": 501}, {"since": "x"}])
async def test_bad_feed_parameters_are_422(client: Any, params: dict[str, Any]) -> None:
    me = bearer(await sign_up(client))
    assert_problem(await client.get("/v1/changes", params=params, headers=me), 422)


def test_the_change_type_lists_every_event_type() -> None:
    from typing import get_args

    from api.changes import EventType
    from commands.events import AnyEvent

    assert set(get_args(EventType)) == {event.__struct_config__.tag for event in get_args(AnyEvent)}
