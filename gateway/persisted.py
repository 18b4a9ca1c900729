"""Persisted (trusted) documents: GET by document id, with an ETag and 304 for the layout.

Documents live in gateway/documents/*.graphql (and in `documents_dir` when configured, e.g. a
client app's persisted-query manifest); a document's id is the sha256 (hex) of its text.
`GET /graphql/persisted/{document_id}?variables={json}` executes a registered query, and so does
`GET /graphql?extensions={"persistedQuery":{"version":1,"sha256Hash":id}}&variables={json}`
(Apollo's protocol, gateway/apq.py). For documents with an ETag scope (the layout), the ETag is
computed first from versions only (one small SQL query: config version, consent version, level,
granted purposes, hidden inferences, the tag-inputs counter) and a matching `If-None-Match` is
answered `304 Not Modified` without executing the GraphQL operation. With `persisted_only`,
POST /graphql accepts only registered documents too (by text, or by id)."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from cross_web import HTTPException
from graphql import DocumentNode, OperationDefinitionNode, parse, validate
from graphql.execution.values import get_variable_values
from starlette.requests import Request
from starlette.responses import Response
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from gateway import json_input
from gateway.errors import error_body
from gateway.etag_cache import VersionCache
from gateway.media import GRAPHQL_RESPONSE_CONTENT_TYPE, GRAPHQL_RESPONSE_JSON, JSON, MethodNotAllowed
from privacy.guard import StateVersions
from privacy.i18n import negotiate
from privacy.principal import ANONYMOUS, Principal
from privacy.purposes import PURPOSES
from resolvers.common import document_limits
from resolvers.config import DomainConfig
from resolvers.layout.versions import LAYOUT_VERSION_MEMO

DOCUMENTS_DIR = Path(__file__).parent / "documents"
# Documents whose result depends only on what layout_etag_inputs reads (plus variables and the
# UTC day, for tenure), and so may be answered 304 on a matching ETag.
ETAG_SCOPES = {"layout": "layout"}


QUERY_CACHE_SIZE = 1024
QUERY_KEY_MAX_BYTES = 2048


class _Unset:
    pass


UNSET = _Unset()


def document_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class PersistedDocument:
    id: str
    name: str
    text: str
    etag_scope: str | None


class Registry:
    """The trusted documents, each parsed and validated against the schema at start."""

    def __init__(self, documents: list[PersistedDocument]) -> None:
        self.by_id = {d.id: d for d in documents}
        self.by_name = {d.name: d for d in documents}

    @classmethod
    def load(cls, schema: Any, directory: Path = DOCUMENTS_DIR, extra: Path | None = None) -> Registry:
        """The documents in `directory`, and in `extra` (without ETag scopes: a scope promises
        that the result depends only on what the ETag reads, which holds for ours only)."""
        documents = [*_read(schema, directory, ETAG_SCOPES), *(_read(schema, extra, {}) if extra else [])]
        names = [d.name for d in documents]
        if len(set(names)) != len(names):
            raise ValueError(f"two persisted documents have the same name: {sorted(names)}")
        trusted = getattr(schema, "trusted", None)
        for d in documents:  # executed from a compiled plan (gateway/plan.py)
            if trusted is not None:
                trusted.trust(d.text)
        return cls(documents)

    def get(self, document_id: str) -> PersistedDocument | None:
        return self.by_id.get(document_id)

    def knows_text(self, text: str) -> bool:
        return document_id(text) in self.by_id


def _read(schema: Any, directory: Path, scopes: dict[str, str]) -> list[PersistedDocument]:
    if not directory.is_dir():
        raise ValueError(f"persisted documents directory {directory} does not exist")
    documents = []
    for path in sorted(directory.glob("*.graphql")):
        text = path.read_text(encoding="utf-8")
        errors = validate(schema._schema, parse(text))
        if errors:
            raise ValueError(f"persisted document {path.name} does not match the schema: {errors[0].message}")
        documents.append(PersistedDocument(document_id(text), path.stem, text, scopes.get(path.stem)))
    return documents


def _sorted_set(value: object) -> list[object]:
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


def _config_fingerprint(config: DomainConfig) -> str:
    """Deployed layout settings and thresholds, so a redeploy with new values changes ETags too."""
    # Sets are sorted: their iteration order changes with each process's string hash seed, and
    # an ETag must be the same from every worker and after a restart.
    notices = {key: p.version for key, p in PURPOSES.items()}  # a new notice changes what is in effect
    raw = orjson.dumps(
        [config.layout.model_dump(), config.tags.model_dump(), notices],
        default=_sorted_set,
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(raw).hexdigest()[:16]


async def layout_etag(
    pool: asyncpg.Pool,
    cache: VersionCache,
    doc: PersistedDocument,
    variables: dict[str, Any],
    principal: Principal,
    gpc: bool,
    fingerprint: str,
    accept_language: str | None = None,
) -> tuple[str, int]:
    """(ETag, layout rule version). Versions only: the document, its variables, the deployed
    settings, the public rule version and, for a known user, the counters every change of what
    their layout depends on bumps (consent, level, objection, controls: consent_version; tag
    inputs: layout_inputs_version; their own settings: customization_version). An anonymous app's
    client-held settings are a variable of the document, so they are in the ETag too."""
    versions = await cache.get(pool, principal.user_id)  # in memory while its listener is up
    return etag_of(versions, doc, variables, principal.user_id, gpc, fingerprint, accept_language)


def etag_of(
    versions: StateVersions,
    doc: PersistedDocument,
    variables: dict[str, Any],
    user_id: int | None,
    gpc: bool,
    fingerprint: str,
    accept_language: str | None,
) -> tuple[str, int]:
    """layout_etag's computation from the versions already at hand (also the revalidation lane's,
    gateway/revalidate.py)."""
    # The negotiated Accept-Language: every text is rendered in it (a stored choice moves
    # consent_version, so it is covered below).
    language = negotiate(accept_language)
    parts: list[object] = [
        doc.id,
        variables,
        fingerprint,
        versions.config_version,
        language.value if language else None,
    ]
    if versions.consent_version is not None:
        parts += [
            user_id,
            versions.consent_version,
            versions.layout_inputs_version,
            versions.customization_version,
            gpc,
            datetime.now(UTC).date().isoformat(),  # tenure is counted in days
        ]
    digest = hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
    return f'"{digest}"', versions.config_version


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Only a listed ETag matches: `*` would answer 304 without knowing the request is valid."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return etag in tags


@lru_cache(maxsize=64)
def _parsed(text: str) -> DocumentNode:
    return parse(text)


def etag_variables(schema: Any, doc: PersistedDocument, variables: dict[str, Any]) -> dict[str, Any] | None:
    """The variables the document declares (extra keys do not change the ETag), or None when
    they would be refused (then no 304: the request runs and answers its errors)."""
    document = _parsed(doc.text)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    definitions = operation.variable_definitions or ()
    coerced = get_variable_values(schema._schema, definitions, variables)
    if isinstance(coerced, list) or document_limits.nul_in_variables(document, variables) is not None:
        return None
    declared = {d.variable.name.value for d in definitions}
    return {k: v for k, v in variables.items() if k in declared}


def _error(status: int, message: str, code: str, request: Request) -> Response:
    request_id = request.scope.get("state", {}).get("request_id", "")
    return Response(
        error_body(message, code, request_id),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def parse_variables(raw: str | None, max_depth: int) -> dict[str, Any]:
    """GET `variables`, decoded like every JSON input (gateway/json_input.py)."""
    try:
        variables = json_input.loads(raw or "{}", max_depth, "`variables`")
    except json_input.BadJson as exc:
        raise HTTPException(400, exc.message) from None
    if not isinstance(variables, dict):
        raise HTTPException(400, "`variables` must be a JSON object")
    return variables


class PersistedEndpoint:
    """Runs trusted documents by id, for GET /graphql/persisted/{id} and for GET /graphql with
    Apollo's `extensions.persistedQuery` (the same caching headers, ETag and 304 on both)."""

    def __init__(self, registry: Registry, view: Any, config: DomainConfig) -> None:
        self.registry = registry
        self.view = view  # the GatewayGraphQL view: same context, closing and error masking
        self.config = config
        self.fingerprint = _config_fingerprint(config)
        # The ETag inputs, per worker (gateway/etag_cache.py); the app's lifespan starts its listener.
        self.versions = VersionCache()
        # (document id, raw query string) -> (variables, the declared ones for the ETag): a client
        # revalidating sends the same query string every time, so the 304 path neither parses
        # nor coerces it again. A pure function of its key; bounded (oldest out).
        self._queries: dict[tuple[str, bytes], tuple[dict[str, Any], dict[str, Any] | None]] = {}

    async def endpoint(self, request: Request) -> Response:
        doc = self.registry.get(request.path_params["document_id"])
        if doc is None:
            return _error(404, "unknown persisted document id", "PERSISTED_QUERY_NOT_FOUND", request)
        raw: bytes = request.scope.get("query_string", b"")
        key = (doc.id, raw)
        known = self._queries.get(key)
        try:
            if known is None:
                variables = parse_variables(
                    request.query_params.get("variables"), self.config.limits.max_json_depth
                )
                declared = etag_variables(self.view.schema, doc, variables) if doc.etag_scope else None
                known = (variables, declared)
                if len(raw) <= QUERY_KEY_MAX_BYTES:
                    if len(self._queries) >= QUERY_CACHE_SIZE:
                        self._queries.pop(next(iter(self._queries)))
                    self._queries[key] = known
            return await self.serve(request, doc, known[0], declared=known[1])
        except HTTPException as exc:
            return _error(exc.status_code, exc.reason, "BAD_REQUEST", request)

    async def serve(
        self,
        request: Request,
        doc: PersistedDocument,
        variables: dict[str, Any],
        media: str = JSON,
        declared: dict[str, Any] | _Unset | None = UNSET,
    ) -> Response:
        state = request.scope.get("state", {})
        principal: Principal = state.get("principal", ANONYMOUS)
        visibility = "public" if principal.is_anonymous else "private"
        headers = {
            "Cache-Control": f"{visibility}, max-age={self.config.layout.max_age_s}",
            "Vary": "Authorization, Sec-GPC, Accept-Language",
        }
        if isinstance(declared, _Unset):
            declared = etag_variables(self.view.schema, doc, variables) if doc.etag_scope else None
        if declared is not None:
            etag, layout_version = await layout_etag(
                state["pool"],
                self.versions,
                doc,
                declared,
                principal,
                state.get("gpc", False),
                self.fingerprint,
                request.headers.get("accept-language"),
            )
            headers["ETag"] = etag
            if _matches(request.headers.get("if-none-match"), etag):
                return Response(status_code=304, headers=headers)
        sub_response = await self.view.get_sub_response(request)
        context = await self.view.get_context(request, sub_response)
        if declared is not None:
            # The answer is computed from the very version the ETag names, never a cached older one.
            context.memo[LAYOUT_VERSION_MEMO] = layout_version
        try:
            result = await self.view.schema.execute(
                doc.text,
                # its own copy: the variables may be a cached entry no request may change
                variable_values=copy.deepcopy(variables),
                context_value=context,
                allowed_operation_types={OperationType.QUERY},
            )
        except InvalidOperationTypeError as exc:
            await context.close()
            raise MethodNotAllowed("only queries run by GET; send mutations by POST", allow="POST") from exc
        body = await self.view.process_result(request, result)  # also closes the context
        if result.errors:
            headers = {"Cache-Control": "no-store"}
        response = Response(
            orjson.dumps(body),
            status_code=sub_response.status_code or 200,
            media_type=GRAPHQL_RESPONSE_CONTENT_TYPE if media == GRAPHQL_RESPONSE_JSON else JSON,
            headers=headers,
        )
        response.headers.update({k: v for k, v in sub_response.headers.items() if k != "content-type"})
        return response


class PersistedLane:
    """The innermost middleware: `GET /graphql/persisted/{id}` goes straight to the endpoint,
    without Starlette's exception middleware and router (about a tenth of a 304's CPU). Every
    middleware in front of it (access log, request id and principal, rate limit, body limit)
    still runs; the route stays registered for HEAD and anything else."""

    PREFIX = "/graphql/persisted/"

    def __init__(self, app: Any, endpoint: PersistedEndpoint) -> None:
        self.app = app
        self.endpoint = endpoint

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and scope["method"] == "GET" and path.startswith(self.PREFIX):
            document = path[len(self.PREFIX) :]
            if document and "/" not in document:
                scope["path_params"] = {"document_id": document}
                response = await self.endpoint.endpoint(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
