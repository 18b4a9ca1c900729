"""The app factory and its single lifespan, which owns the asyncpg pool (and the embedded
PostgreSQL when no DATABASE_URL is configured)."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ASGIApp

from gateway.auth import Verifier
from gateway.body_limit import BodyLimitMiddleware
from gateway.embedded import embedded_postgres
from gateway.export_download import ExportDownload
from gateway.graphiql import ASSET_PATH, GraphiQL
from gateway.graphql import GatewayGraphQL
from gateway.health import healthz, readyz
from gateway.middleware import RequestContextMiddleware
from gateway.observability import AccessLogMiddleware, OperationLabels, PoolCollector, metrics_endpoint
from gateway.pages import ASSET_PATH as PAGE_ASSETS
from gateway.pages import PAGES, Pages
from gateway.persisted import PersistedLane, Registry
from gateway.ratelimit import RateLimitMiddleware, build_limiter
from gateway.revalidate import RevalidationLane
from gateway.schema import build_schema
from gateway.settings import Settings
from privacy.export import EXPORT_PATH
from resolvers.model.reference import listen as listen_for_reference_changes
from sql import create_pool, expected_version, schema_version

log = logging.getLogger(__name__)


class SchemaOutOfDate(RuntimeError):
    pass


# The collector's first generation runs after this many net allocations (Python's default 700).
# A viewer request keeps a few thousand objects alive at once (decision records, the response
# tree), so at 700 the collector ran about once per request and walked them all: 0.18 ms of a
# 5.7 ms request, against 0.06 ms at 5,000 (measured in process, docs/benchmarks.md).
GC_GEN0_THRESHOLD = 5000


@contextmanager
def _serving_gc() -> Iterator[None]:
    """While serving: what was loaded at start (schema, plans, catalogues, libraries) is moved
    out of the collector's generations (`gc.freeze`), so no collection walks it again, and the
    first generation is collected less often. Both are undone when the app stops (a test process
    starts many apps: nothing they leave in a cycle stays frozen)."""
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


async def _check_schema(pool: asyncpg.Pool) -> None:
    """Refuse to serve a database whose schema this code does not expect."""
    want = expected_version()
    try:
        async with pool.acquire() as conn:
            have = await schema_version(conn)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        # Unreachable now: start anyway, /readyz says unready until it answers.
        log.warning("database unreachable at start (%s); serving as unready", type(exc).__name__)
        return
    if have != want:
        raise SchemaOutOfDate(
            f"database schema is at version {have}, this gateway needs {want}: run `gateway migrate`"
        )


class GatewayApp(Starlette):
    """Starlette with the revalidation lane (gateway/revalidate.py) in front of its whole stack:
    a layout GET whose ETag still matches is answered there, everything else goes through the
    middleware below as before."""

    def __init__(self, *args: Any, lane: Callable[[ASGIApp], ASGIApp], **kwargs: Any) -> None:
        self.lane = lane
        super().__init__(*args, **kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        return self.lane(super().build_middleware_stack())


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    verifier = Verifier.from_settings(settings)
    schema = build_schema(settings)
    limits = settings.domain.limits
    documents = Registry.load(schema, extra=settings.documents_dir)
    graphiql = GraphiQL() if settings.graphiql_enabled else None
    # Registered at start: documents clients register at run time (development) take no label.
    operation_labels = OperationLabels([d.text for d in documents.by_id.values()], limits)
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    limiter = build_limiter(limits, settings.workers, redis_url, settings.redis_prefix)
    graphql_app = GatewayGraphQL(
        schema,
        settings.domain,
        graphiql=graphiql,
        documents=documents,
        persisted_only=settings.persisted_only,
        persisted_registration=settings.persisted_registration_enabled,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        with ExitStack() as stack:
            if settings.database_url is not None:
                dsn = settings.database_url.get_secret_value()
            else:
                dsn = stack.enter_context(embedded_postgres(settings.data_dir))
            pool = await create_pool(
                dsn,
                min_size=settings.pool_min_size,
                max_size=settings.pool_max_size,
                statement_timeout_ms=settings.statement_timeout_ms,
            )
            try:
                await _check_schema(pool)
                # Every worker drops cached reference data (catalog, offers, segments, rule
                # versions) when it changes, whichever worker or tool changed it.
                stop_listening = await listen_for_reference_changes(dsn)
                # ... and the layout ETag's inputs (gateway/etag_cache.py): a 304 without a round trip.
                stop_versions = await graphql_app.persisted.versions.listen(dsn)
                try:
                    with _serving_gc():
                        yield {"pool": pool, "settings": settings}
                finally:
                    await stop_versions()
                    await stop_listening()
            finally:
                await pool.close()
                await limiter.aclose()

    routes = [
        Route("/graphql", graphql_app, methods=["GET", "POST"]),
        Route("/graphql/persisted/{document_id:str}", graphql_app.persisted.endpoint, methods=["GET"]),
        Route(EXPORT_PATH + "/{link:str}", ExportDownload(settings.domain).endpoint, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint(limits, PoolCollector()), methods=["GET"]),
    ]
    pages = Pages()  # the privacy center and the analyst console, in every environment
    routes += [Route(path, pages.page, methods=["GET"]) for path in PAGES]
    routes.append(Route(PAGE_ASSETS + "/{name:str}", pages.asset, methods=["GET"]))
    if graphiql is not None:  # development only: the page's pinned assets
        routes.append(Route(ASSET_PATH + "/{name:str}", graphiql.asset, methods=["GET"]))
    return GatewayApp(
        lane=lambda app: RevalidationLane(app, graphql_app.persisted, verifier, limiter),
        routes=routes,
        # Outermost first: the access log sees every response; the request context sets the
        # request id, the principal (or the token's refusal) and the response headers; the rate
        # limit counts every request, bad tokens included, before answering those 401; the body
        # cap and read deadline apply before anything reads the body.
        middleware=[
            Middleware(AccessLogMiddleware, operation_labels=operation_labels),
            Middleware(RequestContextMiddleware, verifier=verifier),
            Middleware(RateLimitMiddleware, limiter=limiter),
            Middleware(BodyLimitMiddleware, max_bytes=limits.max_body_bytes, timeout_s=limits.body_timeout_s),
            # The persisted GET (the layout's 304) skips the router: gateway/persisted.py.
            Middleware(PersistedLane, endpoint=graphql_app.persisted),
        ],
        lifespan=lifespan,
    )
