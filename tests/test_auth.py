"""Tokens: anonymous, valid, and every kind of bad one gets a clear 401 (never a 500)."""

from __future__ import annotations

import time

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from gateway.auth import AuthError, Verifier, issue_token
from gateway.settings import Environment, Settings
from privacy.principal import Role
from tests.conftest import TEST_SECRET, gql

WHOAMI = "{ whoami { role subject } }"


async def test_no_token_is_anonymous(client: httpx.AsyncClient) -> None:
    body = await gql(client, WHOAMI)
    assert body["data"]["whoami"] == {"role": "anonymous", "subject": None}


async def test_valid_token(client: httpx.AsyncClient, token) -> None:
    body = await gql(client, WHOAMI, token=token(Role.ANALYST, "ana"))
    assert body["data"]["whoami"] == {"role": "analyst", "subject": "ana"}


def _claims(**over: object) -> dict[str, object]:
    now = int(time.time())
    # tokens are built at collection time: valid long enough for a slow run to reach them
    claims: dict[str, object] = {"sub": "1", "role": "user", "iat": now, "exp": now + 3600}
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        ("Bearer " + jwt.encode(_claims(exp=int(time.time()) - 3600), TEST_SECRET, "HS256"), "token expired"),
        ("Bearer " + jwt.encode(_claims(), "another-secret-" + "y" * 40, "HS256"), "signature is invalid"),
        ("Bearer " + jwt.encode(_claims(role="root"), TEST_SECRET, "HS256"), "role must be one of"),
        ("Bearer " + jwt.encode(_claims(sub="abc"), TEST_SECRET, "HS256"), "positive integer user id"),
        ("Bearer " + jwt.encode(_claims(role=None), TEST_SECRET, "HS256"), "lacks the 'role' claim"),
        ("Bearer " + jwt.encode(_claims(), TEST_SECRET, "HS512"), "signed with HS256"),
        ("Bearer not.a.jwt", "malformed"),
        ("Bearer garbage", "malformed"),
        ("Basic dXNlcjpwYXNz", "must be 'Bearer <token>'"),
        ("Bearer ", "must be 'Bearer <token>'"),
    ],
)
async def test_bad_tokens_get_401(client: httpx.AsyncClient, authorization: str, message: str) -> None:
    response = await client.post("/graphql", json={"query": WHOAMI}, headers={"Authorization": authorization})
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert message in error["message"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_wrong_role_for_a_field_is_forbidden(client: httpx.AsyncClient, token, settings) -> None:
    # `viewer` answers null for non-users; a field that needs a role says so.
    body = await gql(client, "{ viewer { id } }", token=token(Role.ANALYST, "ana"))
    assert body["data"]["viewer"] is None


async def test_viewer_reads_own_account(client: httpx.AsyncClient, token, db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    await conn.execute("INSERT INTO users (user_id, country) VALUES (7, 'DE')")
    await conn.close()
    body = await gql(client, "{ viewer { id country personalizationLevel } }", token=token(Role.USER, 7))
    assert body["data"]["viewer"] == {"id": "7", "country": "DE", "personalizationLevel": "BASIC"}
    # an unknown (or erased) id is treated as anonymous
    body = await gql(client, "{ viewer { id } }", token=token(Role.USER, 8))
    assert body["data"]["viewer"] is None


def _rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_production_verifies_rs256_and_refuses_hs256() -> None:
    private, public = _rsa_pair()
    settings = Settings(environment=Environment.PRODUCTION, jwt_public_key=public)
    verifier = Verifier.from_settings(settings)
    good = issue_token(settings, Role.MARKETER, "mia", private_key=private)
    assert verifier.principal(f"Bearer {good}").role is Role.MARKETER
    hs = jwt.encode(_claims(role="admin"), "x" * 40, algorithm="HS256")
    with pytest.raises(AuthError, match="signed with RS256"):
        verifier.principal(f"Bearer {hs}")


def test_production_refuses_development_secret() -> None:
    _, public = _rsa_pair()
    with pytest.raises(ValueError, match="refuses a shared HS256 secret"):
        Settings(environment=Environment.PRODUCTION, jwt_secret=SecretStr("s" * 40), jwt_public_key=public)
    with pytest.raises(ValueError, match="needs jwt_public_key"):
        Settings(environment=Environment.PRODUCTION)
    with pytest.raises(ValueError, match="GraphiQL cannot be enabled"):
        Settings(environment=Environment.PRODUCTION, jwt_public_key=public, graphiql=True)


def test_a_cached_token_still_expires() -> None:
    """Verified tokens are cached per process; the cache must not outlive the token."""
    verifier = Verifier(TEST_SECRET, "HS256", None, None, leeway=0)
    now = int(time.time())
    token = jwt.encode({"sub": "5", "role": "user", "exp": now + 1}, TEST_SECRET, "HS256")
    assert verifier.principal(f"Bearer {token}").user_id == 5
    assert verifier.principal(f"Bearer {token}").user_id == 5  # from the cache
    time.sleep(max(0.0, now + 1.05 - time.time()))
    with pytest.raises(AuthError, match="token expired"):
        verifier.principal(f"Bearer {token}")
