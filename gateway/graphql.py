"""The GraphQL endpoint: builds the per-request Context and closes it after the operation, speaks
the GraphQL-over-HTTP spec's media types (gateway/media.py) and Apollo's persisted-query
protocol (gateway/apq.py), and serves GraphiQL from local assets in development
(gateway/graphiql.py)."""

from __future__ import annotations

from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from gateway import apq, json_input
from gateway.errors import closing_failed, error_body
from gateway.graphiql import GraphiQL
from gateway.media import (
    GRAPHQL_RESPONSE_CONTENT_TYPE,
    GRAPHQL_RESPONSE_JSON,
    JSON,
    MethodNotAllowed,
    is_request_error,
    negotiate,
)
from gateway.persisted import PersistedEndpoint, Registry, parse_variables
from privacy.i18n import negotiate as negotiate_language
from privacy.principal import ANONYMOUS
from resolvers.config import DomainConfig
from resolvers.context import Context

_ERROR_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def _media(request: Request) -> str:
    return str(request.scope.get("state", {}).get("graphql_media", JSON))


class GatewayGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        schema: Any,
        config: DomainConfig,
        graphiql: GraphiQL | None,
        documents: Registry,
        persisted_only: bool = False,
        persisted_registration: bool = False,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=True,
            multipart_uploads_enabled=False,
        )
        self.config = config
        self.graphiql = graphiql
        self.documents = documents
        self.persisted_only = persisted_only
        self.runtime_documents = apq.RuntimeDocuments() if persisted_registration else None
        self.persisted = PersistedEndpoint(documents, self, config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        media = negotiate(request.headers.get("accept"))
        scope.setdefault("state", {})["graphql_media"] = media
        try:
            response = await self._trusted_get(request, media) or await self.run(request)
        except HTTPException as exc:
            response = _http_error(exc, media, scope["state"].get("request_id", ""))
        if media == GRAPHQL_RESPONSE_JSON and response.headers.get("content-type") == JSON:
            response.headers["content-type"] = GRAPHQL_RESPONSE_CONTENT_TYPE
        await response(scope, receive, send)

    async def _trusted_get(self, request: Request, media: str) -> Response | None:
        """GET with the hash of a trusted document: served like GET /graphql/persisted/{id},
        with its caching headers (and ETag / 304 for the layout)."""
        if request.method != "GET":
            return None
        params = request.query_params
        if params.get("query") or not params.get("extensions"):
            return None
        try:
            extensions = orjson.loads(params["extensions"])
        except orjson.JSONDecodeError:
            return None  # the ordinary path answers this
        sha256 = apq.requested_hash(extensions)
        doc = self.documents.get(sha256) if sha256 else None
        if doc is None:
            return None
        variables = parse_variables(params.get("variables"), self.config.limits.max_json_depth)
        return await self.persisted.serve(request, doc, variables, media)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item.operation_name, str | None):
                raise HTTPException(400, "The GraphQL operation's `operationName` must be a string or null.")
        return data

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Strawberry's, with persisted queries resolved first and a GET mutation answered 405."""
        lookup = apq.resolve(request_data, self.documents, self.runtime_documents, self.persisted_only)
        if lookup.not_found:
            request.scope.setdefault("state", {})["persisted_query_not_found"] = True
            return apq.not_found()
        method = request_adapter.method
        try:
            result = await self.schema.execute(
                lookup.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=OperationType.from_http(method),
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except InvalidOperationTypeError as exc:
            if method == "GET":
                raise MethodNotAllowed(exc.as_http_error_reason(method), allow="POST") from exc
            raise HTTPException(400, exc.as_http_error_reason(method)) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request") from exc
        if lookup.register and lookup.query and not isinstance(result, PreExecutionError):
            assert self.runtime_documents is not None
            self.runtime_documents.add(lookup.register, lookup.query)  # it parsed and validated
        return result

    async def get_context(self, request: Request, response: Response | Any) -> Context:  # type: ignore[override]
        state = request.scope.get("state", {})
        ctx = Context(
            pool=request.state.pool,
            principal=state.get("principal", ANONYMOUS),
            request_id=state.get("request_id", ""),
            config=self.config,
            gpc=state.get("gpc", False),
            accept_language=negotiate_language(request.headers.get("accept-language")),
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
        body = await super().process_result(request, result)
        state = request.scope.get("state", {})
        if state.get("persisted_query_not_found"):
            # Apollo's answer: HTTP 200 and no data, whatever the media type; the client retries.
            body.pop("data", None)
        elif _media(request) == GRAPHQL_RESPONSE_JSON and is_request_error(result):
            body.pop("data", None)
            if ctx is not None and not getattr(ctx.response, "status_code", None):
                ctx.response.status_code = 400
        return body

    def should_render_graphql_ide(self, request: Any) -> bool:
        # a GET carrying a persisted query's hash is an operation, whatever its Accept says
        return super().should_render_graphql_ide(request) and not request.query_params.get("extensions")

    async def render_graphql_ide(self, request: Request) -> Response:
        assert self.graphiql is not None
        return self.graphiql.page(request)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        """Bodies (bytes) and GET `variables` / `extensions` (str): gateway/json_input.py."""
        limit = self.config.limits.max_json_depth
        try:
            if isinstance(data, bytes):
                return json_input.loads_body(data, limit)
            return json_input.loads(data, limit, "the `variables` or `extensions` parameter")
        except json_input.BadJson as exc:
            raise HTTPException(400, exc.message) from None


def _http_error(exc: HTTPException, media: str, request_id: str) -> Response:
    """A request refused before execution, as a GraphQL response in the negotiated media type."""
    code = _ERROR_CODES.get(exc.status_code, "BAD_REQUEST")
    body = error_body(exc.reason, code, request_id)
    headers = {"Allow": getattr(exc, "allow", "GET, POST")} if exc.status_code == 405 else None
    content_type = GRAPHQL_RESPONSE_CONTENT_TYPE if media == GRAPHQL_RESPONSE_JSON else JSON
    return Response(body, status_code=exc.status_code, media_type=content_type, headers=headers)
