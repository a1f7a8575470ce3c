"""Conditional requests per RFC 9110 §13: If-Match on writes, If-None-Match on reads, and the 400 that a
malformed one gets, over HTTP; the header parsers themselves (api/conditions.py)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar.exceptions import ClientException

from api.conditions import parse_if_match, parse_if_none_match
from commands.versioning import IfMatch
from tests.accounts import bearer, sign_up
from tests.harness import assert_problem
from tests.test_custom_exercises import LANDMINE
from tests.test_routines import PUSH_A
from tests.workouts import workout


@pytest.fixture
async def lifter(client: Any) -> dict[str, str]:
    return bearer(await sign_up(client))


async def _logged(client: Any, lifter: dict[str, str]) -> str:
    url = f"/v1/workouts/{uuid.uuid4()}"
    assert (await client.put(url, json=workout(), headers=lifter)).status_code == 201
    return url


def test_if_match_lists_star_and_weak_tags_are_read_as_rfc_9110_says() -> None:
    assert parse_if_match("*") == IfMatch(any=True)
    assert parse_if_match(' "1" ,"3",W/"4"') == IfMatch(versions=frozenset({1, 3}))
    assert parse_if_match('W/"2"') == IfMatch()  # a weak tag never matches under If-Match
    assert parse_if_match('"01", "x", "9999999999"') == IfMatch()  # tags, but of no version of ours
    assert parse_if_none_match('W/"a", "b"').matches('"a"') and parse_if_none_match("*").matches('"z"')
    assert not parse_if_none_match('"a"').matches('"b"')


@pytest.mark.parametrize("raw", ["1", "", '"1', "W/1", '"1",', "**", '* , "1"', '"a b"', '"1" "2"', '"1"\n'])
def test_a_malformed_entity_tag_list_is_a_client_error(raw: str) -> None:
    with pytest.raises(ClientException, match="entity tags"):
        parse_if_match(raw)
    with pytest.raises(ClientException, match="entity tags"):
        parse_if_none_match(raw)


async def test_if_match_star_amends_whatever_is_current(client: Any, lifter: dict[str, str]) -> None:
    url = await _logged(client, lifter)
    amended = await client.put(url, json=workout(title="Any version"), headers={**lifter, "If-Match": "*"})
    assert amended.status_code == 200, amended.text
    assert amended.headers["etag"] == '"2"'


async def test_if_match_with_a_list_amends_when_one_tag_is_current(
    client: Any, lifter: dict[str, str]
) -> None:
    url = await _logged(client, lifter)
    amended = await client.put(url, json=workout(title="x"), headers={**lifter, "If-Match": '"7", "1"'})
    assert amended.status_code == 200, amended.text


@pytest.mark.parametrize("tag", ['W/"1"', '"one"', '"2"'])
async def test_a_tag_that_is_not_the_current_strong_version_fails_the_precondition(
    client: Any, lifter: dict[str, str], tag: str
) -> None:
    url = await _logged(client, lifter)
    refused = await client.put(url, json=workout(title="x"), headers={**lifter, "If-Match": tag})
    body = assert_problem(refused, 412)
    assert body["currentVersion"] == 1 and body["detail"]
    assert refused.headers["etag"] == '"1"'
    same = await client.put(url, json=workout(), headers=lifter)
    assert same.status_code == 200 and same.headers["etag"] == '"1"'  # an identical replay: not amended


@pytest.mark.parametrize("tag", ["*", '"1"'])
async def test_if_match_on_an_unknown_id_fails_and_creates_nothing(
    client: Any, lifter: dict[str, str], tag: str
) -> None:
    url = f"/v1/workouts/{uuid.uuid4()}"
    refused = await client.put(url, json=workout(), headers={**lifter, "If-Match": tag})
    assert assert_problem(refused, 412)["currentVersion"] is None
    assert "etag" not in refused.headers
    assert (await client.put(url, json=workout(), headers=lifter)).status_code == 201


async def test_a_deleted_id_stays_gone_whatever_the_precondition(client: Any, lifter: dict[str, str]) -> None:
    url = await _logged(client, lifter)
    assert (await client.delete(url, headers=lifter)).status_code == 204
    for tag in ("*", '"1"', '"2"', 'W/"2"'):
        assert_problem(await client.put(url, json=workout(), headers={**lifter, "If-Match": tag}), 410)


@pytest.mark.parametrize(
    ("path", "body"),
    [("/v1/workouts/{id}", workout()), ("/v1/routines/{id}", PUSH_A), ("/v1/exercises/{id}", LANDMINE)],
)
async def test_a_malformed_if_match_is_a_400_saying_what_was_expected(
    client: Any, lifter: dict[str, str], path: str, body: dict[str, Any]
) -> None:
    url = path.format(id=uuid.uuid4())
    refused = await client.put(url, json=body, headers={**lifter, "If-Match": "1"})
    detail = assert_problem(refused, 400)["detail"]
    assert "If-Match" in detail and '"3"' in detail


async def test_if_none_match_on_a_read_takes_lists_and_star(client: Any, lifter: dict[str, str]) -> None:
    url = "/v1/workouts"  # the feed: served, empty, with no worker projecting
    first = await client.get(url, headers=lifter)
    etag = first.headers["etag"]
    for value in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
        again = await client.get(url, headers={**lifter, "If-None-Match": value})
        assert again.status_code == 304, (value, again.text)
        assert again.content == b"" and again.headers["etag"] == etag
    other = await client.get(url, headers={**lifter, "If-None-Match": '"nope", W/"other"'})
    assert other.status_code == 200 and other.content == first.content
    assert_problem(await client.get(url, headers={**lifter, "If-None-Match": "nope"}), 400)


async def test_the_schema_declares_the_conditional_headers(client: Any) -> None:
    schema = (await client.get("/schema/openapi.json")).json()

    def headers_of(path: str, method: str) -> dict[str, Any]:
        parameters = schema["paths"][path][method].get("parameters", [])
        return {p["name"]: p for p in parameters if p["in"] == "header"}

    put = headers_of("/v1/workouts/{workout_id}", "put")
    assert put["If-Match"]["schema"]["pattern"]
    failed = schema["paths"]["/v1/workouts/{workout_id}"]["put"]["responses"]["412"]
    reference = failed["content"]["application/problem+json"]["schema"]["$ref"]
    assert "currentVersion" in schema["components"]["schemas"][reference.rsplit("/", 1)[1]]["properties"]
    for path in ("/v1/workouts", "/v1/workouts/{workout_id}", "/v1/stats/dashboard", "/v1/records"):
        read = headers_of(path, "get")
        assert {"If-None-Match", "X-Consistency-Token"} <= set(read), path
        assert "304" in schema["paths"][path]["get"]["responses"], path


@pytest.mark.parametrize(
    ("path", "body"),
    [("/v1/workouts", workout()), ("/v1/routines", PUSH_A), ("/v1/exercises", LANDMINE)],
    ids=["workout", "routine", "custom exercise"],
)
async def test_a_delete_with_a_stale_if_match_is_refused_and_deletes_nothing(
    client: Any, lifter: dict[str, str], path: str, body: dict[str, Any]
) -> None:
    url = f"{path}/{uuid.uuid4()}"
    assert (await client.put(url, json=body, headers=lifter)).status_code == 201
    field = "name" if path == "/v1/exercises" else "notes"
    amended = await client.put(url, json={**body, field: "Changed"}, headers={**lifter, "If-Match": '"1"'})
    assert amended.status_code == 200, amended.text  # now at version 2

    stale = await client.delete(url, headers={**lifter, "If-Match": '"1"'})
    assert assert_problem(stale, 412)["currentVersion"] == 2
    assert assert_problem(await client.delete(url, headers={**lifter, "If-Match": '"99"'}), 412)
    # Nothing was deleted: it can still be changed at version 2.
    again = await client.put(url, json={**body, field: "Kept"}, headers={**lifter, "If-Match": '"2"'})
    assert again.status_code == 200 and again.headers["etag"] == '"3"', again.text

    assert (await client.delete(url, headers={**lifter, "If-Match": '"3"'})).status_code == 204
    assert_problem(await client.put(url, json=body, headers={**lifter, "If-Match": '"3"'}), 410)
    # A retried delete (its precondition now stale) has nothing left to do: still a 204.
    assert (await client.delete(url, headers={**lifter, "If-Match": '"3"'})).status_code == 204


async def test_a_delete_without_if_match_or_with_a_star_deletes_whatever_is_current(
    client: Any, lifter: dict[str, str]
) -> None:
    for headers in (lifter, {**lifter, "If-Match": "*"}):
        url = await _logged(client, lifter)
        assert (await client.delete(url, headers=headers)).status_code == 204
        assert_problem(await client.put(url, json=workout(), headers=headers), 410)


async def test_every_delete_of_a_versioned_thing_declares_if_match_and_412(client: Any) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    for path in ("/v1/workouts/{workout_id}", "/v1/routines/{routine_id}", "/v1/exercises/{exercise_id}"):
        operation = schema["paths"][path]["delete"]
        assert "If-Match" in [parameter["name"] for parameter in operation.get("parameters", [])], path
        assert "412" in operation["responses"], path
