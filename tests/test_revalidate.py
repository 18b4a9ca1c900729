"""The revalidation lane (gateway/revalidate.py) answers a matching layout revalidation exactly as
the full middleware chain does: the same status, headers, access line and metrics, the rate limit
counted once per request, and everything it cannot answer left to the chain untouched."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY

from gateway import Settings, create_app
from gateway.auth import issue_token
from gateway.etag_cache import VersionCache
from gateway.observability import JsonFormatter
from gateway.revalidate import RevalidationLane
from privacy.principal import Role
from tests import world
from tests.conftest import _with_state
from tests.test_etag_cache import URL, USER, VARIABLES, db  # noqa: F401  (the fixture)
from tests.test_events import track
from tests.test_limits import _settings

pytestmark = pytest.mark.usefixtures("db")  # user 21 and the catalog (tests/test_etag_cache.py)


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, VersionCache, list[int]]]:
    """The app, its version cache, and a list counting the requests the lane answered."""
    app = create_app(settings)
    persisted = next(r for r in app.routes if getattr(r, "path", "").startswith("/graphql/persisted"))
    cache: VersionCache = persisted.endpoint.__self__.versions  # type: ignore[attr-defined]
    answered = [0]
    lane_call = RevalidationLane._revalidate

    async def counting(self: RevalidationLane, scope: Any, send: Any) -> bool:
        done = await lane_call(self, scope, send)
        answered[0] += int(done)
        return done

    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_with_state(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
            # The user's rollup row exists: their versions can be kept in memory (etag_cache.py).
            await track(c, token_of(settings), [world.ev("session_start", ago_min=1)])
            await cache.settle()
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(RevalidationLane, "_revalidate", counting)
                yield c, cache, answered


def token_of(settings: Settings) -> str:
    return issue_token(settings, Role.USER, str(USER), ttl_s=600)


def _count(status: str) -> float:
    value = REGISTRY.get_sample_value(
        "gateway_requests_total", {"path": "/graphql/persisted", "operation": "-", "status": status}
    )
    return value or 0.0


async def _get(c: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await c.get(URL, params={"variables": VARIABLES}, headers=headers)


async def test_the_lane_answers_like_the_chain(
    db_dsn: str, tmp_path: Path, token: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(db_dsn, tmp_path)
    tok = token(Role.USER, USER)
    for accept_language, gpc in ((None, None), ("fa-IR, en;q=0.5", "1")):
        headers = {"Authorization": f"Bearer {tok}"}
        if accept_language:
            headers["Accept-Language"] = accept_language
        if gpc:
            headers["Sec-GPC"] = gpc
        async with app_client(settings) as (c, cache, answered):
            await _get(c, headers)
            # A GPC signal is stored with the first request (consent_version moves, a new ETag):
            # once that is announced, the next read keeps the versions in memory again.
            await cache.settle()
            first = await _get(c, headers)
            assert first.status_code == 200 and answered == [0]
            etag = first.headers["etag"]
            conditional = {**headers, "If-None-Match": f'W/"other", {etag}', "x-request-id": "rev-12345678"}
            before = _count("304")
            with caplog.at_level(logging.INFO, logger="gateway.access"):
                caplog.clear()
                lane = await _get(c, conditional)
                assert answered == [1], "a matching revalidation is answered by the lane"
                cache.live = False  # the chain reads the versions from the database: no lane
                chain = await _get(c, conditional)
                assert answered == [1]
                cache.live = True
            assert lane.status_code == chain.status_code == 304 and lane.content == chain.content == b""
            assert list(lane.headers.items()) == list(chain.headers.items())
            assert lane.headers["x-request-id"] == "rev-12345678"
            assert _count("304") == before + 2
            access = [r for r in caplog.records if r.name == "gateway.access"]
            lines = [orjson.loads(JsonFormatter().format(r)) for r in access]
            assert len(lines) == 2
            for line in lines:
                line.pop("ts"), line.pop("duration_ms")
            assert (
                lines[0]
                == lines[1]
                == {
                    "level": "info",
                    "logger": "gateway.access",
                    "msg": "request",
                    "request_id": "rev-12345678",
                    "operation": "-",
                    "role": "user",
                    "status": 304,
                    "method": "GET",
                    "path": "/graphql/persisted",
                }
            )
            # A new request id per request when none (or an unsafe one) is sent, as in the chain.
            unsafe = {**conditional, "x-request-id": "bad id!"}
            ids = {(await _get(c, unsafe)).headers["x-request-id"] for _ in range(2)}
            assert len(ids) == 2 and "bad id!" not in ids and answered == [3]


async def test_what_the_lane_leaves_to_the_chain(db_dsn: str, tmp_path: Path, token: Any) -> None:
    settings = _settings(db_dsn, tmp_path)
    tok = token(Role.USER, USER)
    headers = {"Authorization": f"Bearer {tok}"}
    async with app_client(settings) as (c, _cache, answered):
        etag = (await _get(c, headers)).headers["etag"]
        # No or another ETag: the layout is computed (200).
        assert (await _get(c, headers)).status_code == 200
        assert (await _get(c, {**headers, "If-None-Match": '"nope"'})).status_code == 200
        # A refused token: 401 from the chain, never a 304.
        bad = await _get(c, {"Authorization": "Bearer nope", "If-None-Match": etag})
        assert bad.status_code == 401
        # Another user's token with this ETag: not theirs, computed.
        stranger = {"Authorization": f"Bearer {token(Role.USER, 999)}", "If-None-Match": etag}
        assert (await _get(c, stranger)).status_code != 304
        # A body on the GET: the body limit's business (a declared size over the cap is refused).
        conditional = {**headers, "If-None-Match": etag}
        body = b"x" * 600_000
        huge = await c.request("GET", URL, params={"variables": VARIABLES}, headers=conditional, content=body)
        assert huge.status_code == 413
        # Variables never parsed for this query string yet: the chain parses them (and answers 304).
        other = await c.get(URL, params={"variables": VARIABLES, "x": "1"}, headers=conditional)
        assert other.status_code == 304
        assert answered == [0]
        again = await c.get(URL, params={"variables": VARIABLES, "x": "1"}, headers=conditional)
        assert again.status_code == 304 and answered == [1]


async def test_the_lane_counts_against_the_rate_limit(db_dsn: str, tmp_path: Path, token: Any) -> None:
    # The event batch that creates the user's rollup row counts too: 1 + 1 + 2 allowed.
    settings = _settings(db_dsn, tmp_path, rate_per_s=0.5, rate_burst=4)
    headers = {"Authorization": f"Bearer {token(Role.USER, USER)}"}
    async with app_client(settings) as (c, _cache, answered):
        etag = (await _get(c, headers)).headers["etag"]  # 1st request
        conditional = {**headers, "If-None-Match": etag}
        statuses = [(await _get(c, conditional)).status_code for _ in range(3)]
        assert statuses == [304, 304, 429]
        refused = await _get(c, conditional)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) == 2
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert refused.headers["x-request-id"] == refused.json()["errors"][0]["extensions"]["request_id"]
        assert refused.headers["x-content-type-options"] == "nosniff"
        assert refused.headers["cache-control"] == "no-store"
        assert answered == [4]
