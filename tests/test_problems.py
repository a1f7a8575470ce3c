"""Every error is an RFC 9457 problem: 400 malformed, 422 with the field at fault, no stack traces."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.accounts import bearer, new_identity, sign_up
from tests.harness import assert_problem
from tests.probes import FAILOVER_ERRORS

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


@pytest.mark.parametrize("kind", sorted(FAILOVER_ERRORS))
async def test_an_error_of_a_failover_is_a_retryable_503_problem(client: Any, kind: str) -> None:
    response = await client.get(f"/probe/failover/{kind}")
    body = assert_problem(response, 503)
    assert response.headers["retry-after"] == "1"
    assert "retry" in body["detail"]


async def test_unexpected_error_is_a_500_problem_without_internals(client: Any) -> None:
    response = await client.get("/probe/crash")
    body = assert_problem(response, 500)
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert body["detail"] == "An unexpected error occurred."


# Strict types: the body as JSON says it, the query and path as the canonical text of their types.


@pytest.mark.parametrize(
    ("changed", "field"),
    [
        ({"reps": "5"}, "exercises[0].sets[0].reps"),
        ({"weight": "100"}, "exercises[0].sets[0].weight"),
        ({"done": "false"}, "exercises[0].sets[0].done"),
        ({"done": 0}, "exercises[0].sets[0].done"),
        ({"reps": 5.5}, "exercises[0].sets[0].reps"),
    ],
    ids=["int-as-string", "number-as-string", "bool-as-string", "bool-as-number", "int-as-fraction"],
)
async def test_a_value_of_another_json_type_is_a_422_naming_the_field(
    client: Any, changed: dict[str, Any], field: str
) -> None:
    payload = {"title": "x", "exercises": [{"name": "row", "sets": [{"reps": 5, "weight": 100, **changed}]}]}
    body = assert_problem(await client.post("/probe/workouts", json=payload), 422)
    assert [error["field"] for error in body["errors"]] == [field]
    assert "Expected" in body["errors"][0]["message"]


async def test_a_whole_number_written_with_a_point_is_an_integer(client: Any) -> None:
    # JSON has numbers only; JSON Schema's integer includes 5.0 too.
    payload = {"title": "x", "exercises": [{"name": "row", "sets": [{"reps": 5.0, "weight": 100}] * 2}]}
    assert (await client.post("/probe/workouts", json=payload)).json() == {"title": "x", "setCount": 2}
    # Nested nearly as deeply as the decoder takes: still a client error, never a 500.
    for depth in (900, 990):
        deep = b"[" * depth + b"1.0" + b"]" * depth
        body = b'{"title":"x","exercises":[{"name":"row","sets":[{"reps":5.0,"weight":' + deep + b"}]}]}"
        response = await client.post(
            "/probe/workouts", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code in (400, 422), response.text


@pytest.mark.parametrize("limit", ["20.0", "1e1", "+20", "020", " 20", "0x14", "twenty"])
async def test_a_query_number_not_in_its_canonical_text_is_a_422(client: Any, limit: str) -> None:
    body = assert_problem(await client.get("/probe/items/4", params={"limit": limit}), 422)
    assert body["errors"][0]["field"] == "limit"
    assert "whole number" in body["errors"][0]["message"]


async def test_a_query_number_in_its_canonical_text_is_read(client: Any) -> None:
    response = await client.get("/probe/items/4?limit=20")
    assert response.status_code == 200 and response.json() == {"itemId": 4, "limit": 20}


@pytest.mark.parametrize("dry_run", ["1", "True", "TRUE", "0", "yes"])
async def test_a_query_boolean_is_true_or_false_only(client: Any, dry_run: str) -> None:
    headers = bearer(await sign_up(client))
    files = {"file": ("strong.csv", b"Date,Workout Name\n", "text/csv")}
    response = await client.post(f"/v1/imports?dryRun={dry_run}", files=files, headers=headers)
    body = assert_problem(response, 422)
    assert body["errors"] == [{"field": "dryRun", "message": "must be true or false"}]


@pytest.mark.parametrize("segment", ["+4", "4_0", "04", " 4"])
async def test_a_path_number_not_in_its_canonical_text_is_not_found(client: Any, segment: str) -> None:
    body = assert_problem(await client.get(f"/probe/items/{segment}"), 404)
    assert "whole number" in body["detail"]


async def test_the_router_404_and_the_body_limit_413_have_a_detail(client: Any, settings: Any) -> None:
    assert assert_problem(await client.get("/v1/nothing-here"), 404)["detail"]
    oversized = b'{"title": "' + b"x" * settings.api.max_body_bytes + b'", "exercises": []}'
    response = await client.post(
        "/probe/workouts", content=oversized, headers={"content-type": "application/json"}
    )
    assert "larger" in assert_problem(response, 413)["detail"]


async def test_head_answers_like_get_without_a_body(client: Any) -> None:
    got = await client.get("/probe/items/4?limit=3")
    head = await client.head("/probe/items/4?limit=3")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == got.headers["content-length"] == str(len(got.content))
    missing = await client.head("/v1/nothing-here")
    assert missing.status_code == 404
    assert (await client.head("/probe/workouts")).status_code == 405


# Problem types: one stable URI per kind, documented in the schema.

KIND = "urn:ironlog:problem:"


async def test_each_problem_names_its_kind(client: Any) -> None:
    assert assert_problem(await client.get("/v1/nothing-here"), 404)["type"] == f"{KIND}not-found"
    assert assert_problem(await client.delete("/health/live"), 405)["type"] == f"{KIND}method-not-allowed"
    malformed = await client.post(
        "/probe/workouts", content=b'{"title": "x", ', headers={"content-type": "application/json"}
    )
    assert assert_problem(malformed, 400)["type"] == f"{KIND}malformed"
    invalid = assert_problem(await client.post("/probe/workouts", json={"title": 7}), 422)
    assert invalid["type"] == f"{KIND}validation"
    assert invalid["errors"]
    assert assert_problem(await client.get("/v1/me"), 401)["type"] == f"{KIND}unauthorized"
    assert assert_problem(await client.get("/probe/crash"), 500)["type"] == f"{KIND}internal"


async def test_a_503_repeats_retry_after_as_a_member(client: Any) -> None:
    response = await client.get(f"/probe/failover/{sorted(FAILOVER_ERRORS)[0]}")
    body = assert_problem(response, 503)
    assert (body["type"], body["retryAfter"]) == (f"{KIND}unavailable", 1)


async def test_a_taken_email_and_a_taken_handle_are_kinds_of_their_own(client: Any) -> None:
    first = (await sign_up(client))["sent"]
    taken_email = await client.post("/v1/auth/register", json=new_identity(email=first["email"]))
    body = assert_problem(taken_email, 409)
    assert (body["type"], body["errors"][0]["field"]) == (f"{KIND}email-taken", "email")
    taken_handle = await client.post("/v1/auth/register", json=new_identity(handle=first["handle"]))
    assert assert_problem(taken_handle, 409)["type"] == f"{KIND}handle-taken"


async def test_versions_and_deletions_have_their_kinds(client: Any) -> None:
    headers = bearer(await sign_up(client))
    path = f"/v1/workouts/{uuid.uuid4()}"
    sets = [{"reps": 5, "weight": {"value": 100, "unit": "kg"}}]
    workout = {
        "title": "Push",
        "startedAt": "2026-11-30T10:00:00Z",
        "exercises": [{"exerciseId": "barbell-bench-press", "sets": sets}],
    }
    assert (await client.put(path, json=workout, headers=headers)).status_code == 201
    stale = await client.put(path, json={**workout, "title": "Pull"}, headers={**headers, "If-Match": '"9"'})
    body = assert_problem(stale, 412)
    assert (body["type"], body["currentVersion"]) == (f"{KIND}version-mismatch", 1)
    unversioned = assert_problem(
        await client.put(path, json={**workout, "title": "Pull"}, headers=headers), 409
    )
    assert (unversioned["type"], unversioned["currentVersion"]) == (f"{KIND}version-mismatch", 1)
    assert (await client.delete(path, headers=headers)).status_code == 204
    gone = assert_problem(await client.put(path, json=workout, headers=headers), 410)
    assert gone["type"] == f"{KIND}gone"


async def test_the_schema_lists_every_problem_type_and_the_extension_members(client: Any) -> None:
    from api.problems import PROBLEM_TYPES

    schemas = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
    problem_type = schemas["Problem"]["properties"]["type"]
    assert set(problem_type["enum"]) == PROBLEM_TYPES
    assert "version-mismatch" in problem_type["description"]
    assert "currentVersion" in schemas["VersionProblem"]["properties"]
    assert "retryAfter" in schemas["RetryProblem"]["properties"]
    assert "errors" in schemas["Problem"]["properties"]
