"""Body weight by day and follows: commands on the event log, read back from their read models."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.accounts import bearer, sign_up
from tests.harness import assert_problem, read_fresh

pytestmark = pytest.mark.e2e


def token(response: Any) -> str:
    return str(response.headers["x-consistency-token"])


async def test_body_weight_is_kept_per_day_as_entered_newest_first(client: Any, start_worker: Any) -> None:
    start_worker()
    me = bearer(await sign_up(client))
    await client.put("/v1/bodyweight/2026-11-20", json={"weight": {"value": 181.4, "unit": "lb"}}, headers=me)
    await client.put("/v1/bodyweight/2026-11-21", json={"weight": {"value": 82.5, "unit": "kg"}}, headers=me)
    last = await client.put(
        "/v1/bodyweight/2026-11-21", json={"weight": {"value": 82.3, "unit": "kg"}}, headers=me
    )
    same = await client.put(
        "/v1/bodyweight/2026-11-21", json={"weight": {"value": 82.3, "unit": "kg"}}, headers=me
    )

    assert last.status_code == same.status_code == 204
    assert same.headers["x-consistency-token"] == last.headers["x-consistency-token"]  # nothing new
    log = await read_fresh(client, "/v1/bodyweight", me, token(last))
    assert log.status_code == 200
    assert log.json()["items"] == [
        {"date": "2026-11-21", "weight": {"value": 82.3, "unit": "kg"}, "kg": 82.3},
        {"date": "2026-11-20", "weight": {"value": 181.4, "unit": "lb"}, "kg": 82.28},
    ]

    forgotten = await client.delete("/v1/bodyweight/2026-11-20", headers=me)
    again = await client.delete("/v1/bodyweight/2026-11-20", headers=me)
    assert forgotten.status_code == again.status_code == 204
    log = await read_fresh(client, "/v1/bodyweight", me, token(forgotten))
    assert [item["date"] for item in log.json()["items"]] == ["2026-11-21"]


async def test_body_weight_pages_with_a_cursor(client: Any, start_worker: Any) -> None:
    start_worker()
    me = bearer(await sign_up(client))
    for day in range(1, 6):
        last = await client.put(
            f"/v1/bodyweight/2026-11-0{day}", json={"weight": {"value": 80 + day, "unit": "kg"}}, headers=me
        )
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    for _ in range(5):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        page = (await read_fresh(client, f"/v1/bodyweight?{query}", me, token(last))).json()
        seen += [item["date"] for item in page["items"]]
        if "nextCursor" not in page:
            break
        params["cursor"] = page["nextCursor"]
    assert seen == [f"2026-11-0{day}" for day in range(5, 0, -1)]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/bodyweight/2026-11-20", {"weight": {"value": 5, "unit": "kg"}}, "weight.value"),
        ("/v1/bodyweight/2099-01-01", {"weight": {"value": 80, "unit": "kg"}}, "date"),
        ("/v1/bodyweight/2026-11-20", {"weight": {"value": 80, "unit": "st"}}, "weight.unit"),
        ("/v1/bodyweight/2026-11-20", {"weight": {"value": 80, "unit": "kg"}, "userId": "x"}, "userId"),
    ],
)
async def test_bad_body_weights_are_422(client: Any, path: str, body: dict[str, Any], field: str) -> None:
    me = bearer(await sign_up(client))
    response = await client.put(path, json=body, headers=me)
    assert assert_problem(response, 422)["errors"][0]["field"] == field


async def test_follows_are_listed_with_public_fields_and_are_idempotent(
    client: Any, start_worker: Any
) -> None:
    start_worker()
    me = bearer(await sign_up(client))
    friend = await sign_up(client)
    friend_id = friend["user"]["id"]

    first = await client.put(f"/v1/follows/{friend_id}", headers=me)
    again = await client.put(f"/v1/follows/{friend_id}", headers=me)

    assert first.status_code == again.status_code == 204
    assert again.headers["x-consistency-token"] == first.headers["x-consistency-token"]
    listed = (await read_fresh(client, "/v1/follows", me, token(first))).json()["items"]
    assert len(listed) == 1
    assert listed[0]["userId"] == friend_id and listed[0]["handle"] == friend["user"]["handle"]
    assert set(listed[0]) == {"userId", "handle", "displayName", "followedAt"}

    dropped = await client.delete(f"/v1/follows/{friend_id}", headers=me)
    assert dropped.status_code == 204
    assert (await read_fresh(client, "/v1/follows", me, token(dropped))).json()["items"] == []


async def test_following_nobody_or_yourself_is_refused(client: Any) -> None:
    signed_in = await sign_up(client)
    me = bearer(signed_in)
    assert_problem(await client.put(f"/v1/follows/{uuid.uuid4()}", headers=me), 404)
    self_follow = await client.put(f"/v1/follows/{signed_in['user']['id']}", headers=me)
    assert assert_problem(self_follow, 422)["errors"][0]["field"] == "userId"


async def test_one_users_lists_are_not_anothers(client: Any, start_worker: Any) -> None:
    start_worker()
    me = bearer(await sign_up(client))
    friend = await sign_up(client)
    written = await client.put(
        "/v1/bodyweight/2026-11-20", json={"weight": {"value": 80, "unit": "kg"}}, headers=me
    )
    followed = await client.put(f"/v1/follows/{friend['user']['id']}", headers=me)
    other = bearer(await sign_up(client))
    # Once both writes are projected, the other user still sees nothing of them.
    assert (await read_fresh(client, "/v1/follows", me, token(followed))).json()["items"]
    assert (await read_fresh(client, "/v1/bodyweight", me, token(written))).json()["items"]
    assert (await client.get("/v1/bodyweight", headers=other)).json()["items"] == []
    assert (await client.get("/v1/follows", headers=other)).json()["items"] == []
