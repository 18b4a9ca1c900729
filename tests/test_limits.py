"""Each GraphQL limit refuses an over-limit request with a clear error; within limits it passes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from graphql import GraphQLObjectType, GraphQLSchema, get_named_type, is_required_argument
from pydantic import SecretStr

from gateway.schema import build_schema
from gateway.settings import Environment, Settings
from resolvers.common.limits import LimitsConfig
from resolvers.config import DomainConfig
from tests.conftest import TEST_SECRET, gql, running_client


def _settings(db_dsn: str, tmp_path: Path, env: Environment = Environment.TEST, **limits: object) -> Settings:
    return Settings(
        environment=env,
        database_url=SecretStr(db_dsn),
        data_dir=tmp_path / "data",
        jwt_secret=None if env is Environment.PRODUCTION else SecretStr(TEST_SECRET),
        jwt_public_key=_PUBLIC_KEY if env is Environment.PRODUCTION else None,
        domain=DomainConfig(limits=LimitsConfig(**limits)),  # type: ignore[arg-type]
    )


_PUBLIC_KEY = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_client(settings) as c:
        yield c


@pytest.fixture
async def tight(db_dsn: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = _settings(
        db_dsn, tmp_path, max_depth=3, max_tokens=60, max_aliases=3, max_cost=4, max_body_bytes=2048
    )
    async for c in _client(settings):
        yield c


def _messages(body: dict[str, object]) -> list[str]:
    return [e["message"] for e in body.get("errors", [])]  # type: ignore[attr-defined,index]


def _deepest_path(schema: GraphQLSchema) -> list[str]:
    """The longest chain of object fields without required arguments, from Query."""

    def walk(type_: GraphQLObjectType, seen: frozenset[str]) -> list[str]:
        best: list[str] = []
        for name, field in type_.fields.items():
            if any(is_required_argument(a) for a in field.args.values()):
                continue
            inner = get_named_type(field.type)
            if isinstance(inner, GraphQLObjectType) and inner.name not in seen:
                path = [name, *walk(inner, seen | {inner.name})]
                best = max(best, path, key=len)
        return best

    return walk(schema.query_type, frozenset({"Query"}))  # type: ignore[arg-type]


def _query_for(path: list[str], schema: GraphQLSchema) -> str:
    type_: GraphQLObjectType = schema.query_type  # type: ignore[assignment]
    for name in path:
        type_ = get_named_type(type_.fields[name].type)  # type: ignore[assignment]
    leaf = next(
        n for n, f in type_.fields.items() if not isinstance(get_named_type(f.type), GraphQLObjectType)
    )
    return "{ " + " { ".join(path) + " { " + leaf + " }" * (len(path) + 1)


async def test_depth_limit(db_dsn: str, tmp_path: Path) -> None:
    schema = build_schema(_settings(db_dsn, tmp_path))._schema
    path = _deepest_path(schema)
    assert len(path) >= 3, path  # viewer { feed { why { ... } } } at least
    query = _query_for(path, schema)
    async for c in _client(_settings(db_dsn, tmp_path, max_depth=len(path) - 1)):
        body = await gql(c, query)
        assert any(f"exceeds maximum operation depth of {len(path) - 1}" in m for m in _messages(body)), body
    async for c in _client(_settings(db_dsn, tmp_path, max_depth=len(path))):
        body = await gql(c, query)
        assert not any("depth" in m for m in _messages(body)), body


async def test_token_limit(tight: httpx.AsyncClient) -> None:
    many = "{ " + " ".join(["whoami { role }"] * 20) + " }"
    body = await gql(tight, many)
    assert body["data"] is None
    assert any("token limit" in m.lower() or "tokens" in m.lower() for m in _messages(body)), body


async def test_alias_limit_counts_through_fragment_spreads(tight: httpx.AsyncClient) -> None:
    # Two aliases in a fragment used twice, plus one direct: 5 aliases, over the limit of 3,
    # although the document text contains only three.
    doc = """
    query Q { w: whoami { ...F } x: whoami { ...F } }
    fragment F on Whoami { a: role b: subject }
    """
    body = await gql(tight, doc)
    assert any("6 aliases found. Allowed: 3" in m for m in _messages(body)), body
    ok = "query Q { w: whoami { ...F } } fragment F on Whoami { a: role }"
    assert (await gql(tight, ok))["data"] == {"w": {"a": "anonymous"}}


async def test_cost_limit(db_dsn: str, tmp_path: Path) -> None:
    # Each object field costs 1: five cost 5, over a limit of 4; four pass.
    five = "{ a: whoami { role } b: whoami { role } c: viewer { id } d: viewer { id } e: whoami { role } }"
    async for c in _client(_settings(db_dsn, tmp_path, max_cost=4)):
        body = await gql(c, five)
        assert body["data"] is None
        error = body["errors"][0]
        assert error["extensions"]["code"] == "QUERY_TOO_COSTLY", body
        assert error["message"].startswith("query cost 5 exceeds the limit of 4")
        body = await gql(c, "{ a: whoami { role } b: whoami { role } c: viewer { id } d: viewer { id } }")
        assert "errors" not in body, body


async def test_cost_counts_fragment_uses(db_dsn: str, tmp_path: Path) -> None:
    doc = "query { ...R ...R2 } fragment R on Query { a: whoami { role } b: whoami { role } } "
    doc += "fragment R2 on Query { ...R c: whoami { role } }"
    async for c in _client(_settings(db_dsn, tmp_path, max_cost=4)):
        body = await gql(c, doc)
        assert body["errors"][0]["extensions"]["cost"] == 5, body


async def test_body_cap_with_content_length(tight: httpx.AsyncClient) -> None:
    response = await tight.post(
        "/graphql", json={"query": "{ whoami { role } }", "variables": {"x": "y" * 5000}}
    )
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "2048 bytes" in error["message"]


async def test_body_cap_streamed_without_content_length(tight: httpx.AsyncClient) -> None:
    read = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal read
        yield b'{"query": "{ whoami { role } }", "variables": {"x": "'
        for _ in range(100):  # 100 KB offered; the server must stop after about 2 KB
            read += 1
            yield b"y" * 1024
        yield b'"}}'

    response = await tight.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert read <= 3, f"the server read {read} KB of a body capped at 2 KB"


async def test_batching_is_off(tight: httpx.AsyncClient) -> None:
    response = await tight.post("/graphql", json=[{"query": "{ whoami { role } }"}] * 2)
    assert response.status_code == 400
    assert "batch" in response.text.lower()


INTROSPECT = "{ __schema { queryType { name } } }"


async def test_development_keeps_introspection_suggestions_and_graphiql(db_dsn: str, tmp_path: Path) -> None:
    async for c in _client(_settings(db_dsn, tmp_path, env=Environment.DEVELOPMENT)):
        assert (await gql(c, INTROSPECT))["data"]["__schema"]["queryType"]["name"] == "Query"
        body = await gql(c, "{ whoam { role } }")
        assert "Did you mean 'whoami'?" in body["errors"][0]["message"]
        page = await c.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()


async def test_production_hides_introspection_suggestions_and_graphiql(db_dsn: str, tmp_path: Path) -> None:
    async for c in _client(_settings(db_dsn, tmp_path, env=Environment.PRODUCTION)):
        body = await gql(c, INTROSPECT)
        assert body["data"] is None
        assert "introspection" in body["errors"][0]["message"].lower()
        body = await gql(c, '{ __type(name: "Query") { name } }')
        assert body["data"] is None
        body = await gql(c, "{ whoam { role } }")
        assert "Cannot query field 'whoam'" in body["errors"][0]["message"]
        assert "Did you mean" not in body["errors"][0]["message"]
        page = await c.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code != 200 or "graphiql" not in page.text.lower()
        # ordinary queries still work
        assert (await gql(c, "{ whoami { role } }"))["data"]["whoami"]["role"] == "anonymous"


def test_a_trickled_body_gets_408_within_the_body_timeout(db_dsn: str, tmp_path: Path) -> None:
    """A body trickled a byte at a time (of a declared 1,000) over a real uvicorn: the gateway
    answers 408 once the configured 1 s has passed and closes the connection, instead of
    waiting for the rest of the body for as long as the client cares to trickle it. (Bytes
    keep arriving until just before the deadline: the bound is on the whole body, not on the
    silence between bytes; the client then stops sending, so the close is not a reset.)"""
    import socket
    import threading

    from tests import outage
    from tests.test_kill import gateway_env

    env = {**gateway_env(db_dsn, tmp_path), "GATEWAY_DOMAIN__LIMITS__BODY_TIMEOUT_S": "1"}
    with outage.gateway_process(env) as (base, _):
        host, port = base.removeprefix("http://").split(":")
        sock = socket.create_connection((host, int(port)), timeout=30)
        stop = threading.Event()

        def trickle() -> None:
            for _ in range(4):
                if stop.wait(0.2):
                    return
                sock.sendall(b" ")

        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        threading.Thread(target=trickle, daemon=True).start()
        received = b""
        try:
            while chunk := sock.recv(65536):  # until the server closes; 30 s at most (timeout)
                received += chunk
        finally:
            stop.set()
            sock.close()
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), received[:200]
    error = orjson.loads(body)["errors"][0]
    assert error["extensions"]["code"] == "REQUEST_TIMEOUT"
    assert error["extensions"]["request_id"].encode() in head


# A typo of each kind graphql-core answers with "Did you mean …": field, argument, enum value
# (literal and variable), type, input field (literal and variable), fragment type condition.
TYPOS: list[tuple[str, dict[str, object] | None]] = [
    ("{ whoam { role } }", None),
    ("{ feed(surfac: HOME) { rank } }", None),
    ("{ feed(surface: HOMEE) { rank } }", None),
    ("query($s: Surface!) { feed(surface: $s) { rank } }", {"s": "HOMEE"}),
    ("query($s: Surfac!) { feed(surface: $s) { rank } }", {"s": "HOME"}),
    ('{ usersBy(dimensions: [EXPERIENCE], epsilon: 0.1, filter: {countr: "DE"}) { __typename } }', None),
    (
        "query($f: AudienceFilterInput) { usersBy(dimensions: [EXPERIENCE], epsilon: 0.1, filter: $f) "
        "{ __typename } }",
        {"f": {"countr": "DE"}},
    ),
    ("{ ...F } fragment F on Quer { whoami { role } }", None),
    ("{ whoami { ... on Whoam { role } } }", None),
]


@pytest.mark.parametrize(("query", "variables"), TYPOS)
async def test_production_never_suggests_names(
    db_dsn: str, tmp_path: Path, query: str, variables: dict[str, object] | None
) -> None:
    async for c in _client(_settings(db_dsn, tmp_path, env=Environment.DEVELOPMENT)):
        body = await gql(c, query, variables)
        assert "Did you mean" in orjson.dumps(body).decode(), body  # the typo is one that suggests
    async for c in _client(_settings(db_dsn, tmp_path, env=Environment.PRODUCTION)):
        body = await gql(c, query, variables)
        assert body["errors"], body
        assert "Did you mean" not in orjson.dumps(body).decode(), body
