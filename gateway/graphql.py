"""The GraphQL endpoint: builds the per-request Context and closes it after the operation."""

from __future__ import annotations

from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from gateway import json_input
from gateway.errors import closing_failed, error_body
from gateway.persisted import Registry
from privacy.principal import ANONYMOUS
from resolvers.config import DomainConfig
from resolvers.context import Context

HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 415: "UNSUPPORTED_MEDIA_TYPE"}


class GatewayGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        schema: Any,
        config: DomainConfig,
        graphiql: bool,
        documents: Registry | None = None,
        persisted_only: bool = False,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=True,
            multipart_uploads_enabled=False,
        )
        self.config = config
        self.documents = documents
        self.persisted_only = persisted_only

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """HTTP errors (bad body, unsupported content type, ...) as JSON with the request id,
        like every other error, instead of Strawberry's plain text."""
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            request_id = request.scope.get("state", {}).get("request_id", "")
            code = HTTP_CODES.get(exc.status_code, "BAD_REQUEST")
            body = error_body(exc.reason, code, request_id)
            return Response(body, status_code=exc.status_code, media_type="application/json")

    def decode_json(self, data: str | bytes) -> object:
        """Bodies (bytes) and GET `variables` / `extensions` (str): gateway/json_input.py."""
        limit = self.config.limits.max_json_depth
        try:
            if isinstance(data, bytes):
                return json_input.loads_body(data, limit)
            return json_input.loads(data, limit, "the `variables` or `extensions` parameter")
        except json_input.BadJson as exc:
            raise HTTPException(400, exc.message) from None

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Registered documents may be sent by id; with persisted_only, nothing else is run."""
        data = await super().parse_http_body(request)
        if self.documents is None:
            return data
        items = data if isinstance(data, list) else [data]
        for item in items:
            by_id = ((item.extensions or {}).get("persistedQuery") or {}).get("sha256Hash")
            if item.query is None and isinstance(by_id, str):
                doc = self.documents.get(by_id)
                if doc is None:
                    raise HTTPException(400, "PersistedQueryNotFound: unknown document id")
                item.query = doc.text
            elif self.persisted_only and (item.query is None or not self.documents.knows_text(item.query)):
                raise HTTPException(
                    400,
                    "This server runs registered (persisted) documents only and this document is not "
                    "registered; send a registered one, or its id in extensions.persistedQuery.sha256Hash.",
                )
        return data

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
