"""GET /v1/export/{link}: the person's complete export, streamed (privacy/export.py).

The link comes from `requestDataExport` and is its own credential for a few minutes (a browser
can download it); only its hash is stored. The answer is written while it is read from the
database, so the gateway's memory does not grow with the history. Reads are audited under
essential.service with action `export`, written when the stream ends."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from privacy.export import link_owner, stream_export
from privacy.guard import Guard, load_snapshot
from privacy.principal import Principal, Role
from resolvers.account.rights import inferences_for_export
from resolvers.config import DomainConfig


class ExportDownload:
    def __init__(self, config: DomainConfig) -> None:
        self.config = config

    async def endpoint(self, request: Request) -> Response:
        pool = request.state.pool
        user_id = await link_owner(pool, request.path_params["link"])
        headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
        if user_id is None:
            return JSONResponse({"error": "unknown or expired export link"}, status_code=404, headers=headers)
        state = request.scope.get("state", {})
        snapshot = await load_snapshot(pool, user_id, False)
        guard = Guard(pool, Principal(Role.USER, str(user_id)), state.get("request_id", ""), snapshot)
        inferences = await inferences_for_export(guard, user_id, self.config)

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in stream_export(guard, user_id, inferences, self.config.retention):
                    yield chunk
            finally:
                await guard.flush()

        headers["Content-Disposition"] = f'attachment; filename="export-{user_id}.json"'
        return StreamingResponse(body(), media_type="application/json", headers=headers)
