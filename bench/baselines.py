"""The baselines served beside the gateway, on the same uvicorn and event loop settings.

- `strawberry_app`: a bare Strawberry app (ParserCache + ValidationCache, as a careful user would
  configure it; no auth, no middleware, no database) answering the same queries with a static
  response of the same shape. The lead extends `Viewer` with the personalization fields
  (tags, layout, feed items with why) as those scenarios are wired.
- `starlette_app`: a plain Starlette JSON endpoint returning the same bytes a client would get:
  the ceiling for anything served by this server stack.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

STATIC_CREATED = datetime(2026, 1, 1, tzinfo=UTC)


@strawberry.enum
class PersonalizationLevel(Enum):
    NONE = "NONE"
    BASIC = "BASIC"
    FULL = "FULL"


@strawberry.type
class Whoami:
    role: str
    subject: str | None
    request_id: str


@strawberry.type
class Viewer:
    id: strawberry.ID
    created_at: datetime
    personalization_level: PersonalizationLevel
    country: str | None
    platform: str | None
    preferred_channel: str | None


@strawberry.type
class Query:
    @strawberry.field
    def whoami(self) -> Whoami:
        return Whoami(role="user", subject="1", request_id="0" * 32)

    @strawberry.field
    def viewer(self) -> Viewer | None:
        return Viewer(
            id=strawberry.ID("1"),
            created_at=STATIC_CREATED,
            personalization_level=PersonalizationLevel.BASIC,
            country="DE",
            platform="web",
            preferred_channel="email",
        )


def strawberry_app() -> GraphQL[None, None]:
    schema = strawberry.Schema(query=Query, extensions=[ParserCache, ValidationCache])
    return GraphQL(schema, graphql_ide=None)


# The plain endpoint returns, per scenario, the exact bytes the gateway returned for it (the
# harness writes them to BENCH_STATIC_FILE before starting this app), so sizes match.
def starlette_app() -> Starlette:
    bodies = {k: v.encode() for k, v in json.loads(Path(os.environ["BENCH_STATIC_FILE"]).read_text()).items()}

    async def endpoint(request: Request) -> Response:
        await request.body()
        return Response(bodies[request.path_params["name"]], media_type="application/json")

    return Starlette(routes=[Route("/static/{name}", endpoint, methods=["GET", "POST"])])
