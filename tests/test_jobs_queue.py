"""The job queue's schema and the person's time zone: migration 0300 is exactly pgqueuer's own
install DDL for the pinned version (an upgrade is a deliberate new migration); a time zone must be
an IANA name, refused with a field error otherwise, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from jobs.config import JobsConfig
from sql.migrate import MIGRATIONS_DIR
from tests.conftest import gql


def _statements(sql: str) -> list[str]:
    lines = [ln for ln in sql.splitlines() if not ln.startswith("--")]
    return [s.strip() for s in "\n".join(lines).split("\n\n") if s.strip()]


def test_migration_0300_is_pgqueuers_install_ddl_for_the_pinned_version() -> None:
    from pgqueuer import __version__
    from pgqueuer.adapters.persistence.schema_ddl import render_install
    from pgqueuer.domain.settings import DBSettings

    migration = (MIGRATIONS_DIR / "0300_job_queue.sql").read_text()
    assert f"pgqueuer {__version__}" in migration, (
        "pgqueuer was upgraded: add a migration with its upgrade DDL"
    )
    assert _statements(migration) == _statements(render_install(DBSettings()))


def test_schedules_and_webhooks_are_validated() -> None:
    with pytest.raises(ValueError, match="not a cron expression"):
        JobsConfig.model_validate({"schedules": {"retention": "every night"}})
    with pytest.raises(ValueError, match="at least 32 characters"):
        JobsConfig.model_validate(
            {"delivery": {"webhooks": {"email": {"url": "https://x.test", "secret": "short"}}}}
        )
    with pytest.raises(ValueError, match="set both quiet_start and quiet_end"):
        JobsConfig.model_validate({"delivery": {"quiet_start": "22:00", "quiet_end": None}})
    hook = {"url": "http://x.test/hook", "secret": "s" * 32}
    with pytest.raises(ValueError, match="https webhook"):
        JobsConfig.model_validate({"delivery": {"webhooks": {"email": hook}}}).check_production()


SET = """mutation($z: String!) { setTimeZone(timeZone: $z) { __typename
  ... on TimeZoneSetting { timeZone } ... on InvalidInput { errors { field message } } } }"""


async def test_a_time_zone_is_an_iana_name(
    client: httpx.AsyncClient, token: Callable[..., str], db_dsn: str
) -> None:
    from tests.privacy_helpers import add_users

    await add_users(db_dsn, 5)
    tok = token(sub=5)
    viewer = await gql(client, "{ viewer { timeZone } }", token=tok)
    assert viewer["data"]["viewer"]["timeZone"] == "UTC"  # the default
    for bad in ("Mars/Olympus", "UTC+3", "../etc/passwd", "", "Europe/" + "x" * 80):
        body = await gql(client, SET, {"z": bad}, token=tok)
        assert body["data"]["setTimeZone"]["__typename"] == "InvalidInput", bad
        assert body["data"]["setTimeZone"]["errors"][0]["field"] == "timeZone"
    assert (await gql(client, "{ viewer { timeZone } }", token=tok))["data"]["viewer"]["timeZone"] == "UTC"
    body = await gql(client, SET, {"z": "America/Argentina/Buenos_Aires"}, token=tok)
    assert body["data"]["setTimeZone"] == {
        "__typename": "TimeZoneSetting",
        "timeZone": "America/Argentina/Buenos_Aires",
    }
    export = await gql(client, "mutation { requestDataExport { data } }", token=tok)
    assert (
        export["data"]["requestDataExport"]["data"]["account"]["time_zone"]
        == "America/Argentina/Buenos_Aires"
    )
    anonymous = await gql(client, SET, {"z": "UTC"})
    assert anonymous["errors"][0]["extensions"]["code"] == "FORBIDDEN"
