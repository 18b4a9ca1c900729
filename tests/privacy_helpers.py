"""Shared helpers for the privacy tests: users inserted directly, audit rows by request id."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from tests.conftest import gql


async def add_users(dsn: str, *user_ids: int, **columns: Any) -> None:
    """Users with the default account (level BASIC unless `level=` is given, no consents)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.executemany(
            "INSERT INTO users (user_id, personalization_level, is_minor) VALUES ($1, $2, $3)",
            [(u, columns.get("level", "BASIC"), columns.get("is_minor", False)) for u in user_ids],
        )
    finally:
        await conn.close()


async def sql(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def call(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
    request_id: str | None = None,
    gpc: bool = False,
) -> dict[str, Any]:
    headers: dict[str, str] = {}
    if request_id:
        headers["X-Request-Id"] = request_id
    if gpc:
        headers["Sec-GPC"] = "1"
    return await gql(client, query, variables, token=token, headers=headers)


SET_CONSENT = """
mutation($p: String!, $g: Boolean!) {
  setConsent(purpose: $p, granted: $g) {
    __typename
    ... on ConsentReceipt { receiptId purpose granted method noticeVersion note at }
    ... on InvalidInput { message errors { field message } }
  }
}"""

CONSENT = """{ viewer { consentSnapshotId consent { purpose granted method effective reason overridesGpc
  notice { uses why benefit version } } } }"""


def by_purpose(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["purpose"]: c for c in body["data"]["viewer"]["consent"]}
