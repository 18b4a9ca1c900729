"""A gateway process killed (SIGKILL) in the middle of a request: the kill harness, and what it
guarantees today (the in-flight transaction is rolled back, a new process serves at once).

The ingestion guarantee ("an acknowledged event is never lost; a batch killed mid-way is stored
fully or not at all") reuses `kill_mid_flight` once trackEvents exists (ingest helper)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from privacy.principal import Role
from tests import outage
from tests.conftest import TEST_SECRET


def gateway_env(dsn: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": dsn,
        "GATEWAY_ENVIRONMENT": "test",
        "GATEWAY_JWT_SECRET": TEST_SECRET,
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
    }


def kill_mid_flight(
    base: str, proc: Any, request: Callable[[httpx.Client], httpx.Response], in_flight: Callable[[], bool]
) -> BaseException | httpx.Response:
    """Send `request` in a thread, wait until `in_flight()` says the server is inside it, SIGKILL
    the whole server process group, and return what the client saw (an error, normally)."""
    outcome: list[BaseException | httpx.Response] = []

    def call() -> None:
        try:
            with httpx.Client(base_url=base, timeout=30) as c:
                outcome.append(request(c))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 10
    while not in_flight():
        assert time.monotonic() < deadline, "the request never reached the database"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    thread.join(10)
    return outcome[0]


async def _backends(dsn: str, waiting: bool) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gateway' "
                "AND ($1::bool IS FALSE OR wait_event_type = 'Lock')",
                waiting,
            )
        )
    finally:
        await conn.close()


async def test_sigkill_mid_request_rolls_back_and_a_new_process_serves(
    db_dsn: str, tmp_path: Path, token, settings
) -> None:
    import asyncio

    blocker = await asyncpg.connect(db_dsn)
    await blocker.execute("INSERT INTO users (user_id) VALUES (11)")
    headers = {"Authorization": f"Bearer {token(Role.USER, 11)}"}
    query = {"query": "{ viewer { id } }"}
    with outage.gateway_process(gateway_env(db_dsn, tmp_path)) as (base, proc):
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        seen = await asyncio.to_thread(
            kill_mid_flight,
            base,
            proc,
            lambda c: c.post("/graphql", json=query, headers=headers),
            lambda: asyncio.run(_backends(db_dsn, waiting=True)) > 0,
        )
        await tx.rollback()
        assert isinstance(seen, httpx.TransportError), seen
    # The killed worker's session ends once PostgreSQL notices; nothing of it stays behind.
    for _ in range(100):
        if await _backends(db_dsn, waiting=False) == 0:
            break
        await asyncio.sleep(0.1)
    assert await _backends(db_dsn, waiting=False) == 0
    with outage.gateway_process(gateway_env(db_dsn, tmp_path)) as (base, _):
        async with httpx.AsyncClient(base_url=base) as c:
            response = await c.post("/graphql", json=query, headers=headers)
            assert response.json() == {"data": {"viewer": {"id": "11"}}}
    await blocker.close()


@pytest.mark.skip(reason="needs trackEvents (ingest helper's API): the lead wires it after the merge")
def test_acknowledged_events_survive_a_kill_mid_batch() -> None:
    """After the merge: send batches of 100 events in a loop against a gateway process, record
    every acknowledged client event id, SIGKILL mid-batch (kill_mid_flight with in_flight =
    an INSERT into events is running), restart, and assert: every acknowledged id is stored,
    and each batch is stored completely or not at all (count per batch in {0, 100})."""
