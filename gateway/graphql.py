"""The GraphQL endpoint: builds the per-request Context and closes it after the operation."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from gateway.errors import closing_failed
from privacy.principal import ANONYMOUS
from resolvers.config import DomainConfig
from resolvers.context import Context


class GatewayGraphQL(GraphQL[Context, None]):
    def __init__(self, schema: Any, config: DomainConfig, graphiql: bool) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=True,
            multipart_uploads_enabled=False,
        )
        self.config = config

    async def get_context(self, request: Request, response: Response | Any) -> Context:  # type: ignore[override]
        state = request.scope.get("state", {})
        ctx = Context(
            pool=request.state.pool,
            principal=state.get("principal", ANONYMOUS),
            request_id=state.get("request_id", ""),
            config=self.config,
            gpc=state.get("gpc", False),
            request=request,
            response=response,
        )
        request.state.gql_context = ctx
        return ctx

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        ctx: Context | None = getattr(request.state, "gql_context", None)
        if ctx is not None:
            try:
                await ctx.close()
            except Exception as exc:
                # The audit / decision log could not be written: answer nothing rather than
                # data whose reading was not recorded.
                result = closing_failed(ctx, exc, self.config.limits.unavailable_retry_after_s)
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)
