"""HTTP-level defences on every route: 405 with Allow, 415, 413, bounded page sizes, security headers.

Other suites check the shared machinery on probe routes (tests/test_http_hygiene.py,
tests/test_problems.py); here every real route of the app is probed.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from api.imports import MAX_IMPORT_BYTES
from core.settings import Settings
from tests.accounts import access_headers, bearer, new_identity, sign_up
from tests.harness import assert_problem
from tests.security.conftest import assert_security_headers, expiring_headers, send_chunked
from tests.security.inventory import (
    APP,
    METHODS_BY_PATH,
    OPERATIONS,
    PROBED_METHODS,
    UNAUTHENTICATED_PREFIXES,
    Operation,
    concrete,
)
from tests.workouts import workout

BODY_OPERATIONS = [op for op in OPERATIONS if op.body is not None]
JSON_OPERATIONS = [op for op in BODY_OPERATIONS if op.body == "application/json"]
LIMIT_OPERATIONS = [op for op in OPERATIONS if op.takes_limit]


def _ids(operations: list[Operation]) -> list[str]:
    return [op.label for op in operations]


def _role_for(op: Operation) -> str:
    return "admin" if op.guarded else "user"


# 405: every method a path does not declare.


UNDECLARED = [
    (path, method)
    for path, declared in sorted(METHODS_BY_PATH.items())
    for method in PROBED_METHODS
    if method not in declared
]


@pytest.mark.parametrize(("path", "method"), UNDECLARED, ids=[f"{m} {p}" for p, m in UNDECLARED])
async def test_an_undeclared_method_is_a_405_naming_the_allowed_ones(
    client: Any, settings: Settings, path: str, method: str
) -> None:
    url = concrete(path)
    for headers in ({}, access_headers(settings)):
        response = await client.request(method, url, headers=headers, content=b"{}")
        assert_problem(response, 405)
        allowed = {item.strip() for item in response.headers["allow"].split(",")}
        assert allowed == METHODS_BY_PATH[path], (method, path, allowed)


@pytest.mark.parametrize("path", sorted(METHODS_BY_PATH))
async def test_options_lists_every_method_of_the_path(client: Any, settings: Settings, path: str) -> None:
    # Litestar 2 would list only the first handler's (litestar-org/litestar#4169).
    response = await client.options(concrete(path), headers=access_headers(settings, "admin"))
    assert response.status_code == 204, response.text
    assert {item.strip() for item in response.headers["allow"].split(",")} == METHODS_BY_PATH[path]


def test_every_path_is_probed_with_some_undeclared_method() -> None:
    # A path that declared every probed method would escape the test above.
    assert {path for path, _ in UNDECLARED} == set(METHODS_BY_PATH)


# 415: a body in another media type than the route reads is refused before anything runs.


def _valid_json_body(op: Operation) -> dict[str, Any]:
    # Any JSON object: the media type is checked before the body is read.
    return workout() if op.path.startswith("/v1/workouts/") else {"email": "sam@example.com"}


@pytest.mark.parametrize("op", JSON_OPERATIONS, ids=_ids(JSON_OPERATIONS))
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
async def test_a_json_route_refuses_other_media_types(
    client: Any, settings: Settings, op: Operation, content_type: str
) -> None:
    body = json.dumps(_valid_json_body(op)).encode()
    headers = {**access_headers(settings), "Content-Type": content_type}
    response = await client.request(op.method, concrete(op.path), content=body, headers=headers)
    problem = assert_problem(response, 415)
    assert "application/json" in problem["detail"]


@pytest.mark.parametrize("op", JSON_OPERATIONS, ids=_ids(JSON_OPERATIONS))
async def test_a_json_route_accepts_json_with_parameters_and_suffixes(
    client: Any, settings: Settings, op: Operation
) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        headers = {**access_headers(settings), "Content-Type": content_type}
        response = await client.request(op.method, concrete(op.path), content=b"{}", headers=headers)
        assert response.status_code != 415, (content_type, response.text)


async def test_the_import_route_refuses_a_body_that_is_not_a_form(client: Any, settings: Settings) -> None:
    for content_type in ("application/json", "text/csv"):
        headers = {**access_headers(settings), "Content-Type": content_type}
        response = await client.post("/v1/imports", content=b"Date,Workout Name\n", headers=headers)
        assert "multipart/form-data" in assert_problem(response, 415)["detail"]


# 413: bodies over the limit, announced or streamed.


def _chunks(total: int, size: int = 64 * 1024) -> list[bytes]:
    full, rest = divmod(total, size)
    return [b" " * size] * full + ([b" " * rest] if rest else [])


@pytest.mark.parametrize("op", BODY_OPERATIONS, ids=_ids(BODY_OPERATIONS))
async def test_an_oversized_body_is_a_413(client: Any, settings: Settings, op: Operation) -> None:
    limit = MAX_IMPORT_BYTES if op.path == "/v1/imports" else settings.api.max_body_bytes
    headers = {**access_headers(settings, _role_for(op)), "Content-Type": op.body or ""}
    if op.body == "multipart/form-data":
        headers["Content-Type"] = "multipart/form-data; boundary=x"
    announced = await client.request(
        op.method, concrete(op.path), content=b" " * (limit + 1), headers=headers
    )
    assert_problem(announced, 413)
    streamed = await send_chunked(client.app, op.method, concrete(op.path), headers, _chunks(limit + 1))
    assert_problem(streamed, 413)


# Page sizes: never more than a page, never a 500.


@pytest.mark.parametrize("op", LIMIT_OPERATIONS, ids=_ids(LIMIT_OPERATIONS))
@pytest.mark.parametrize("limit", ["1000000", str(10**30), "-1", "0", "1e3", "ten"])
async def test_a_huge_or_odd_limit_is_a_422_naming_it(
    client: Any, settings: Settings, op: Operation, limit: str
) -> None:
    query = {"limit": limit}
    if op.path == "/v1/users":
        query["handle"] = "lifter"
    response = await client.get(concrete(op.path), params=query, headers=access_headers(settings))
    problem = assert_problem(response, 422)
    assert [error["field"] for error in problem["errors"]] == ["limit"]


async def test_a_sync_position_past_what_clients_read_exactly_is_a_422(
    client: Any, settings: Settings
) -> None:
    me = access_headers(settings)
    problem = assert_problem(await client.get("/v1/changes", params={"since": str(2**53)}, headers=me), 422)
    assert problem["errors"][0]["field"] == "since"
    assert (await client.get("/v1/changes", params={"since": str(2**53 - 1)}, headers=me)).status_code == 200


def test_every_list_takes_a_limit() -> None:
    # The lists of the API contract (docs/architecture.md#the-api-contract) page with ?cursor=&limit=;
    # a list without a limit would be unbounded.
    lists = {
        "/v1/workouts",
        "/v1/routines",
        "/v1/bodyweight",
        "/v1/follows",
        "/v1/exercises",
        "/v1/users",
        "/v1/records",
        "/v1/changes",
        "/v1/exercises/{exercise_id}/history",
        "/v1/leaderboards/{board}",
    }
    assert {op.path for op in LIMIT_OPERATIONS} == lists


# Security headers on real responses of every kind (every response in this package is checked by the
# audited client; these make sure each kind occurs).


async def test_security_headers_on_success_error_and_not_modified(
    client: Any, settings: Settings, audited: Any
) -> None:
    user = bearer(await sign_up(client))
    written = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=workout(), headers=user)
    feed = await client.get("/v1/workouts", headers=user)
    cached = await client.get("/v1/workouts", headers={**user, "If-None-Match": feed.headers["etag"]})
    refused = await client.get("/v1/analytics/daily", headers=user)
    unauthenticated = await client.get("/v1/me")
    crashed_json = await client.put(
        f"/v1/workouts/{uuid.uuid4()}", content=b"{", headers={**user, "Content-Type": "application/json"}
    )
    statuses = [r.status_code for r in (written, feed, cached, refused, unauthenticated, crashed_json)]
    assert statuses == [201, 200, 304, 403, 401, 400]
    assert len(audited.responses) >= len(statuses) + 1  # and the audit saw each one


async def test_security_headers_on_an_event_stream(client: Any, settings: Settings) -> None:
    # The in-process client returns a stream once it ends: the token expires in a few seconds.
    headers = expiring_headers(settings, uuid.uuid4(), 2)
    async with asyncio.timeout(20):
        response = await client.get("/v1/stream", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert_security_headers(response)
    assert "event: ready" in response.text and "event: expired" in response.text


# Patterns: Python's `re` (msgspec) and clients (ECMA-262, as in the schema) must agree on them.


async def test_a_value_with_a_trailing_newline_is_a_422_not_a_500(client: Any, settings: Settings) -> None:
    # Python's `$` matches before a final newline; the database's CHECK on handles does not.
    registered = await client.post("/v1/auth/register", json=new_identity(handle="trailing_nl\n"))
    assert assert_problem(registered, 422)["errors"][0]["field"] == "handle"
    me = bearer(await sign_up(client))
    renamed = await client.patch("/v1/me", json={"handle": "other_nl\n"}, headers=me)
    assert assert_problem(renamed, 422)["errors"][0]["field"] == "handle"
    found = await client.get("/v1/users", params={"handle": "lifter\n"}, headers=me)
    assert assert_problem(found, 422)["errors"][0]["field"] == "handle"
    admin = access_headers(settings, "admin")
    week = await client.get("/v1/analytics/exercises", params={"week": "2026-W48\n"}, headers=admin)
    assert assert_problem(week, 422)["errors"][0]["field"] == "week"
    arabic_digits = await client.get(
        "/v1/leaderboards/weekly-volume", params={"period": "٢٠٢٦-W48"}, headers=me
    )
    assert assert_problem(arabic_digits, 422)["errors"][0]["field"] == "period"


async def test_an_email_with_characters_only_python_calls_spaces_is_refused_alike(client: Any) -> None:
    # \x1c is whitespace to Python's `\s`, not to ECMA-262's: the pattern spells its whitespace out.
    for email in ("sam@exa\x1cmple.com", "sam\ufeff@example.com"):
        assert_problem(await client.post("/v1/auth/register", json=new_identity(email=email)), 422)
    accepted = await client.post(
        "/v1/auth/register", json=new_identity(email=f" sam{uuid.uuid4().hex[:6]}@example.com\n")
    )
    assert accepted.status_code == 201, accepted.text


# NUL characters: Postgres stores none, so every input refuses them with a 422 naming where.


def _with_nul_in_first_string(value: Any, path: str = "") -> tuple[Any, str] | None:
    """`value` with a NUL put into its first string, and that string's path; None without strings."""
    if isinstance(value, str):
        return value[:1] + "\x00" + value[1:], path
    items = (
        list(value.items())
        if isinstance(value, dict)
        else list(enumerate(value))
        if isinstance(value, list)
        else []
    )
    for key, item in items:
        where = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)
        changed = _with_nul_in_first_string(item, where)
        if changed is not None:
            copy = dict(value) if isinstance(value, dict) else list(value)
            copy[key] = changed[0]
            return copy, changed[1]
    return None


