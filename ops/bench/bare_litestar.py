"""The framework's own speed: Litestar with no middleware, served exactly as `ironlog api` serves Ironlog
(uvicorn, `api.cli.UVICORN_OPTIONS`). The benchmark measures it in the same run as Ironlog
(BENCHMARKS.md, "Request overhead").

- `GET /constant`: one handler returning a constant msgspec Struct, nothing else;
- `GET /realistic`: what an Ironlog read's signature asks of Litestar (the `Request`, one dependency,
  one header parameter) answering constant bytes, to tell the framework's parameter work from ours.

Run: `python -m ops.bench.bare_litestar --port N`.
"""

from __future__ import annotations

import argparse
from typing import Annotated, Any

import msgspec
from litestar import Litestar, Request, Response, get
from litestar.di import Provide
from litestar.params import Parameter


class Status(msgspec.Struct):
    status: str
    service: str


_STATUS = Status(status="ok", service="bare-litestar")
_BYTES = b'{"status":"ok","service":"bare-litestar"}'


@get("/constant", sync_to_thread=False)
def constant() -> Status:
    return _STATUS


def _provide_marker() -> str:
    return "services"


@get("/realistic", dependencies={"services": Provide(_provide_marker, sync_to_thread=False)})
async def realistic(
    request: Request[Any, Any, Any],
    services: str,
    token: Annotated[str | None, Parameter(header="x-consistency-token")] = None,
) -> Response[bytes]:
    return Response(content=_BYTES, media_type="application/json")


app = Litestar(route_handlers=[constant, realistic], logging_config=None, openapi_config=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn

    from api.cli import UVICORN_OPTIONS

    uvicorn.run("ops.bench.bare_litestar:app", host="127.0.0.1", port=args.port, **UVICORN_OPTIONS)


if __name__ == "__main__":
    main()
