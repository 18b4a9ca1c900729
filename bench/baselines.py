"""The baselines served beside the gateway, on the same uvicorn and event loop settings.

- `strawberry_app`: a bare Strawberry app (ParserCache + ValidationCache, as a careful user would
  configure it; no auth, no middleware, no database) answering the same queries with a static
  response of the same shape. For the personalized query (tags + layout + feed with why) its
  types mirror the gateway's (bench/baseline_types.py) and the static objects are built from
  the response the gateway gave for that query (BENCH_STATIC_FILE, written before this starts).
- `starlette_app`: a plain Starlette JSON endpoint returning the same bytes a client would get:
  the ceiling for anything served by this server stack.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

from bench.baseline_types import FeedItem, LayoutConfig, LayoutConfigPayload, Platform, Surface, Tags, build

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
    tags: Tags
    feed_items: strawberry.Private[list[FeedItem]]

    @strawberry.field
    def feed(self, surface: Surface, limit: int = 10, category: str | None = None) -> list[FeedItem]:
        return self.feed_items[:limit]


def _captured(scenario: str) -> dict[str, Any]:
    """The gateway's answer (its `data`) in a scenario, or {} when it was not captured."""
    path = os.environ.get("BENCH_STATIC_FILE")
    if not path or not Path(path).exists():
        return {}
    body = json.loads(Path(path).read_text()).get(scenario)
    return dict(json.loads(body)["data"]) if body else {}


# Static answers: the gateway's own, so the baseline serialises the same values.
PERSONALIZED = _captured("gateway_personalized")
_viewer = PERSONALIZED.get("viewer") or {}
TAGS: Tags = build(Tags, _viewer.get("tags"))
FEED: list[FeedItem] = build(list[FeedItem], _viewer.get("feed")) or []
LAYOUT: LayoutConfig = build(LayoutConfig, PERSONALIZED.get("layoutConfig"))
ACCOUNT = _captured("gateway_viewer").get("viewer") or {}
WHOAMI = _captured("gateway_whoami").get("whoami") or {}


@strawberry.type
class Query:
    @strawberry.field
    def whoami(self) -> Whoami:
        return Whoami(
            role=WHOAMI.get("role", "user"), subject=WHOAMI.get("subject", "1"), request_id="0" * 32
        )

    @strawberry.field
    def viewer(self) -> Viewer | None:
        created = ACCOUNT.get("createdAt")
        return Viewer(
            id=strawberry.ID(ACCOUNT.get("id", "1")),
            created_at=datetime.fromisoformat(created) if created else STATIC_CREATED,
            personalization_level=PersonalizationLevel[ACCOUNT.get("personalizationLevel", "BASIC")],
            country=ACCOUNT.get("country", "DE"),
            platform=ACCOUNT.get("platform", "web"),
            preferred_channel=ACCOUNT.get("preferredChannel", "email"),
            tags=TAGS,
            feed_items=FEED,
        )

    @strawberry.field
    def layout_config(self, platform: Platform, app_version: str) -> LayoutConfigPayload:
        return LAYOUT


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
