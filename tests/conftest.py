from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from gateway import Settings, create_app
from gateway.auth import issue_token
from gateway.settings import Environment
from privacy.principal import Role
from tests import pg

TEST_SECRET = "test-secret-" + "x" * 60


@pytest.fixture(scope="session")
def admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An admin DSN on a real PostgreSQL: TEST_DATABASE_URL, or an embedded server."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    # Keep the path short: the server's unix socket lives in it.
    directory = Path(f"/tmp/gw-pg-{os.getpid()}")
    with pg.embedded_server(directory) as (dsn, _server):
        yield dsn


@pytest.fixture(scope="session")
def template_db(admin_dsn: str) -> Iterator[str]:
    name = pg.migrated_template(admin_dsn)
    yield name
    pg.drop_database(admin_dsn, name)


@pytest.fixture
def db_dsn(admin_dsn: str, template_db: str) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    name = f"gw_t_{uuid.uuid4().hex[:12]}"
    dsn = pg.create_database(admin_dsn, name, template=template_db)
    yield dsn
    pg.drop_database(admin_dsn, name)


def make_settings(dsn: str, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        environment=Environment.TEST,
        database_url=SecretStr(dsn),
        data_dir=data_dir,
        jwt_secret=SecretStr(TEST_SECRET),
        **overrides,
    )


@pytest.fixture
def settings(db_dsn: str, tmp_path: Path) -> Settings:
    return make_settings(db_dsn, tmp_path / "data")


@pytest.fixture
def token(settings: Settings) -> Callable[..., str]:
    def make(role: Role | str = Role.USER, sub: str | int = "1", ttl: int = 600) -> str:
        return issue_token(settings, Role(role), str(sub), ttl_s=ttl)

    return make


@asynccontextmanager
async def running_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app built from `settings` (lifespan included), spoken to over HTTP semantics."""
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_with_state(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
            yield c


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app (lifespan included) over HTTP semantics, on a fresh database."""
    async with running_client(settings) as c:
        yield c


def _with_state(app: Any, state: dict[str, Any]) -> Any:
    """Give each request the lifespan state, as uvicorn does."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "state": {**state, **scope.get("state", {})}}
        await app(scope, receive, send)

    return asgi


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST a GraphQL operation; returns the decoded body (asserting a 200)."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=h)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- demo data: a seeded world (gateway seed), cloned per test ---
DEMO_CONFIG = {"users": 400, "events": 8000, "seed": 7}


@pytest.fixture(scope="session")
def demo_template(admin_dsn: str, template_db: str) -> Iterator[str]:
    """A migrated database holding the demo world (400 users, 8,000 events, seed 7), seeded once.
    Its history ends at the start of today (UTC), so 'recent' means recent to the tests too."""
    import asyncio

    from demo.seed import SeedConfig, seed_database

    name = f"gw_demo_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    dsn = pg.create_database(admin_dsn, name, template=template_db)
    asyncio.run(seed_database(dsn, SeedConfig(**DEMO_CONFIG), progress=False))
    yield name
    pg.drop_database(admin_dsn, name)


@pytest.fixture
def demo_dsn(admin_dsn: str, demo_template: str) -> Iterator[str]:
    """A fresh copy of the demo world for one test."""
    name = f"gw_d_{uuid.uuid4().hex[:12]}"
    dsn = pg.create_database(admin_dsn, name, template=demo_template)
    yield dsn
    pg.drop_database(admin_dsn, name)


@pytest.fixture
def demo_settings(demo_dsn: str, tmp_path: Path) -> Settings:
    return make_settings(demo_dsn, tmp_path / "data")


@pytest.fixture
async def demo_client(demo_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over HTTP on a fresh copy of the demo world (sign with `demo_token`)."""
    async with running_client(demo_settings) as c:
        yield c


@pytest.fixture
def demo_token(demo_settings: Settings) -> Callable[..., str]:
    """Like `token`, without creating the empty per-test database that `token` brings along."""

    def make(role: Role | str = Role.USER, sub: str | int = "1", ttl: int = 600) -> str:
        return issue_token(demo_settings, Role(role), str(sub), ttl_s=ttl)

    return make


# --- tools a fresh machine may lack: requested first, so a skip costs no database or server ---
@pytest.fixture(scope="session")
def node() -> str:
    """Node.js with tests/js's pinned packages; skips without them (fails with GATEWAY_REQUIRE_NODE=1)."""
    from tests.tools import node_or_skip

    return node_or_skip()


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium for Playwright; skips without it (fails with GATEWAY_REQUIRE_BROWSER=1)."""
    from tests.tools import chromium_or_skip

    return chromium_or_skip()