@pytest.mark.parametrize("op", JSON_OPERATIONS, ids=_ids(JSON_OPERATIONS))
async def test_a_nul_character_in_a_body_is_a_422_naming_its_field(
    client: Any, db: Any, op: Operation
) -> None:
    from tests.security.conftest import stream_version
    from tests.security.test_mass_assignment import BODIES

    me = await sign_up(client)
    before = await stream_version(db, me["user"]["id"])
    changed = _with_nul_in_first_string(BODIES[op.label](me))
    assert changed is not None
    body, field = changed
    response = await client.request(op.method, concrete(op.path), json=body, headers=bearer(me))
    assert [error["field"] for error in assert_problem(response, 422)["errors"]] == [field]
    assert await stream_version(db, me["user"]["id"]) == before


STRING_PATHS = [op for op in OPERATIONS if op.text_params and not op.public]


@pytest.mark.parametrize("op", STRING_PATHS, ids=_ids(STRING_PATHS))
async def test_a_nul_character_in_a_path_is_a_422_naming_the_parameter(
    client: Any, settings: Settings, op: Operation
) -> None:
    [param] = op.text_params
    url = concrete(op.path, **{param: "bench%00press"})
    response = await client.request(op.method, url, headers=access_headers(settings, _role_for(op)))
    assert [error["field"] for error in assert_problem(response, 422)["errors"]] == [param]


