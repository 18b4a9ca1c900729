"""Malformed input over HTTP gets a clear 4xx, or a GraphQL error that names the field, always
carrying the request id; never a plain-text 500 nor a masked INTERNAL error. Bodies that are
not JSON objects, JSON nested too deep, invalid UTF-8, NUL characters in any string, ids past
64 bits, and tokens with odd claims."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import jwt
import pytest

from gateway.persisted import DOCUMENTS_DIR, document_id
from gateway.settings import Settings
from privacy.principal import Role
from tests import world
from tests.conftest import TEST_SECRET, gql
from tests.fuzz_documents import Enum, to_json, to_literal

JSON = {"content-type": "application/json"}
DEEP = "[" * 1100 + "]" * 1100  # deeper than orjson's own limit (1,024)
NESTED = "[" * 900 + "]" * 900  # within orjson's limit, far past the gateway's


def _request_id(response: httpx.Response) -> str:
    """The response is JSON with errors, and the error carries the request id of the header."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["request_id"] == response.headers["x-request-id"]
    return str(error["message"])


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"null", "must be a JSON object"),
        (b'"{ whoami { role } }"', "must be a JSON object"),
        (b"42", "must be a JSON object"),
        (DEEP.encode(), "not valid JSON"),
        (('{"query": "{ whoami { role } }", "variables": {"v": ' + NESTED + "}}").encode(), "levels deep"),
        (b'{"query": "{ whoami { role } }", "x": "\xff\xfe"}', "UTF-8"),
        (b'{"query": "{ whoami { role } }", "x": "\\ud800"}', "not valid JSON"),
        (b"{not json", "not valid JSON"),
    ],
)
async def test_malformed_bodies_are_400_json_with_request_id(
    client: httpx.AsyncClient, body: bytes, says: str
) -> None:
    response = await client.post("/graphql", content=body, headers=JSON)
    assert response.status_code == 400, response.text
    assert says in _request_id(response)


@pytest.mark.parametrize("variables", [DEEP, NESTED, "nul\x00l", "null", '"a string"'])
async def test_malformed_get_variables_are_400(client: httpx.AsyncClient, variables: str) -> None:
    params = {"query": "{ whoami { role } }", "variables": variables}
    response = await client.get("/graphql", params=params)
    assert response.status_code == (200 if variables == "null" else 400), response.text
    if variables != "null":
        _request_id(response)


async def test_invalid_utf8_in_a_get_query_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql?query=%7B%20whoami%20%7B%20role%20%7D%20%7D&variables=%22%FF%22")
    assert response.status_code == 400, response.text
    _request_id(response)


async def test_deep_variables_of_a_persisted_document_are_400(client: httpx.AsyncClient) -> None:
    doc = document_id((DOCUMENTS_DIR / "layout.graphql").read_text())
    response = await client.get(f"/graphql/persisted/{doc}", params={"variables": '{"x": ' + NESTED + "}"})
    assert response.status_code == 400, response.text
    assert "levels deep" in _request_id(response)


