"""/healthz: the process is alive. /readyz: the database answers and the schema is current."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse

from sql import expected_version, load_queries

Q = load_queries()
_READY_TIMEOUT_S = 2.0


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    want = expected_version()
    try:
        async with asyncio.timeout(_READY_TIMEOUT_S):
            version = await request.state.pool.fetchval(Q.ready_check)
    except Exception:
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    if version != want:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "schema_version": version, "expected_version": want},
            status_code=503,
            headers={"Retry-After": "30"},
        )
    return JSONResponse({"status": "ready", "database": "ok", "schema_version": version})
