"""Export (Art. 15/20), erasure (Art. 17) and who may touch whose privacy data."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from privacy.principal import Role
from tests.privacy_helpers import SET_CONSENT, add_users, call, sql

EXPORT = "mutation { requestDataExport { format generatedAt data } }"
ERASE = """mutation($c: Boolean!) { eraseMyData(confirm: $c) { __typename
  ... on ErasureDone { erasureId rowsDeleted tables }
  ... on InvalidInput { errors { field message } } } }"""


async def _seed_history(dsn: str, user_id: int) -> None:
    await sql(dsn, "SELECT seed_history($1)", user_id)


async def test_export_contains_every_category(client: httpx.AsyncClient, token, db_dsn) -> None:
    await add_users(db_dsn, 1, 2, level="FULL")
    await _seed_history(db_dsn, 1)
    await _seed_history(db_dsn, 2)
    t = token(Role.USER, 1)
    await call(client, SET_CONSENT, {"p": "personalize.content", "g": True}, token=t)
    body = await call(client, EXPORT, token=t, request_id="req-export-1")
    export = body["data"]["requestDataExport"]
    data = export["data"]
    assert export["format"] == data["format"] == "gateway-export/2"
    assert data["subject"] == {"userId": "1"} and data["account"]["user_id"] == 1
    assert data["profile"][0]["field"] == "name" and data["profile"][0]["source"] == "stated_by_user"
    assert data["profile"][0]["collected_at"] and data["profile"][0]["why"]
    assert [c["purpose"] for c in data["consent"]["current"]] == ["personalize.content"]
    assert data["consent"]["history"]["items"][0]["method"] == "explicit"
    assert data["consent"]["notices"]["personalize.content"]["notice"]
    assert data["channels"] == [
        {"channel": "email", "subscribed": True, "updated_at": data["channels"][0]["updated_at"]}
    ]
    assert data["inferences"]["hidden"][0]["inference"] == "tag:LUXURY"
    assert data["decisions"]["total"] == 1
    assert data["decisions"]["items"][0]["record"]["summary"] == "Because you viewed apparel"
    assert data["frequencyCounters"] == [
        {**data["frequencyCounters"][0], "offer_id": 900, "channel": "in_app", "impressions": 2}
    ]
    assert data["events"]["total"] == 4 and data["eventsByType"] == {"view": 2, "click": 1, "purchase": 1}
    assert len(data["events"]["items"]) == 4 and data["limits"]["events"] >= 100
    assert data["signals"]["sessions"] == 3 and data["categoryStats"][0]["category"] == "apparel"
    assert data["readsOfYourData"]  # who read what, as counts
    # derived tags and segments with their logic come from the personalization domain's hook
    described = {i["key"]: i for i in data["inferences"]["items"]}
    assert {"tag:experience", "tag:price_tier"} <= described.keys()
    assert all(i["logic"] and i["kind"] and "hidden" in i for i in described.values())


async def test_export_is_audited_and_never_mixes_users(client, token, db_dsn) -> None:
    await add_users(db_dsn, 1, 2, level="FULL")
    await _seed_history(db_dsn, 2)
    body = await call(client, EXPORT, token=token(Role.USER, 1), request_id="req-export-2")
    data = body["data"]["requestDataExport"]["data"]
    assert data["events"]["total"] == 0 and data["decisions"]["total"] == 0 and data["profile"] == []
    audit = await sql(
        db_dsn, "SELECT DISTINCT subject_user_id, action FROM audit_log WHERE request_id = 'req-export-2'"
    )
    # the export's own reads, plus the reads that describe the user's inferences; all about user 1
    assert {r["subject_user_id"] for r in audit} == {1}
    assert "export" in {r["action"] for r in audit}


async def _tables_with_user_column(dsn: str) -> list[tuple[str, str]]:
    rows = await sql(
        dsn,
        "SELECT c.table_name, c.column_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
        "AND c.column_name IN ('user_id', 'subject_user_id') ORDER BY 1",
    )
    return [(r["table_name"], r["column_name"]) for r in rows]


async def test_erasure_leaves_nothing_in_any_table_with_a_user_column(client, token, db_dsn) -> None:
    await add_users(db_dsn, 1, 2, level="FULL")
    await _seed_history(db_dsn, 1)
    await _seed_history(db_dsn, 2)
    t = token(Role.USER, 1)
    await call(client, SET_CONSENT, {"p": "personalize.content", "g": True}, token=t, gpc=True)
    await call(client, EXPORT, token=t)  # audit entries naming user 1

    body = await call(client, ERASE, {"c": False}, token=t)
    assert body["data"]["eraseMyData"]["errors"][0]["field"] == "confirm"
    assert (await sql(db_dsn, "SELECT count(*) FROM events WHERE user_id = 1"))[0][0] == 4

    body = await call(client, ERASE, {"c": True}, token=t, gpc=True)
    done = body["data"]["eraseMyData"]
    assert done["__typename"] == "ErasureDone" and done["rowsDeleted"] > 15
    tables = await _tables_with_user_column(db_dsn)
    assert {"events", "users", "consent_events", "audit_log", "decisions"} <= {name for name, _ in tables}
    for table, column in tables:
        if table == "erasure_log":
            continue
        # identifiers come from the catalog itself, quoted by PostgreSQL
        left = await sql(db_dsn, "SELECT erasure_row_count($1, $2, 1)", table, column)
        assert left[0][0] == 0, f"{table}.{column} still names the erased user"
    assert (
        await sql(db_dsn, "SELECT 1 FROM audit_log WHERE principal_role = 'user' AND principal_id = '1'")
        == []
    )
    # the other user is untouched; the erasure record holds no personal data
    assert (await sql(db_dsn, "SELECT count(*) FROM events WHERE user_id = 2"))[0][0] == 4
    log = await sql(db_dsn, "SELECT * FROM erasure_log")
    assert len(log) == 1 and set(log[0].keys()) == {"erasure_id", "erased_at", "rows_deleted", "tables"}
    # afterwards the id is anonymous: no viewer, no consent, nothing re-created by later requests
    body = await call(client, "{ viewer { id } }", token=t, gpc=True)
    assert body["data"]["viewer"] is None
    body = await call(client, SET_CONSENT, {"p": "personalize.content", "g": True}, token=t)
    assert body["errors"][0]["message"] == "no account for this user"
    for table, column in tables:
        if table != "erasure_log":
            assert (await sql(db_dsn, "SELECT erasure_row_count($1, $2, 1)", table, column))[0][0] == 0


@pytest.fixture(autouse=True)
async def _fixture_functions(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        await conn.execute((Path(__file__).parent / "privacy_fixtures.sql").read_text())
    finally:
        await conn.close()


async def test_erasure_racing_gpc_requests_leaves_nothing(client, token, db_dsn) -> None:
    await add_users(db_dsn, 1, level="FULL")
    await _seed_history(db_dsn, 1)
    t = token(Role.USER, 1)
    await asyncio.gather(
        *(call(client, "{ viewer { id } }", token=t, gpc=True) for _ in range(4)),
        call(client, ERASE, {"c": True}, token=t),
        *(call(client, "{ viewer { consent { purpose } } }", token=t, gpc=True) for _ in range(4)),
    )
    for table, column in await _tables_with_user_column(db_dsn):
        if table != "erasure_log":
            assert (await sql(db_dsn, "SELECT erasure_row_count($1, $2, 1)", table, column))[0][0] == 0, table


MUTATIONS = [
    ('mutation { setConsent(purpose: "marketing.offers", granted: true) { __typename } }', "setConsent"),
    ("mutation { setPersonalizationLevel(level: NONE) { level } }", "setPersonalizationLevel"),
    ("mutation { objectToDirectMarketing { objected } }", "objectToDirectMarketing"),
    ("mutation { setPreferredChannel(channel: SMS) { channel } }", "setPreferredChannel"),
    (
        'mutation { updateProfile(stage: SIGNUP, fields: [{field: "name", value: "X"}]) { __typename } }',
        "updateProfile",
    ),
    ("mutation { requestDataExport { format } }", "requestDataExport"),
    ("mutation { eraseMyData(confirm: true) { __typename } }", "eraseMyData"),
]


@pytest.mark.parametrize(
    ("role", "sub"), [(Role.ANALYST, "ana"), (Role.MARKETER, "mo"), (Role.APP, "web"), (None, None)]
)
async def test_only_users_may_touch_privacy_data(client, token, db_dsn, role, sub) -> None:
    await add_users(db_dsn, 1)
    t = token(role, sub) if role else None
    for mutation, name in MUTATIONS:
        body = await call(client, mutation, token=t)
        assert body["data"] is None or body["data"].get(name) is None, name
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", name
    body = await call(
        client, "{ viewer { consent { purpose } profile { field } channels { channel } } }", token=t
    )
    assert body["data"]["viewer"] is None
    assert (await sql(db_dsn, "SELECT consent_version, personalization_level FROM users"))[0][0] == 0
    assert await sql(db_dsn, "SELECT 1 FROM consent_events") == []
    assert await sql(db_dsn, "SELECT 1 FROM erasure_log") == []


async def test_a_user_reaches_only_their_own_data(client, token, db_dsn) -> None:
    await add_users(db_dsn, 1, 2, level="FULL")
    await _seed_history(db_dsn, 2)
    await call(client, SET_CONSENT, {"p": "marketing.offers", "g": True}, token=token(Role.USER, 2))
    t1 = token(Role.USER, 1)
    # user 1 sees only their own consent state and receipts, never user 2's grant
    body = await call(
        client, "{ viewer { consent { purpose granted } consentHistory { purpose } } }", token=t1
    )
    mine = {c["purpose"]: c["granted"] for c in body["data"]["viewer"]["consent"]}
    assert mine["marketing.offers"] is False
    assert "marketing.offers" not in {r["purpose"] for r in body["data"]["viewer"]["consentHistory"]}
    for mutation, _ in MUTATIONS:
        await call(client, mutation, token=t1)  # acts on user 1 only (ids come from the token)
    assert (await sql(db_dsn, "SELECT count(*) FROM users WHERE user_id = 2"))[0][0] == 1
    assert (await sql(db_dsn, "SELECT count(*) FROM events WHERE user_id = 2"))[0][0] == 4
    rows = await sql(db_dsn, "SELECT purpose, method FROM consent_events WHERE user_id = 2")
    assert [(r["purpose"], r["method"]) for r in rows] == [("marketing.offers", "explicit")]
    # there is no argument naming a user: a query for another id is a schema error
    body = await call(client, '{ viewer(id: "2") { id } }', token=t1)
    assert body["data"] is None and "Unknown argument" in body["errors"][0]["message"]
    # the guard refuses a read about another user even if a resolver tried one
    from privacy.guard import Guard, NotYourData, load_snapshot
    from privacy.principal import Principal
    from privacy.purposes import ESSENTIAL, Source
    from sql.pool import create_pool

    pool = await create_pool(db_dsn)
    try:
        guard = Guard(pool, Principal(Role.USER, "2"), "r-x", await load_snapshot(pool, 2, False))
        with pytest.raises(NotYourData):
            await guard.fetch(
                "SELECT 1", purpose=ESSENTIAL, source=Source.ACCOUNT, tables=("users",), subject_user_id=1
            )
    finally:
        await pool.close()


async def test_unique_event_ids_survive_erasure_of_another_user(db_dsn) -> None:
    # erasure touches only the target: ids of other users are never matched by mistake
    await add_users(db_dsn, 10, 11)
    await sql(
        db_dsn,
        "INSERT INTO events (user_id, event_id, type, occurred_at) VALUES (11, $1, 'view', now())",
        uuid.uuid4(),
    )
    await sql(db_dsn, "SELECT * FROM erase_user(10)")
    assert (await sql(db_dsn, "SELECT count(*) FROM events"))[0][0] == 1
    assert (await sql(db_dsn, "SELECT count(*) FROM users"))[0][0] == 1
