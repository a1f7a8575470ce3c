"""Leaderboards over HTTP with a real worker: visibility rules, scores, retraction, Redis loss."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from core.settings import Settings
from projections.leaderboards import BoardKeys
from queries.leaderboards import Leaderboards
from tests.accounts import PASSWORD, bearer, sign_up
from tests.harness import assert_problem, delete_prefix, read_fresh

pytestmark = pytest.mark.e2e

# Weeks and exercises no other test logs (2019 is test_analytics.py's), one pair per test, so the shared
# database does not leak in.
BOARDS = {
    "visibility": ("2018-W10", "2018-03-07T18:00:00+00:00", "barbell-front-squat"),
    "changes": ("2018-W11", "2018-03-14T18:00:00+00:00", "barbell-overhead-squat"),
    "evicted": ("2018-W12", "2018-03-21T18:00:00+00:00", "barbell-box-squat"),
}


def squat_day(weight: float, reps: int, started_at: str, exercise: str) -> dict[str, Any]:
    return {
        "title": "Squats",
        "startedAt": started_at,
        "exercises": [
            {
                "exerciseId": exercise,
                "sets": [
                    {"type": "warmup", "reps": 5, "weight": {"value": 200, "unit": "kg"}},  # never counts
                    {"reps": reps, "weight": {"value": weight, "unit": "kg"}},
                ],
            }
        ],
    }


class Lifter:
    def __init__(self, signed_in: dict[str, Any]) -> None:
        self.id = signed_in["user"]["id"]
        self.handle = signed_in["user"]["handle"]
        self.headers = bearer(signed_in)
        self.token = "0"

    async def write(self, client: Any, method: str, path: str, **kwargs: Any) -> Any:
        response = await client.request(method, path, headers=self.headers, **kwargs)
        assert response.status_code < 300, response.text
        self.token = response.headers["x-consistency-token"]
        return response

    async def settle(self, client: Any) -> None:
        """Wait until the worker has projected and synced everything this lifter wrote."""
        fresh = await read_fresh(client, "/v1/stats/dashboard", self.headers, self.token)
        assert fresh.status_code == 200 and fresh.headers.get("x-consistency") != "stale"


async def board(client: Any, lifter: Lifter, name: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"/v1/leaderboards/{name}", params=params, headers=lifter.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def ranking(view: dict[str, Any]) -> list[tuple[str, float]]:
    return [(entry["handle"], entry["score"]) for entry in view["top"]]


async def _lifters(client: Any, started_at: str, exercise: str) -> tuple[Lifter, Lifter, Lifter, Lifter]:
    ann, bob, cat, dan = [Lifter(await sign_up(client)) for _ in range(4)]
    for opted in (ann, bob, dan):  # cat never opts in
        await opted.write(client, "PATCH", "/v1/me", json={"leaderboardOptIn": True})
    await ann.write(client, "PUT", f"/v1/follows/{bob.id}")
    await ann.write(client, "PUT", f"/v1/follows/{cat.id}")
    await cat.write(client, "PUT", f"/v1/follows/{ann.id}")
    # Working sets: 100x5 (500 kg, Epley 116.67), 120x5 (600, 140), 80x5 (400, 93.33), 60x9 (540, 78).
    for lifter, (weight, reps) in zip(
        (ann, bob, cat, dan), ((100, 5), (120, 5), (80, 5), (60, 9)), strict=True
    ):
        await lifter.write(
            client, "PUT", f"/v1/workouts/{uuid.uuid4()}", json=squat_day(weight, reps, started_at, exercise)
        )
    await ann.write(client, "PUT", "/v1/bodyweight/2018-03-02", json={"weight": {"value": 80, "unit": "kg"}})
    await ann.write(client, "PUT", "/v1/bodyweight/2018-03-09", json={"weight": {"value": 100, "unit": "kg"}})
    for lifter in (ann, bob, cat, dan):
        await lifter.settle(client)
    return ann, bob, cat, dan


async def test_boards_show_opted_in_users_and_friends_see_themselves(client: Any, start_worker: Any) -> None:
    start_worker()
    week, started_at, squat = BOARDS["visibility"]
    ann, bob, cat, dan = await _lifters(client, started_at, squat)

    weekly = await board(client, ann, "weekly-volume", period=week)
    assert ranking(weekly) == [(bob.handle, 600.0), (dan.handle, 540.0), (ann.handle, 500.0)]
    assert weekly["entries"] == 3 and weekly["unit"] == "kg" and weekly["key"] == week
    assert weekly["me"]["rank"] == 3 and weekly["me"]["userId"] == ann.id
    assert [e["rank"] for e in weekly["around"]] == [1, 2, 3]

    friends = await board(client, ann, "weekly-volume", period=week, scope="friends")
    assert ranking(friends) == [(bob.handle, 600.0), (ann.handle, 500.0)]  # cat follows no opt-in rule

    # Cat never opted in: absent from the global board, but on her own friends board.
    cats_global = await board(client, cat, "weekly-volume", period=week)
    assert cat.handle not in [h for h, _ in ranking(cats_global)] and "me" not in cats_global
    cats_friends = await board(client, cat, "weekly-volume", period=week, scope="friends")
    assert ranking(cats_friends) == [(ann.handle, 500.0), (cat.handle, 400.0)]
    assert cats_friends["me"]["rank"] == 2

    e1rm = await board(client, dan, "e1rm", exerciseId=squat)
    assert ranking(e1rm) == [(bob.handle, 140.0), (ann.handle, 116.67), (dan.handle, 78.0)]
    relative = await board(client, ann, "e1rm-relative", exerciseId=squat)
    # Only Ann has a body weight; the latest (100 kg) counts: 116.67 / 100.
    assert ranking(relative) == [(ann.handle, 1.17)] and relative["unit"] == "x bodyweight"

    top_one = await board(client, ann, "weekly-volume", period=week, limit=1)
    assert ranking(top_one) == [(bob.handle, 600.0)] and top_one["me"]["rank"] == 3


async def test_boards_follow_amends_deletes_opt_outs_erasure_and_redis_loss(
    client: Any, start_worker: Any, settings: Settings
) -> None:
    start_worker()
    week, started_at, squat = BOARDS["changes"]
    ann, bob, _, dan = await _lifters(client, started_at, squat)
    bobs_workout = uuid.uuid4()
    heavier = squat_day(130, 5, started_at, squat)
    await bob.write(client, "PUT", f"/v1/workouts/{bobs_workout}", json=heavier)  # 650, e1rm 151.67
    await bob.settle(client)
    weekly = await board(client, ann, "weekly-volume", period=week)
    assert ranking(weekly)[0] == (bob.handle, 1250.0)
    assert ranking(await board(client, ann, "e1rm", exerciseId=squat))[0] == (bob.handle, 151.67)

    # Deleting the workout that holds the best hands the place back to the earlier one.
    await bob.write(client, "DELETE", f"/v1/workouts/{bobs_workout}")
    await bob.settle(client)
    assert ranking(await board(client, ann, "weekly-volume", period=week))[0] == (bob.handle, 600.0)
    assert ranking(await board(client, ann, "e1rm", exerciseId=squat))[0] == (bob.handle, 140.0)

    # Opting out takes every score off the global boards at once.
    await dan.write(client, "PATCH", "/v1/me", json={"leaderboardOptIn": False})
    await dan.settle(client)
    assert dan.handle not in [h for h, _ in ranking(await board(client, ann, "e1rm", exerciseId=squat))]

    # Redis loses everything: boards come back from Postgres on the next read.
    assert await delete_prefix(settings.redis.url or "", settings.redis.prefix) > 0
    rebuilt = await board(client, ann, "weekly-volume", period=week)
    assert ranking(rebuilt) == [(bob.handle, 600.0), (ann.handle, 500.0)]

    # Erasure takes the user off every board.
    erased = await client.request("DELETE", "/v1/me", json={"password": PASSWORD}, headers=bob.headers)
    assert erased.status_code == 204, erased.text
    after = await board(client, ann, "e1rm", exerciseId=squat)
    assert ranking(after) == [(ann.handle, 116.67)]
    assert ranking(await board(client, ann, "weekly-volume", period=week)) == [(ann.handle, 500.0)]


async def test_a_board_evicted_right_after_its_rebuild_is_answered_from_postgres(
    client: Any, start_worker: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache Redis short of memory may evict a board between its rebuild and the read that follows:
    the answer is still the board, not an empty one."""
    start_worker()
    week, started_at, squat = BOARDS["evicted"]
    ann, bob, _, dan = await _lifters(client, started_at, squat)
    global_view = [(bob.handle, 600.0), (dan.handle, 540.0), (ann.handle, 500.0)]
    assert ranking(await board(client, ann, "weekly-volume", period=week)) == global_view
    rebuild = Leaderboards._ensure
    evictions = []

    async def rebuilt_then_evicted(self: Leaderboards, name: str, key: str, now: Any) -> BoardKeys:
        names = await rebuild(self, name, key, now)
        evictions.append(await self.redis.unlink(names.scores))
        return names

    monkeypatch.setattr(Leaderboards, "_ensure", rebuilt_then_evicted)
    assert await delete_prefix(settings.redis.url or "", settings.redis.prefix) > 0
    assert ranking(await board(client, dan, "weekly-volume", period=week)) == global_view
    friends = await board(client, ann, "weekly-volume", period=week, scope="friends")
    assert ranking(friends) == [(bob.handle, 600.0), (ann.handle, 500.0)]
    assert evictions and all(evictions), "the board was never rebuilt and evicted"


async def test_board_requests_are_checked(client: Any) -> None:
    me = bearer(await sign_up(client))
    assert_problem(await client.get("/v1/leaderboards/bench-press-glory", headers=me), 404)
    missing = assert_problem(await client.get("/v1/leaderboards/e1rm", headers=me), 422)
    assert missing["errors"][0]["field"] == "exerciseId"
    assert_problem(await client.get("/v1/leaderboards/weekly-volume?period=2026-48", headers=me), 422)
    assert_problem(await client.get("/v1/leaderboards/weekly-volume?period=2026-W60", headers=me), 422)
    assert_problem(await client.get("/v1/leaderboards/weekly-volume?scope=world", headers=me), 422)
    assert_problem(await client.get("/v1/leaderboards/weekly-volume?limit=1000", headers=me), 422)
    assert_problem(await client.get("/v1/leaderboards/weekly-volume"), 401)
    empty = await client.get("/v1/leaderboards/weekly-volume", headers=me)
    assert empty.status_code == 200 and "me" not in empty.json()
