"""Every error is an RFC 9457 problem: 400 malformed, 422 with the field at fault, no stack traces."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import assert_problem

GOOD = {"title": "Push day", "exercises": [{"name": "bench", "sets": [{"reps": 5, "weight": 100}]}]}


async def test_valid_body_is_accepted(client: Any) -> None:
    response = await client.post("/probe/workouts", json=GOOD)
    assert response.status_code == 200
    assert response.json() == {"title": "Push day", "setCount": 1}


async def test_unknown_route_is_a_404_problem(client: Any) -> None:
    body = assert_problem(await client.get("/v1/nothing-here"), 404)
    assert body["instance"] == "/v1/nothing-here"


async def test_wrong_method_is_a_405_problem(client: Any) -> None:
    assert_problem(await client.delete("/health/live"), 405)


async def test_malformed_json_is_a_400_problem(client: Any) -> None:
    response = await client.post(
        "/probe/workouts", content=b'{"title": "x", ', headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 400)
    assert "JSON" in body["detail"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (
            {
                "title": "x",
                "exercises": [
                    GOOD["exercises"][0],
                    {"name": "row", "sets": [{"reps": "five", "weight": 1}]},
                ],
            },
            "exercises[1].sets[0].reps",
        ),
        (
            {"title": "x", "exercises": [{"name": "row", "sets": [], "bogus": 1}]},
            "exercises[0].bogus",
        ),
        ({"title": "x", "exercises": [{"sets": []}]}, "exercises[0].name"),
        ({**GOOD, "title": 7}, "title"),
    ],
    ids=["wrong-type", "unknown-field", "missing-field", "top-level"],
)
async def test_invalid_body_is_a_422_naming_the_field(client: Any, payload: Any, field: str) -> None:
    body = assert_problem(await client.post("/probe/workouts", json=payload), 422)
    assert [error["field"] for error in body["errors"]] == [field]
    assert all(error["message"] for error in body["errors"])


async def test_invalid_query_parameter_is_a_422_naming_it(client: Any) -> None:
    body = assert_problem(await client.get("/probe/items/4?limit=many"), 422)
    assert body["errors"][0]["field"] == "limit"


async def test_body_over_the_limit_is_a_413_problem(client: Any, settings: Any) -> None:
    oversized = b'{"title": "' + b"x" * settings.api.max_body_bytes + b'", "exercises": []}'
    response = await client.post(
        "/probe/workouts", content=oversized, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


async def test_unexpected_error_is_a_500_problem_without_internals(client: Any) -> None:
    response = await client.get("/probe/crash")
    body = assert_problem(response, 500)
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert body["detail"] == "An unexpected error occurred."
