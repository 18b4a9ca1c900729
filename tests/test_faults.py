"""Faults against a real PostgreSQL: outage -> 503 + Retry-After and /readyz unready, recovery
without restarting the gateway; statement timeouts -> a clear retryable error."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from privacy.principal import Role
from tests import outage
from tests.conftest import gql, make_settings, running_client

VIEWER = {"query": "query Me { viewer { id } }"}


@pytest.fixture(scope="module")
def stoppable() -> Iterator[tuple[object, str]]:
    directory = Path(f"/tmp/gw-out-{os.getpid()}")
    with outage.stoppable_server(directory) as server:
        template = outage.migrated_template(outage.admin_dsn(server))
        dsn = outage.create_database(outage.admin_dsn(server), "faults", template=template)
        yield server, dsn


async def _wait_ready(client: httpx.AsyncClient, timeout_s: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        response = await client.get("/readyz")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.2)


@pytest.mark.embedded_only
async def test_outage_gives_503_and_recovers_without_restart(
    stoppable: tuple[object, str], tmp_path: Path, token
) -> None:
    server, dsn = stoppable
    conn = await asyncpg.connect(dsn)
    await conn.execute("INSERT INTO users (user_id) VALUES (3) ON CONFLICT DO NOTHING")
    await conn.close()
    settings = make_settings(dsn, tmp_path / "data")
    headers = {"Authorization": f"Bearer {token(Role.USER, 3)}"}
    async with running_client(settings) as client:
        ok = await client.post("/graphql", json=VIEWER, headers=headers)
        assert ok.json()["data"]["viewer"] == {"id": "3"}
        assert (await client.get("/readyz")).status_code == 200

        await asyncio.to_thread(outage.stop, server)
        try:
            down = await client.post("/graphql", json=VIEWER, headers=headers)
            assert down.status_code == 503, down.text
            assert down.headers["retry-after"] == "5"
            error = down.json()["errors"][0]
            assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert error["extensions"]["retryable"] is True
            assert "database is unavailable" in error["message"]
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and ready.headers["retry-after"]
            # what needs no database still answers
            assert (await gql(client, "{ whoami { role } }", token=token(Role.USER, 3)))["data"]
        finally:
            await asyncio.to_thread(outage.start, server)

        assert (await _wait_ready(client)).status_code == 200
        back = await client.post("/graphql", json=VIEWER, headers=headers)
        assert back.status_code == 200
        assert back.json() == {"data": {"viewer": {"id": "3"}}}


async def test_statement_timeout_is_a_clear_retryable_error(db_dsn: str, tmp_path: Path, token) -> None:
    settings = make_settings(db_dsn, tmp_path / "data", statement_timeout_ms=300)
    blocker = await asyncpg.connect(db_dsn)
    await blocker.execute("INSERT INTO users (user_id) VALUES (9)")
    try:
        async with running_client(settings) as client:
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            body = await gql(client, VIEWER["query"], token=token(Role.USER, 9))
            elapsed = time.monotonic() - started
            await tx.rollback()
            error = body["errors"][0]
            assert error["extensions"]["code"] == "TIMEOUT", body
            assert error["extensions"]["retryable"] is True
            assert "took too long" in error["message"]
            assert elapsed < 2.0
            # and once the lock is gone the same request answers
            body = await gql(client, VIEWER["query"], token=token(Role.USER, 9))
            assert body == {"data": {"viewer": {"id": "9"}}}
    finally:
        await blocker.close()