PROTECTED_GETS = [op for op in OPERATIONS if op.method == "GET" and not op.public and op.path != "/v1/stream"]


@pytest.mark.parametrize("op", PROTECTED_GETS, ids=_ids(PROTECTED_GETS))
async def test_a_nul_character_in_a_query_is_a_422_naming_the_parameter(
    client: Any, settings: Settings, op: Operation
) -> None:
    url = concrete(op.path) + "?q=bench%00press"
    response = await client.get(url, headers=access_headers(settings, _role_for(op)))
    assert [error["field"] for error in assert_problem(response, 422)["errors"]] == ["q"]


async def test_an_import_holding_a_nul_character_is_a_422(client: Any) -> None:
    me = bearer(await sign_up(client))
    header = (
        "Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,Workout Notes"
    )
    csv = header + ',RPE\n2024-11-26 18:05:00,"Odd\x00Day",30m,"Zercher Carry",1,60,10,0,0,,,\n'
    files = {"file": ("odd.csv", csv.encode(), "text/csv")}
    response = await client.post("/v1/imports", files=files, params={"weightUnit": "kg"}, headers=me)
    assert "NUL" in assert_problem(response, 422)["detail"]


# The schema says all of the above: clients (and `make fuzz`) know every status they can get.


def test_the_schema_documents_the_problems_every_route_can_answer_with() -> None:
    schema = APP.openapi_schema.to_schema()
    for op in OPERATIONS:
        if op.path.startswith(UNAUTHENTICATED_PREFIXES):
            continue
        responses = schema["paths"][op.path][op.method.lower()]["responses"]
        expected = {"401"} if not op.public else set()
        expected |= {"403"} if op.guarded else set()
        expected |= {"413", "415", "422"} if op.body else set()
        expected |= {"404", "422"} if op.path_params else set()
        assert expected <= set(responses), (op.label, expected - set(responses))
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert list(response["content"]) == ["application/problem+json"], (op.label, status)
            if status == "204":
                assert "content" not in response, op.label
        if op.body == "application/json":
            body = schema["paths"][op.path][op.method.lower()]["requestBody"]["content"]["application/json"]
            name = body["schema"]["$ref"].rsplit("/", 1)[-1]
            assert schema["components"]["schemas"][name]["additionalProperties"] is False, op.label


