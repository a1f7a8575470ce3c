"""CSV imports end to end: dry run, import, re-import, bad rows, and the projections they feed."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from core.settings import Settings
from tests.accounts import bearer, sign_up
from tests.harness import assert_problem, read_fresh

pytestmark = pytest.mark.e2e

DATA = Path(__file__).parent / "data" / "imports"


async def upload(client: Any, headers: dict[str, str], name: str, **params: Any) -> Any:
    files = {"file": (name, (DATA / name).read_bytes(), "text/csv")}
    query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}
    return await client.post("/v1/imports", files=files, params=query, headers=headers)


async def test_a_dry_run_reports_everything_and_writes_nothing(client: Any) -> None:
    me = bearer(await sign_up(client))
    dry = await upload(client, me, "hevy_metric.csv", dryRun=True)

    assert dry.status_code == 200, dry.text
    result = dry.json()
    assert result["dryRun"] is True and result["format"] == "hevy"
    assert result["workoutsCreated"] >= 1 and result["setsImported"] >= 1
    feed = await client.get("/v1/workouts", headers=me)
    assert feed.json()["items"] == []
    assert result["streamVersion"] == 1  # only the registration: everything else was rolled back


async def test_an_import_flows_through_the_projections_and_a_reimport_creates_nothing(
    client: Any, start_worker: Any
) -> None:
    start_worker()
    me = bearer(await sign_up(client))

    first = await upload(client, me, "hevy_imperial.csv")
    again = await upload(client, me, "hevy_imperial.csv")

    assert first.status_code == 200, first.text
    created = first.json()
    assert created["workoutsCreated"] >= 1 and created["errors"] == []
    assert first.headers["x-consistency-token"] == str(created["streamVersion"])
    assert again.json()["workoutsCreated"] == 0
    assert again.json()["workoutsUnchanged"] == created["workoutsCreated"]
    assert again.json()["exercisesCreated"] == []
    assert again.headers["x-consistency-token"] == first.headers["x-consistency-token"]

    feed = (await read_fresh(client, "/v1/workouts", me, first.headers["x-consistency-token"])).json()[
        "items"
    ]
    assert len(feed) == created["workoutsCreated"]
    heavy = next(item for item in feed if item["title"] == "Heavy Bench")
    detail = (await client.get(f"/v1/workouts/{heavy['id']}", headers=me)).json()
    bench = next(e for e in detail["exercises"] if e["exerciseId"] == "barbell-bench-press")
    assert bench["sets"][0]["type"] == "warmup"
    assert {"value": 224.9, "unit": "lb"} in [s.get("weight") for s in bench["sets"]]


async def test_strong_files_of_both_formats_import(client: Any) -> None:
    me = bearer(await sign_up(client))
    old = await upload(client, me, "strong_old_kg.csv", weightUnit="kg")
    new = await upload(client, me, "strong_v2.csv")
    assert old.status_code == 200, old.text
    assert new.status_code == 200, new.text
    assert old.json()["format"] == "strong" and old.json()["workoutsCreated"] >= 2
    assert new.json()["format"] == "strong_v2" and new.json()["workoutsCreated"] >= 1


@pytest.mark.parametrize(
    ("name", "params", "exercise_ids"),
    [
        ("strong_android.csv", {}, {"barbell-bench-press", "running", "barbell-back-squat", "plank"}),
        ("strong_android_short.csv", {"weightUnit": "lb"}, {"barbell-deadlift", "running"}),
        ("hevy_minimal.csv", {}, {"dumbbell-goblet-squat", "running"}),  # Hevy's "Treadmill" runs
    ],
)
async def test_exports_seen_in_the_wild_import_onto_catalog_exercises(
    client: Any, start_worker: Any, name: str, params: dict[str, str], exercise_ids: set[str]
) -> None:
    start_worker()
    me = bearer(await sign_up(client))
    response = await upload(client, me, name, **params)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["errors"] == [] and result["exercisesCreated"] == []
    token = response.headers["x-consistency-token"]
    feed = (await read_fresh(client, "/v1/workouts", me, token)).json()["items"]
    assert len(feed) == result["workoutsCreated"] >= 1
    logged = set()
    for item in feed:
        detail = (await client.get(f"/v1/workouts/{item['id']}", headers=me)).json()
        logged |= {exercise["exerciseId"] for exercise in detail["exercises"]}
    assert logged == exercise_ids


async def test_bad_rows_stop_the_import_unless_skipped(client: Any) -> None:
    me = bearer(await sign_up(client))

    refused = await upload(client, me, "strong_bad_rows.csv", weightUnit="kg")
    problem = assert_problem(refused, 422)
    assert [row["line"] for row in problem["rows"]] == [4, 6]
    assert (await client.get("/v1/workouts", headers=me)).json()["items"] == []

    skipped = await upload(client, me, "strong_bad_rows.csv", weightUnit="kg", skipInvalid=True)
    assert skipped.status_code == 200
    assert skipped.json()["workoutsCreated"] == 1
    assert [row["line"] for row in skipped.json()["errors"]] == [4, 6]


async def test_unknown_exercise_names_become_custom_exercises(client: Any) -> None:
    me = bearer(await sign_up(client))
    csv = (
        "Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,"
        "Workout Notes,RPE\n"
        '2024-11-26 18:05:00,"Odd Day",30m,"Zercher Carry Deluxe",1,60,10,0,0,,,\n'
    )
    files = {"file": ("odd.csv", csv.encode(), "text/csv")}
    response = await client.post("/v1/imports", files=files, params={"weightUnit": "kg"}, headers=me)
    again = await client.post("/v1/imports", files=files, params={"weightUnit": "kg"}, headers=me)

    assert response.status_code == 200, response.text
    assert response.json()["exercisesCreated"] == ["Zercher Carry Deluxe"]
    assert again.json()["exercisesCreated"] == [] and again.json()["workoutsUnchanged"] == 1


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"", 422), (b"just,some,columns\n1,2,3\n", 422)],
)
async def test_files_that_are_no_export_are_refused(client: Any, content: bytes, status: int) -> None:
    me = bearer(await sign_up(client))
    files = {"file": ("x.csv", content, "text/csv")}
    assert_problem(await client.post("/v1/imports", files=files, headers=me), status)


async def test_a_file_that_is_no_export_is_refused_naming_its_columns(client: Any) -> None:
    me = bearer(await sign_up(client))
    files = {"file": ("x.csv", b"just,some,columns\n1,2,3\n", "text/csv")}
    problem = assert_problem(await client.post("/v1/imports", files=files, headers=me), 422)
    assert "Columns found: 'just', 'some', 'columns'." in problem["detail"]


async def test_the_import_route_alone_accepts_large_bodies(client: Any) -> None:
    me = bearer(await sign_up(client))
    big = b"x" * (2 * 1024 * 1024)
    elsewhere = await client.post("/v1/auth/login", content=big, headers={"Content-Type": "application/json"})
    here = await client.post("/v1/imports", files={"file": ("big.csv", big, "text/csv")}, headers=me)
    assert elsewhere.status_code == 413
    assert here.status_code == 422  # read in full, then refused as no known export


async def test_a_reimport_after_deleting_an_imported_exercise_makes_a_new_one(
    client: Any, settings: Settings
) -> None:
    signed_in = await sign_up(client)
    me = bearer(signed_in)
    csv = (
        "Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,"
        "Workout Notes,RPE\n"
        '2024-11-26 18:05:00,"Odd Day",30m,"Zercher Carry Deluxe",1,60,10,0,0,,,\n'
    )
    files = {"file": ("odd.csv", csv.encode(), "text/csv")}
    await client.post("/v1/imports", files=files, params={"weightUnit": "kg"}, headers=me)
    assert settings.database.url
    connection = await asyncpg.connect(settings.database.url)
    try:
        own = await connection.fetchval(
            "SELECT id FROM exercises WHERE name = 'Zercher Carry Deluxe' AND user_id = $1",
            uuid.UUID(signed_in["user"]["id"]),
        )
    finally:
        await connection.close()
    assert (await client.delete(f"/v1/exercises/{own}", headers=me)).status_code == 204

    again = await client.post("/v1/imports", files=files, params={"weightUnit": "kg"}, headers=me)

    assert again.status_code == 200, again.text
    assert again.json()["exercisesCreated"] == ["Zercher Carry Deluxe"]
