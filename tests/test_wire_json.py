"""One JSON style on the wire: every read route answers compact JSON, whatever produced its bytes (msgspec,
Redis documents stored as encoded, Postgres' own JSON rendering for the change feed)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from core.redis import Keys
from core.settings import Settings
from projections.runner import project_user
from tests.accounts import access_headers, bearer, sign_up
from tests.security.inventory import OPERATIONS, concrete
from tests.test_custom_exercises import LANDMINE
from tests.test_routines import PUSH_A
from tests.workouts import workout

#: Read routes whose answer is not JSON, or lasts: the event stream, the metrics, the documentation.
NOT_JSON = ("/v1/stream", "/metrics", "/schema")
READS = [op for op in OPERATIONS if op.method == "GET" and not op.path.startswith(NOT_JSON)]


def compact(body: bytes) -> bytes:
    return msgspec.json.encode(msgspec.json.decode(body))


def test_the_compact_re_encoding_tells_postgres_json_apart() -> None:
    assert compact(b'{"version" : 1, "event" : {"a": [1, 2]}}') == b'{"version":1,"event":{"a":[1,2]}}'
    assert compact(b'{"a":"x , y : z"}') == b'{"a":"x , y : z"}'


async def test_every_read_route_answers_compact_json(
    client: Any, settings: Settings, resources: tuple[Any, Any, Keys]
) -> None:
    me = await sign_up(client)
    user_id = uuid.UUID(me["user"]["id"])
    friend = await sign_up(client)
    headers = bearer(me)
    workout_id, routine_id, exercise_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    writes = [
        ("PUT", f"/v1/workouts/{workout_id}", workout(notes="Felt strong: 5 \u00d7 5")),
        ("PUT", f"/v1/routines/{routine_id}", PUSH_A),
        ("PUT", f"/v1/exercises/{exercise_id}", LANDMINE),
        ("PUT", "/v1/bodyweight/2026-11-20", {"weight": {"value": 82.5, "unit": "kg"}}),
        ("PUT", f"/v1/follows/{friend['user']['id']}", None),
        ("PATCH", "/v1/me", {"leaderboardOptIn": True}),
    ]
    for method, path, body in writes:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code < 300, (path, response.text)
    pool, redis, keys = resources
    await project_user(pool, redis, keys, user_id)

    admin = {**access_headers(settings, "admin", user_id=user_id)}
    values = {
        "workout_id": workout_id,
        "routine_id": routine_id,
        "exercise_id": "barbell-bench-press",
        "day": "2026-11-20",
    }
    queries = {
        "/v1/users": {"handle": me["user"]["handle"]},
        "/v1/leaderboards/{board}": {"exerciseId": values["exercise_id"]},
    }
    checked, changes = [], b""
    for op in READS:
        path = concrete(op.path, **values)
        response = await client.get(
            path, params=queries.get(op.path), headers=admin if op.guarded else headers
        )
        if response.status_code != 200 or not response.headers["content-type"].startswith("application/json"):
            continue
        assert response.content == compact(response.content), (path, response.content[:300])
        checked.append(op.path)
        if op.path == "/v1/changes":
            changes = response.content
    assert {"/v1/changes", "/v1/workouts/{workout_id}", "/v1/stats/dashboard", "/v1/me"} <= set(checked)
    assert len(checked) >= len(READS) * 3 // 4, sorted(set(op.path for op in READS) - set(checked))
    assert "Felt strong: 5 \u00d7 5".encode() in changes  # the text inside is as sent
