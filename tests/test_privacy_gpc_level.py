"""Global Privacy Control (recorded once, idempotent, explicit opt-in wins) and personalization
levels (NONE reads no behavioural or profile table)."""

from __future__ import annotations

import asyncio

import httpx

from privacy.guard import ACCOUNT_TABLES, ConsentRequired, Guard, load_snapshot
from privacy.principal import Principal, Role
from privacy.purposes import ESSENTIAL, MARKETING_PURPOSES, PURPOSES, Source
from sql.pool import create_pool
from tests.privacy_helpers import CONSENT, SET_CONSENT, add_users, by_purpose, call, sql

GPC_ROWS = "SELECT purpose, granted, notice_version FROM consent_events WHERE user_id = $1 AND method = 'gpc'"


async def test_gpc_opts_out_and_is_recorded_once(client: httpx.AsyncClient, token, db_dsn) -> None:
    await add_users(db_dsn, 1, level="FULL")
    t = token(Role.USER, 1)
    await call(client, SET_CONSENT, {"p": "marketing.offers", "g": True}, token=t)
    state = by_purpose(await call(client, CONSENT, token=t, gpc=True))
    assert not state["marketing.offers"]["effective"]
    assert state["marketing.offers"]["reason"] == "Global Privacy Control signal"
    assert state["personalize.content"]["reason"] != "Global Privacy Control signal"  # only marketing
    # repeated and concurrent GPC requests add nothing
    await asyncio.gather(*(call(client, CONSENT, token=t, gpc=True) for _ in range(8)))
    rows = await sql(db_dsn, GPC_ROWS, 1)
    assert sorted(r["purpose"] for r in rows) == sorted(MARKETING_PURPOSES)
    assert all(r["granted"] is False and r["notice_version"] == PURPOSES[r["purpose"]].version for r in rows)
    # GPC belongs to the person: without the header (another device) the opt-out holds, and
    # nothing more is written
    state = by_purpose(await call(client, CONSENT, token=t))
    assert not state["marketing.offers"]["effective"]
    assert state["marketing.offers"]["reason"] == "Global Privacy Control signal"
    assert len(await sql(db_dsn, GPC_ROWS, 1)) == len(MARKETING_PURPOSES)


async def test_gpc_is_not_recorded_for_anonymous_or_unknown_users(client, token, db_dsn) -> None:
    await call(client, "{ viewer { id } }", gpc=True)
    await call(client, "{ viewer { id } }", token=token(Role.USER, 99), gpc=True)
    assert await sql(db_dsn, "SELECT 1 FROM consent_events") == []


async def test_explicit_opt_in_after_gpc_is_a_resolved_conflict(client, token, db_dsn) -> None:
    await add_users(db_dsn, 1, level="FULL")
    t = token(Role.USER, 1)
    await call(client, CONSENT, token=t, gpc=True)  # GPC recorded
    body = await call(client, SET_CONSENT, {"p": "marketing.offers", "g": True}, token=t, gpc=True)
    receipt = body["data"]["setConsent"]
    assert "conflict with Global Privacy Control resolved by the user" in receipt["note"]
    state = by_purpose(await call(client, CONSENT, token=t, gpc=True))
    assert state["marketing.offers"]["effective"] and state["marketing.offers"]["overridesGpc"]
    # other marketing purposes still follow GPC
    assert state["marketing.communications.email"]["reason"] == "Global Privacy Control signal"
    # withdrawing ends the override: a later opt-in without GPC ever seen would not be a conflict
    await call(client, SET_CONSENT, {"p": "marketing.offers", "g": False}, token=t)
    state = by_purpose(await call(client, CONSENT, token=t, gpc=True))
    assert not state["marketing.offers"]["effective"] and not state["marketing.offers"]["overridesGpc"]


async def test_opt_in_before_gpc_does_not_override_it(client, token, db_dsn) -> None:
    await add_users(db_dsn, 1, level="FULL")
    t = token(Role.USER, 1)
    body = await call(client, SET_CONSENT, {"p": "marketing.offers", "g": True}, token=t)
    assert body["data"]["setConsent"]["note"] is None
    state = by_purpose(await call(client, CONSENT, token=t, gpc=True))
    assert state["marketing.offers"]["reason"] == "Global Privacy Control signal"


LEVEL = "mutation($l: PersonalizationLevel!) { setPersonalizationLevel(level: $l) { level consentVersion } }"


async def test_level_changes_in_one_call_and_bumps_version(client, token, db_dsn) -> None:
    await add_users(db_dsn, 1)
    t = token(Role.USER, 1)
    for i, level in enumerate(("NONE", "FULL", "BASIC"), start=1):
        body = await call(client, LEVEL, {"l": level}, token=t)
        assert body["data"]["setPersonalizationLevel"] == {"level": level, "consentVersion": i}
        viewer = await call(client, "{ viewer { personalizationLevel } }", token=t)
        assert viewer["data"]["viewer"]["personalizationLevel"] == level


async def test_level_none_reads_no_behavioural_or_profile_table(client, token, db_dsn) -> None:
    """At NONE, with every purpose granted, every non-essential read of every personal table is
    refused before it runs; and a viewer request's audit shows only account reads."""
    await add_users(db_dsn, 1, level="FULL")
    t = token(Role.USER, 1)
    for p in set(PURPOSES) - {ESSENTIAL}:
        await call(client, SET_CONSENT, {"p": p, "g": True}, token=t)
    await call(client, LEVEL, {"l": "NONE"}, token=t)

    personal = [
        r["table_name"]
        for r in await sql(
            db_dsn,
            "SELECT DISTINCT table_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_name = 'user_id' ORDER BY 1",
        )
    ]
    assert {"events", "user_signals", "profile_fields", "decisions"} <= set(personal)
    pool = await create_pool(db_dsn)
    try:
        guard = Guard(pool, Principal(Role.USER, "1"), "req-none-guard", await load_snapshot(pool, 1, False))
        refused = 0
        for table in personal:
            for purpose in set(PURPOSES) - {ESSENTIAL}:
                for source in (Source.STATED, Source.BEHAVIOURAL, Source.DERIVED):
                    try:
                        await guard.fetch(
                            "SELECT 1", purpose=purpose, source=source, tables=(table,), subject_user_id=1
                        )
                    except ConsentRequired as exc:
                        assert exc.reason == "personalization level NONE"
                        refused += 1
        assert refused == len(personal) * (len(PURPOSES) - 1) * 3
        await guard.flush()
    finally:
        await pool.close()
    assert await sql(db_dsn, "SELECT 1 FROM audit_log WHERE request_id = 'req-none-guard'") == []

    query = """{ viewer { id personalizationLevel consent { purpose effective }
      profilePrompts(stage: PERSONALIZATION) { field } } }"""
    body = await call(client, query, token=t, request_id="req-none-viewer")
    assert body["data"]["viewer"]["profilePrompts"] == []  # nothing asked for a purpose not in effect
    assert all(not c["effective"] for c in body["data"]["viewer"]["consent"] if c["purpose"] != ESSENTIAL)
    audit = await sql(
        db_dsn, "SELECT purpose, table_name FROM audit_log WHERE request_id = 'req-none-viewer'"
    )
    # Only the account (one read for the operation: flags, consents, channels, controls).
    assert {r["table_name"] for r in audit} <= set(ACCOUNT_TABLES)
    assert {r["purpose"] for r in audit} == {ESSENTIAL}