# Edges the schema fuzzer found: dates at the ends of the calendar are a 422, never a 500 or a poison event.


async def test_times_at_the_ends_of_the_calendar_are_a_422(
    client: Any, settings: Settings, project: Any
) -> None:
    signed_in = await sign_up(client)
    me = bearer(signed_in)
    for started_at in ("0001-01-01T00:00:00+14:00", "0001-01-01T10:00:00Z", "9999-12-31T23:00:00-12:00"):
        body = workout(startedAt=started_at)
        body.pop("endedAt")
        response = await client.put(f"/v1/workouts/{uuid.uuid4()}", json=body, headers=me)
        assert assert_problem(response, 422)["errors"][0]["field"] == "startedAt", started_at
    weight = {"weight": {"value": 80, "unit": "kg"}}
    early = await client.put("/v1/bodyweight/0001-01-01", json=weight, headers=me)
    assert assert_problem(early, 422)["errors"][0]["field"] == "date"
    await project(signed_in["user"]["id"])  # nothing was written that projections could choke on
    admin = access_headers(settings, "admin")
    for path, field in (
        ("/v1/analytics/daily?to=0001-01-01", "to"),
        ("/v1/analytics/daily?from=9999-12-01&to=9999-12-31", "to"),
        ("/v1/analytics/exercises?week=0001-W01", "week"),
    ):
        assert assert_problem(await client.get(path, headers=admin), 422)["errors"][0]["field"] == field, path
    board = await client.get("/v1/leaderboards/weekly-volume?period=9999-W52", headers=me)
    assert assert_problem(board, 422)["errors"][0]["field"] == "period"


# HEAD: every GET route answers it as it answers GET, without the body.

READ_OPERATIONS = [op for op in OPERATIONS if op.method == "GET" and op.path != "/v1/stream"]


@pytest.mark.parametrize("op", READ_OPERATIONS, ids=_ids(READ_OPERATIONS))
async def test_head_answers_like_get_without_a_body(client: Any, settings: Settings, op: Operation) -> None:
    headers = {} if op.public else access_headers(settings, _role_for(op))
    url = concrete(op.path)
    got = await client.get(url, headers=headers)
    head = await client.head(url, headers=headers)
    assert head.status_code == got.status_code, (url, got.text[:200])
    assert head.content == b""
    assert head.headers.get("content-type") == got.headers.get("content-type")
    # /metrics changes between two requests (it counts them).
    if "content-length" in got.headers and got.status_code == 200 and op.path != "/metrics":
        assert head.headers["content-length"] == got.headers["content-length"]
