"""What responses tell caches and browsers: personal data is never stored (`no-store`) except the
layout's own private caching, every response carries the hardening headers, and a 304 is only
ever the answer to a request that would have succeeded with the same ETag."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from tests import world
from tests.conftest import gql
from tests.test_layout import URL, layout_get, layout_of

USER = 10
HARDENING = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@pytest.fixture
async def db(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await world.connect(db_dsn)
    await world.add_items(conn)
    await world.add_user(conn, USER, member_days=2)
    try:
        yield conn
    finally:
        await conn.close()


def _hardened(response: httpx.Response) -> None:
    for name, value in HARDENING.items():
        assert response.headers.get(name) == value, (name, response.headers)
    assert response.headers["x-request-id"]
    if not response.headers.get("content-type", "").startswith("text/html"):
        assert "default-src 'none'" in response.headers["content-security-policy"]


async def test_personal_answers_are_no_store_and_hardened(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    tok = token("user", USER)
    headers = {"Authorization": f"Bearer {tok}"}
    for response in (
        await client.post(
            "/graphql", json={"query": "{ viewer { id consent { purpose granted } } }"}, headers=headers
        ),
        await client.get("/graphql", params={"query": "{ viewer { id } }"}, headers=headers),
        await client.get("/graphql", params={"query": "{ viewer { idd } }"}, headers=headers),  # invalid
        await client.post(
            "/graphql", content=b"null", headers={**headers, "content-type": "application/json"}
        ),
        await client.post(
            "/graphql", json={"query": "{ whoami { role } }"}, headers={"Authorization": "Bearer x"}
        ),
        await client.get("/healthz"),
    ):
        assert response.headers["cache-control"] == "no-store", (response.request.url, response.headers)
        _hardened(response)
    # the layout keeps its private caching, hardened too
    layout = await layout_get(client, tok)
    assert layout.headers["cache-control"].startswith("private, max-age=")
    _hardened(layout)


async def test_if_none_match_star_is_never_a_304(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    tok = {"Authorization": f"Bearer {token('user', USER)}", "If-None-Match": "*"}
    # would fail: a platform that does not exist, and no appVersion
    failing = await client.get(URL, params={"variables": '{"platform": "NOPE"}'}, headers=tok)
    assert failing.status_code == 200 and failing.json()["errors"], failing.text
    assert failing.headers["cache-control"] == "no-store" and "etag" not in failing.headers
    # would succeed: still not a 304 for "*", the client gets the representation and its ETag
    fine = await client.get(
        URL, params={"variables": '{"platform": "IOS", "appVersion": "1.0"}'}, headers=tok
    )
    assert fine.status_code == 200 and fine.headers["etag"]


async def test_a_failing_request_never_gets_a_304_even_with_its_etag(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    tok = token("user", USER)
    etag = (await layout_get(client, tok)).headers["etag"]
    # the same variables plus a NUL in appVersion: refused when run, so no ETag short cut
    bad = orjson.dumps({"platform": "IOS", "appVersion": "4.2.0\x00"}).decode()
    response = await client.get(
        URL, params={"variables": bad}, headers={"Authorization": f"Bearer {tok}", "If-None-Match": etag}
    )
    assert response.status_code == 200 and response.json()["errors"], response.text
    assert response.headers["cache-control"] == "no-store"


async def test_unused_variables_do_not_change_the_layout_etag(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    headers = {"Authorization": f"Bearer {token('user', USER)}"}
    plain = {"platform": "IOS", "appVersion": "4.2.0"}
    first = await client.get(URL, params={"variables": orjson.dumps(plain).decode()}, headers=headers)
    etag = first.headers["etag"]
    layout_of(first)
    for extra in ({"unused": 1}, {"zzz": "x" * 100, "another": [1, 2]}):
        padded = orjson.dumps({**plain, **extra}).decode()
        response = await client.get(URL, params={"variables": padded}, headers=headers)
        assert response.headers["etag"] == etag
        cached = await client.get(
            URL, params={"variables": padded}, headers={**headers, "If-None-Match": etag}
        )
        assert cached.status_code == 304
    # a declared variable does change it
    other = orjson.dumps({**plain, "platform": "WEB"}).decode()
    assert (await client.get(URL, params={"variables": other}, headers=headers)).headers["etag"] != etag


async def test_a_result_with_errors_is_never_cacheable(
    client: httpx.AsyncClient, token: Callable[..., str], db: Any
) -> None:
    headers = {"Authorization": f"Bearer {token('user', USER)}"}
    for response in (
        await client.get(URL, params={"variables": '{"platform": "IOS"}'}, headers=headers),
        await client.get("/graphql", params={"query": "{ whoami { rolez } }"}),
    ):
        assert response.json()["errors"]
        assert response.headers["cache-control"] == "no-store"
        assert "etag" not in response.headers
    assert (await gql(client, "{ whoami { role } }"))["data"]
