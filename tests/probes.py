"""Route handlers mounted only in tests, to drive the shared error and header machinery."""

from __future__ import annotations

import asyncpg
from litestar import Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from api.auth.middleware import PUBLIC
from core.structs import RequestBody, ResponseBody


class ProbeSet(RequestBody):
    reps: int
    weight: float
    done: bool = False


class ProbeExercise(RequestBody):
    name: str
    sets: list[ProbeSet]


class ProbeWorkout(RequestBody):
    title: str
    exercises: list[ProbeExercise]


class ProbeEcho(ResponseBody):
    title: str
    set_count: int


@post("/probe/workouts", status_code=200, opt={PUBLIC: True})
async def echo_workout(data: JSONBody[ProbeWorkout]) -> ProbeEcho:
    return ProbeEcho(title=data.title, set_count=sum(len(e.sets) for e in data.exercises))


@get("/probe/items/{item_id:int}", opt={PUBLIC: True})
async def get_item(item_id: FromPath[int], limit: FromQuery[int] = 10) -> dict[str, int]:
    return {"itemId": item_id, "limit": limit}


@get("/probe/not-modified", opt={PUBLIC: True})
async def not_modified() -> Response[None]:
    return Response(content=None, status_code=304, headers={"ETag": '"7"'})


@get("/probe/crash", opt={PUBLIC: True})
async def crash() -> None:
    raise RuntimeError("secret internal detail")


#: What a command meets while the primary fails over (each name the error's class).
FAILOVER_ERRORS = {
    "connection-lost": asyncpg.ConnectionDoesNotExistError,
    "admin-shutdown": asyncpg.AdminShutdownError,
    "crash-shutdown": asyncpg.CrashShutdownError,
    "starting-up": asyncpg.CannotConnectNowError,
    "now-a-standby": asyncpg.ReadOnlySQLTransactionError,
    "no-primary-listed": asyncpg.TargetServerAttributeNotMatched,
    "refused": ConnectionRefusedError,
}


@get("/probe/failover/{kind:str}", opt={PUBLIC: True})
async def failover(kind: FromPath[str]) -> None:
    raise FAILOVER_ERRORS[kind]("the primary went away")


class ProbeSignIn(RequestBody):
    email: str
    password: str


@post("/probe/crash-signed-in", status_code=200)
async def crash_signed_in(data: JSONBody[ProbeSignIn]) -> None:
    """Behind authentication, with credentials in the body and an email in the error: for error tracking."""
    raise RuntimeError(f"no account for {data.email}")


PROBES = [echo_workout, get_item, not_modified, crash, failover, crash_signed_in]