@pytest.fixture
async def world_db(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await world.connect(db_dsn)
    await world.add_items(conn)
    await world.add_user(conn, 1)
    try:
        yield conn
    finally:
        await conn.close()


NUL = "before\x00after"
# Every kind of string argument: a search, a segment name, an analyst id, an event's search
# query, a layout's app version, JSON; each sent as a variable and written as a literal.
NUL_CASES: list[tuple[Role, str, str, str, Any]] = [
    (Role.USER, "query", "String", "feed(surface: HOME, category: {v}) {{ rank }}", NUL),
    (
        Role.MARKETER,
        "mutation",
        "String!",
        "createSegment(name: {v}, rule: {{all: []}}) {{ __typename }}",
        NUL,
    ),
    (
        Role.ADMIN,
        "mutation",
        "String!",
        'setPrivacyBudget(analystId: {v}, dataset: "audience", cap: 1) {{ __typename }}',
        NUL,
    ),
    (
        Role.USER,
        "mutation",
        "[EventInput!]!",
        "trackEvents(events: {v}) {{ __typename }}",
        [{**world.ev("search", query=NUL), "type": Enum("SEARCH")}],
    ),
    (Role.USER, "query", "String!", "layoutConfig(platform: IOS, appVersion: {v}) {{ __typename }}", NUL),
    (
        Role.MARKETER,
        "mutation",
        "JSON!",
        'createSegment(name: "n", rule: {v}) {{ __typename }}',
        {"all": [{"attribute": NUL, "op": "eq", "value": 1}]},
    ),
]


@pytest.mark.parametrize(("role", "operation", "type_", "field", "value"), NUL_CASES)
@pytest.mark.parametrize("as_literal", [False, True])
async def test_nul_in_any_string_is_a_clear_error(
    client: httpx.AsyncClient,
    token: Any,
    world_db: Any,
    role: Role,
    operation: str,
    type_: str,
    field: str,
    value: Any,
    as_literal: bool,
) -> None:
    tok = token(role, "1" if role is Role.USER else "staff")
    if as_literal:
        body = await gql(client, f"{operation} {{ {field.format(v=to_literal(value))} }}", token=tok)
    else:
        query = f"{operation}($v: {type_}) {{ {field.format(v='$v')} }}"
        body = await gql(client, query, {"v": to_json(value)}, token=tok)
    assert body.get("data") is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "NUL character" in error["message"]
    assert error["extensions"]["request_id"]
    assert await world_db.fetchval("SELECT count(*) FROM events") == 0
    assert await world_db.fetchval("SELECT count(*) FROM segments") == 0


HUGE = "99999999999999999999999"  # past 64 bits
# Each names no row: past 64 bits, a leading zero, a sign, digits that are not ASCII.
NOT_IDS = [HUGE, "9223372036854775808", "01", "\u0661", "²"]
SEGMENT = """mutation { createSegment(name: "s", rule: {attr: "sessions", op: "gt", value: 1}) {
  ... on Segment { id } } }"""
# Users' ids are covered by the batch below (trackEvents' userId) and by the token tests.
ID_OPERATIONS: list[tuple[Role, str]] = [
    # segments
    (Role.MARKETER, "query($x: ID!) { simulateSegment(segmentId: $x, profile: {}) { __typename } }"),
    (Role.USER, "query($x: ID!) { segmentPreview(segmentId: $x) { __typename } }"),
    (
        Role.MARKETER,
        'mutation($x: ID!) { updateSegment(segmentId: $x, rule: {attr: "sessions", op: "gt", value: 1}) '
        "{ __typename ... on InvalidInput { errors { field } } } }",
    ),
    (
        Role.MARKETER,
        'mutation($x: ID) { createOffer(input: {name: "o", kind: "segment", segmentId: $x}) '
        "{ __typename ... on InvalidInput { errors { field } } } }",
    ),
    # items
    (
        Role.MARKETER,
        'mutation($x: ID) { createOffer(input: {name: "o", kind: "welcome", itemId: $x}) '
        "{ __typename ... on InvalidInput { errors { field } } } }",
    ),
    # offers
    (
        Role.MARKETER,
        'mutation($x: ID!) { updateOffer(offerId: $x, input: {name: "o", kind: "welcome"}) '
        "{ __typename ... on InvalidInput { errors { field } } } }",
    ),
]


@pytest.mark.parametrize(("role", "query"), ID_OPERATIONS)
@pytest.mark.parametrize("raw", NOT_IDS)
async def test_ids_that_name_no_row_are_not_found_never_internal(
    client: httpx.AsyncClient, token: Any, world_db: Any, role: Role, query: str, raw: str
) -> None:
    await gql(client, SEGMENT, token=token(Role.MARKETER, "m"))  # segment 1 exists
    body = await gql(client, query, {"x": raw}, token=token(role, "1" if role is Role.USER else "m"))
    assert "errors" not in body, body  # an answer in the schema: not found / invalid input
    (result,) = body["data"].values()
    assert result["__typename"] in {"SegmentNotFound", "InvalidInput"}, result


async def test_one_bad_event_in_a_batch_of_1000_is_a_field_error(
    client: httpx.AsyncClient, token: Any, world_db: Any
) -> None:
    tok = token(Role.APP, "backend")
    batch = [world.ev("view", userId="1", itemId="101") for _ in range(1000)]
    track = """mutation($e: [EventInput!]!) { trackEvents(events: $e) {
      __typename ... on InvalidInput { errors { field index message } } } }"""
    for field, value in [("itemId", HUGE), ("userId", HUGE), ("itemId", "01"), ("userId", "\u0661")]:
        bad = [dict(e) for e in batch]
        bad[517][field] = value
        body = await gql(client, track, {"e": bad}, token=tok)
        assert "errors" not in body, body
        result = body["data"]["trackEvents"]
        assert result["__typename"] == "InvalidInput", result
        assert [(e["field"], e["index"]) for e in result["errors"]] == [(f"events[517].{field}", 517)]
    nul = [dict(e) for e in batch]
    nul[517] = world.ev("search", userId="1", query="a\x00b")
    body = await gql(client, track, {"e": nul}, token=tok)
    (error,) = body["errors"]
    assert "at 'e[517].query'" in error["message"] and "NUL" in error["message"], error
    assert await world_db.fetchval("SELECT count(*) FROM events") == 0


def _token(settings: Settings, **claims: Any) -> str:
    base: dict[str, Any] = {"sub": "1", "role": "user", "exp": int(time.time()) + 600}
    base.update(claims)
    return jwt.encode(base, TEST_SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({"exp": "9999999999"}, "'exp' must be a number"),
        ({"exp": True}, "token expired"),  # PyJWT reads True as 1
        ({"exp": 10**400}, None),  # a valid number, far away: accepted, no overflow
        ({"sub": "²"}, "subject refused"),
        ({"sub": "01"}, "subject refused"),
        ({"sub": "\u0661"}, "subject refused"),
        ({"sub": "1\u0661"}, "subject refused"),
        ({"sub": "9223372036854775808"}, "subject refused"),
        ({"sub": 1}, "token is invalid"),
        ({"sub": "ios\x00", "role": "app"}, "subject refused"),
        ({"sub": "x" * 129, "role": "app"}, "subject refused"),
        ({"role": ["user"]}, "token role must be"),
    ],
)
async def test_odd_token_claims_are_refused_with_401(
    client: httpx.AsyncClient, settings: Settings, claims: dict[str, Any], says: str | None
) -> None:
    headers = {"Authorization": f"Bearer {_token(settings, **claims)}"}
    response = await client.post("/graphql", json={"query": "{ whoami { role subject } }"}, headers=headers)
    if says is None:
        assert response.status_code == 200, response.text
        assert response.json()["data"]["whoami"]["subject"] == "1"
        return
    assert response.status_code == 401, response.text
    assert says in _request_id(response)
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_user_01_is_not_user_1(client: httpx.AsyncClient, settings: Settings) -> None:
    """Each of these would be a second identity (and rate-limit bucket) for user 1."""
    for subject in ("01", "001", "\u0661", "+1"):
        headers = {"Authorization": f"Bearer {_token(settings, sub=subject)}"}
        response = await client.post("/graphql", json={"query": "{ viewer { id } }"}, headers=headers)
        assert response.status_code == 401, (subject, response.text)


