"""Foundation guarantees: migrations are idempotent and safe to run concurrently, settings are
validated with clear messages, and the committed schema.graphql is current."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr, ValidationError

from gateway.schema import schema_sdl
from gateway.settings import Environment, Settings
from sql import expected_version, migrate, schema_version
from tests import pg

ROOT = Path(__file__).resolve().parent.parent


async def _tables(dsn: str) -> tuple[int, list[str]]:
    conn = await asyncpg.connect(dsn)
    try:
        version = await schema_version(conn)
        names = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        return version, [r["tablename"] for r in names]
    finally:
        await conn.close()


@pytest.fixture
def empty_db(admin_dsn: str) -> str:
    name = f"gw_e_{uuid.uuid4().hex[:12]}"
    dsn = pg.create_database(admin_dsn, name)
    yield dsn  # type: ignore[misc]
    pg.drop_database(admin_dsn, name)


async def test_migrations_apply_cleanly_twice(empty_db: str) -> None:
    first = await migrate(empty_db)
    assert first and first[-1] == expected_version()
    before = await _tables(empty_db)
    assert await migrate(empty_db) == []  # nothing applied the second time
    assert await _tables(empty_db) == before


def test_migrations_run_concurrently_from_two_processes(empty_db: str) -> None:
    code = "import asyncio, sys; from sql import migrate; print(asyncio.run(migrate(sys.argv[1])))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, empty_db], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()
    applied = [out.decode().strip() for out, _ in results]
    # one process applied everything, the other found nothing to do
    assert sorted(applied, key=len)[0] == "[]", applied
    assert sorted(applied, key=len)[1].startswith("[1"), applied
    version, _ = asyncio.run(_tables(empty_db))
    assert version == expected_version()


def _ok(**over: object) -> dict[str, object]:
    base: dict[str, object] = {"environment": Environment.TEST, "jwt_secret": SecretStr("s" * 40)}
    base.update(over)
    return base


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"port": 0}, "greater than or equal to 1"),
        ({"port": 70000}, "less than or equal to 65535"),
        ({"pool_min_size": 20, "pool_max_size": 5}, "pool_min_size must not exceed pool_max_size"),
        ({"jwt_secret": SecretStr("short")}, "at least 32 characters"),
        ({"environment": Environment.PRODUCTION}, "production refuses a shared HS256 secret"),
        ({"environment": Environment.PRODUCTION, "jwt_secret": None}, "production needs jwt_public_key"),
        (
            {
                "environment": Environment.PRODUCTION,
                "jwt_secret": None,
                "jwt_public_key": "k",
                "graphiql": True,
            },
            "GraphiQL cannot be enabled in production",
        ),
        ({"statement_timeout_ms": 10}, "greater than or equal to 100"),
    ],
)
def test_settings_are_validated(over: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**_ok(**over))  # type: ignore[arg-type]


def test_limits_are_validated_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DOMAIN__LIMITS__MAX_DEPTH", "7")
    assert Settings(**_ok()).domain.limits.max_depth == 7  # type: ignore[arg-type]
    monkeypatch.setenv("GATEWAY_DOMAIN__LIMITS__MAX_DEPTH", "0")
    with pytest.raises(ValidationError, match="max_depth"):
        Settings(**_ok())  # type: ignore[arg-type]


def test_committed_schema_is_current() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == schema_sdl(), "schema.graphql is stale: run `make schema` and commit it"
