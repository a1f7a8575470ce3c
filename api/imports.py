"""`POST /v1/imports`: a Strong or Hevy CSV export, imported (or tried, with `dryRun`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, QueryParameter

from api.auth.middleware import principal_of
from api.problems import FieldError, problem_response, problem_specs
from api.request_context import request_id_of
from api.responses import Response
from api.state import AppServices
from api.writes import announce, consistency_headers
from commands.accounts import get_account
from commands.imports.importer import ImportResult, import_file
from commands.imports.parsers import parse_csv
from core import clock

MAX_IMPORT_BYTES = 16 * 1024 * 1024
_ENCODER = msgspec.json.Encoder()


class ImportForm(msgspec.Struct):
    file: UploadFile


class _Rollback(Exception):
    """Ends a dry run's transaction: everything it wrote is undone."""


DryRun = Annotated[
    bool, QueryParameter(name="dryRun", description="Report what would be imported and write nothing")
]
SkipInvalid = Annotated[
    bool, QueryParameter(name="skipInvalid", description="Import the good rows even when some rows are bad")
]
WeightUnit = Annotated[
    Literal["kg", "lb"] | None,
    QueryParameter(
        name="weightUnit",
        description=(
            "The weights' unit of a Strong export without a Weight Unit column "
            "(its distances are then km with kg, miles with lb)"
        ),
    ),
]


class ImportsController(Controller):
    path = "/v1/imports"
    tags = ["imports"]

    @post(
        operation_id="importWorkouts",
        summary="Import a Strong or Hevy CSV export; re-importing the same file creates nothing",
        status_code=200,
        request_max_body_size=MAX_IMPORT_BYTES,
        responses={
            200: ResponseSpec(
                generate_examples=False,
                data_container=ImportResult,
                description="What was (or would be) imported",
            ),
            **problem_specs(413, 415, 422),
        },
    )
    async def import_workouts(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[ImportForm, Body(media_type=RequestEncodingType.MULTI_PART)],
        services: NamedDependency[AppServices],
        *,
        dry_run: DryRun = False,
        skip_invalid: SkipInvalid = False,
        weight_unit: WeightUnit = None,
    ) -> Response[bytes]:
        user_id = principal_of(request).user_id
        content = await data.file.read()
        account = await get_account(services.pool, user_id)
        timezone = account.timezone if account else "UTC"
        parsed = parse_csv(content, weight_unit=weight_unit, timezone=timezone)
        result: ImportResult | None = None
        async with services.pool.acquire() as connection:
            try:
                async with connection.transaction():
                    result = await import_file(
                        connection,
                        user_id=user_id,
                        parsed=parsed,
                        now=clock.now(),
                        request_id=request_id_of(request.scope),
                        dry_run=dry_run,
                    )
                    if dry_run or (result.errors and not skip_invalid):
                        raise _Rollback
            except _Rollback:
                # Nothing was written: the token is the stream as it stands.
                version = await connection.fetchval("SELECT version FROM streams WHERE user_id = $1", user_id)
                assert result is not None
                result = msgspec.structs.replace(result, stream_version=int(version))
        assert result is not None
        if result.errors and not skip_invalid and not dry_run:
            detail = (
                f"{len(result.errors)} row(s) cannot be imported, so nothing was. "
                "Fix them, or pass skipInvalid=true to import the rest."
            )
            return problem_response(
                request,
                422,
                detail=detail,
                errors=[FieldError(field="file", message=detail)],
                extra={"rows": msgspec.to_builtins(result.errors)},
            )
        if not dry_run and (result.workouts_created or result.exercises_created):
            await announce(services, user_id)
        return Response(
            content=_ENCODER.encode(result),
            media_type="application/json",
            headers=consistency_headers(result.stream_version),
        )