async def test_an_unexpected_exception_is_a_json_500_with_the_request_id(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from gateway.graphql import GatewayGraphQL
    from tests.conftest import running_client

    async def broken(*_args: Any) -> Any:
        raise RuntimeError("a bug somewhere below the door")

    monkeypatch.setattr(GatewayGraphQL, "get_context", broken)
    async with running_client(settings) as c:
        response = await c.post("/graphql", json={"query": "{ whoami { role } }"})
    assert response.status_code == 500
    assert _request_id(response) == "Unexpected error."
    assert "below the door" not in response.text
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == response.headers["x-request-id"]]
    assert any(r.exc_info for r in logged), "the cause is logged with the request id"


# Formats checked by a regular expression ending in `$`, which also matches before a final
# newline: each such value must be refused by its field, not stored nor failing in SQL.
NEWLINE_CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "mutation($e: [EventInput!]!) { trackEvents(events: $e) { __typename "
        "... on InvalidInput { errors { field } } } }",
        {"e": [world.ev("feature_used", feature="wishlist\n")]},
        "trackEvents",
    ),
    (
        "mutation($k: String!) { hideInference(key: $k) { __typename } }",
        {"k": "tag:experience\n"},
        "hideInference",
    ),
    (
        "query($v: String!) { layoutConfig(platform: IOS, appVersion: $v) { __typename } }",
        {"v": "4.2.0\n"},
        "layoutConfig",
    ),
    (
        "mutation($t: String!) { applyControl(kind: HIDE, target: $t) { __typename } }",
        {"t": "item:101\n"},
        "applyControl",
    ),
]


@pytest.mark.parametrize(("query", "variables", "field"), NEWLINE_CASES)
async def test_a_trailing_newline_is_a_field_error(
    client: httpx.AsyncClient, token: Any, world_db: Any, query: str, variables: dict[str, Any], field: str
) -> None:
    body = await gql(client, query, variables, token=token(Role.USER, "1"))
    assert "errors" not in body, body
    assert body["data"][field]["__typename"] == "InvalidInput", body
    for table in ("events", "user_controls"):
        assert await world_db.fetchval(f"SELECT count(*) FROM {table}") == 0, table
