"""Schema-driven fuzzing over HTTP: generated documents (valid and hostile) sent with every
role's token to a real gateway process must never get a 500 or an unmasked internal error."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from gateway.auth import issue_token
from gateway.settings import Environment, Settings
from privacy.principal import Role
from tests import outage, pg
from tests.conftest import TEST_SECRET
from tests.fuzz_documents import NASTY_ID, NASTY_TEXT, documents
from tests.schema_walk import live_schema
from tests.test_kill import gateway_env

SCHEMA = live_schema()
# What an internal error looks like when it escapes: none of this may reach a client.
LEAK = re.compile(
    r"Traceback|File \"|asyncpg|psycopg|postgres|SELECT |INSERT |UPDATE |relation \"|column \"|"
    r"object has no attribute|NoneType|KeyError|IndexError|AttributeError|\.py\b",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def fuzz_gateway(admin_dsn: str, template_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = f"gw_fuzz_{uuid.uuid4().hex[:10]}"
    dsn = pg.create_database(admin_dsn, name, template=template_db)

    async def seed() -> None:
        conn = await asyncpg.connect(dsn)
        await conn.execute("INSERT INTO users (user_id) VALUES (731001), (842002)")
        await conn.close()

    asyncio.run(seed())
    env = gateway_env(dsn, tmp_path_factory.mktemp("fuzz"))
    env.update(
        {
            "GATEWAY_DOMAIN__LIMITS__RATE_PER_S": "100000",
            "GATEWAY_DOMAIN__LIMITS__RATE_BURST": "100000",
            "GATEWAY_DOMAIN__LIMITS__ANONYMOUS_RATE_PER_S": "100000",
            "GATEWAY_DOMAIN__LIMITS__ANONYMOUS_BURST": "100000",
        }
    )
    try:
        with outage.gateway_process(env) as (base, _):
            yield base
    finally:
        pg.drop_database(admin_dsn, name)


def _tokens() -> list[str | None]:
    s = Settings(environment=Environment.TEST, jwt_secret=SecretStr(TEST_SECRET))
    return [
        None,
        issue_token(s, Role.USER, "731001"),
        issue_token(s, Role.USER, "842002"),
        issue_token(s, Role.APP, "ios"),
        issue_token(s, Role.ANALYST, "ana"),
        issue_token(s, Role.MARKETER, "mark"),
        issue_token(s, Role.ADMIN, "ops"),
    ]


TOKENS = _tokens()


def test_fuzz_schema_over_http(fuzz_gateway: str) -> None:
    with httpx.Client(base_url=fuzz_gateway, timeout=10) as client:

        @settings(
            max_examples=150,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(doc=documents(SCHEMA), bearer=st.sampled_from(TOKENS))
        def check(doc: tuple[str, dict[str, object]], bearer: str | None) -> None:
            query, variables = doc
            headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
            response = client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
            assert response.status_code < 500, (
                f"{response.status_code} for {query} {variables}: {response.text}"
            )
            if response.status_code != 200:
                return
            for error in response.json().get("errors") or []:
                code = (error.get("extensions") or {}).get("code")
                if code == "INTERNAL":
                    assert error["message"] == "Unexpected error."
                    pytest.fail(f"unexpected server error for {query} {variables}")  # a bug to fix
                assert not LEAK.search(error["message"]), f"unmasked internal error: {error} for {query}"

        check()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | NASTY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NASTY_TEXT, inner, max_size=4),
    max_leaves=20,
)


def _nested(n: int, inner: bytes = b"1") -> bytes:
    return b"[" * n + inner + b"]" * n


# Bodies a client can send: not objects, nested deep (raw or inside variables), not UTF-8,
# random bytes, and objects whose fields have the wrong types or hold NUL characters.
BODIES = st.one_of(
    st.sampled_from(
        [
            b"null",
            b'"{ whoami { role } }"',
            b"42",
            b"[]",
            b"{}",
            b'{"query": null}',
            b'{"query": 1}',
            b'{"query": "{ whoami { role } }", "variables": "x"}',
            b'{"query": "{ whoami { role } }", "x": "\xff"}',
            b'{"query": "{ whoami { role } }", "x": "\\ud800"}',
            b"\xef\xbb\xbf{}",
            b"",
        ]
    ),
    st.binary(max_size=300),
    st.integers(1, 3000).map(_nested),
    st.integers(1, 3000).map(
        lambda n: b'{"query": "{ whoami { role } }", "variables": {"v": ' + _nested(n) + b"}}"
    ),
    st.builds(  # json, not orjson: integers past 64 bits must reach the server as they are
        lambda query, variables: json.dumps({"query": query, "variables": variables}).encode(),
        st.sampled_from(
            ["query($v: String) { feed(surface: HOME, category: $v) { rank } }", "{ whoami { role } }"]
        ),
        st.dictionaries(st.sampled_from(["v", "w"]), JSON_VALUES, max_size=2),
    ),
)
CLAIMS = st.fixed_dictionaries(
    {},
    optional={
        "sub": st.one_of(NASTY_TEXT, NASTY_ID, st.integers(), st.none(), st.lists(st.text(), max_size=2)),
        "role": st.one_of(
            st.sampled_from(["user", "app", "analyst", "marketer", "admin", "root"]), st.integers()
        ),
        "exp": st.one_of(
            st.integers(-(2**70), 2**70),
            st.floats(allow_nan=False, allow_infinity=False),
            st.text(max_size=12),
            st.booleans(),
            st.none(),
            st.just(2**64),
        ),
        "nbf": st.one_of(st.integers(-(2**40), 2**40), st.text(max_size=5)),
    },
)


def _request_id_is_carried(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    for error in response.json().get("errors") or []:
        assert error["extensions"]["request_id"] == response.headers["x-request-id"], error
        assert error["extensions"].get("code") != "INTERNAL", error


def test_fuzz_malformed_bodies_tokens_and_get_variables(fuzz_gateway: str) -> None:
    import time

    import jwt

    with httpx.Client(base_url=fuzz_gateway, timeout=10) as client:

        @settings(
            max_examples=200,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(body=BODIES, claims=CLAIMS, as_get=st.booleans(), signed=st.booleans())
        def check(body: bytes, claims: dict[str, object], as_get: bool, signed: bool) -> None:
            headers = {"content-type": "application/json"}
            if signed:
                claims = {"exp": int(time.time()) + 600, **claims}
                try:
                    headers["Authorization"] = "Bearer " + jwt.encode(claims, TEST_SECRET, algorithm="HS256")
                except (TypeError, ValueError, OverflowError):
                    return  # not encodable as a JWT: nothing a client could send
            if as_get:
                params = {"query": "query($v: String) { feed(surface: HOME, category: $v) { rank } }"}
                params["variables"] = body.decode("utf-8", "replace")
                response = client.get("/graphql", params=params, headers=headers)
            else:
                response = client.post("/graphql", content=body, headers=headers)
            assert response.status_code < 500, f"{response.status_code} for {body[:100]!r}: {response.text}"
            _request_id_is_carried(response)

        check()
