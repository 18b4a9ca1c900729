"""Every root query and mutation, called by every role with generated minimal arguments.

EXPECTED_ROLES declares, per root field, the roles that may get data from it. Every other role
must be refused: a permission error (FORBIDDEN / UNAUTHENTICATED) or null data. Whatever the
role: no 500, no masked error, and no other user's data in the response (id arguments are always
the OTHER user's id, so a resolver that trusts an argument instead of the token shows up).

A new root field fails `test_every_root_field_declares_its_roles` until it is added here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from privacy.principal import Role
from resolvers.common.limits import LimitsConfig
from resolvers.config import DomainConfig
from tests.conftest import make_settings, running_client
from tests.dp_data import register
from tests.schema_walk import RootField, live_schema, minimal_call, root_fields

ALL = frozenset({"anonymous", "user_a", "user_b", "app", "analyst", "marketer", "admin"})
USERS = frozenset({"user_a", "user_b"})

EXPECTED_ROLES: dict[str, frozenset[str]] = {
    "whoami": ALL,
    "viewer": USERS,
    # public, non-personalized answers
    "feed": ALL,
    "layoutConfig": ALL,
    "purposes": ALL,
    "customizationOptions": ALL,
    # a user's own data and choices (the id always comes from the token)
    **dict.fromkeys(
        (
            "hideInference",
            "applyControl",
            "undoControl",
            "setConsent",
            "objectToDirectMarketing",
            "withdrawMarketingObjection",
            "setPersonalizationLevel",
            "setPreferredChannel",
            "setChannelSubscription",
            "setTimeZone",
            "setCustomization",
            "resetCustomization",
            "setLanguage",
            "updateProfile",
            "requestDataExport",
            "eraseMyData",
        ),
        USERS,
    ),
    "trackEvents": USERS | {"app"},
    # marketers define segments and offers; they never get a person's data
    **dict.fromkeys(
        (
            "segments",
            "simulateSegment",
            "createSegment",
            "updateSegment",
            "refreshSegmentMembership",
            "createOffer",
            "updateOffer",
            "createExperiment",
            "updateExperiment",
            "startExperiment",
            "stopExperiment",
            "setLayoutRules",
            "layoutRules",
        ),
        frozenset({"marketer", "admin"}),
    ),
    # experiment definitions and status (no counts) for those who run and read experiments
    "experiments": frozenset({"marketer", "admin", "analyst"}),
    # experiment sizes reach marketers only as DP counts; results reach analysts only through DP
    "experimentSizes": frozenset({"marketer"}),
    "experimentResults": frozenset({"analyst"}),
    # a person's own match against a segment
    "segmentPreview": USERS,
    # segment sizes reach marketers only as DP counts charged to their own budget
    "segmentSizes": frozenset({"marketer"}),
    # analysts get differentially private aggregates only
    **dict.fromkeys(
        (
            "distinctUsers",
            "usersBy",
            "orderValueSum",
            "orderValueMean",
            "histogram",
            "funnel",
            "medianOrderValue",
            "estimateCost",
        ),
        frozenset({"analyst"}),
    ),
    **dict.fromkeys(("privacyBudget", "privacyLedger"), frozenset({"analyst", "marketer"})),
    # admins register who may spend privacy budget and cap each dataset across all of them
    **dict.fromkeys(
        ("setPrivacyBudget", "createAnalyst", "analysts", "setDatasetBudget", "datasetBudgets"),
        frozenset({"admin"}),
    ),
    # background jobs: status and errors, no personal data
    "jobs": frozenset({"admin"}),
}

# Two users with values that appear nowhere else: finding B's in A's response is a leak.
USER_A, USER_B = 731001, 842002
MARKERS = {
    "user_a": (str(USER_A), "2001-01-01T01:01:01"),
    "user_b": (str(USER_B), "2002-02-02T02:02:02"),
}
SCHEMA = live_schema()
FIELDS = root_fields(SCHEMA)


def test_every_root_field_declares_its_roles() -> None:
    missing = sorted(f.name for f in FIELDS if f.name not in EXPECTED_ROLES)
    assert not missing, f"declare who may call {missing} in EXPECTED_ROLES (tests/test_authz_matrix.py)"
    stale = sorted(set(EXPECTED_ROLES) - {f.name for f in FIELDS})
    assert not stale, f"EXPECTED_ROLES names fields that no longer exist: {stale}"


def _token_for(role: str, token: Any) -> str | None:
    return {
        "anonymous": None,
        "user_a": token(Role.USER, USER_A),
        "user_b": token(Role.USER, USER_B),
        "app": token(Role.APP, "ios-app"),
        "analyst": token(Role.ANALYST, "ana"),
        "marketer": token(Role.MARKETER, "mark"),
        "admin": token(Role.ADMIN, "ops"),
    }[role]


def _other_user(role: str) -> int:
    return USER_A if role == "user_b" else USER_B


def _refused(errors: list[dict[str, Any]], data: Any, field: str) -> bool:
    codes = {(e.get("extensions") or {}).get("code") for e in errors}
    if codes & {"FORBIDDEN", "UNAUTHENTICATED"} or any("requires role" in e["message"] for e in errors):
        return True
    return data is None or data.get(field) is None


@pytest.mark.parametrize("root", FIELDS, ids=lambda f: f"{f.operation}.{f.name}")
async def test_role_matrix(root: RootField, db_dsn: str, tmp_path: Path, token) -> None:
    conn = await asyncpg.connect(db_dsn)
    await conn.execute(
        "INSERT INTO users (user_id, created_at) VALUES ($1, '2001-01-01 01:01:01+00'), "
        "($2, '2002-02-02 02:02:02+00')",
        USER_A,
        USER_B,
    )
    await conn.close()
    # The analyst and the marketer an admin registered (tokens for anyone else get nothing).
    await register(db_dsn, "ana", "analyst")
    await register(db_dsn, "mark", "marketer")
    allowed = EXPECTED_ROLES.get(root.name)
    if allowed is None:
        pytest.fail(f"{root.name} is not in EXPECTED_ROLES")
    # Generous cost/rate limits: this test is about authorisation, not limits.
    limits = LimitsConfig(max_cost=100_000, rate_per_s=1000, rate_burst=1000)
    settings = make_settings(db_dsn, tmp_path / "data", domain=DomainConfig(limits=limits))
    async with running_client(settings) as client:
        for role in sorted(ALL):
            await _check(client, root, role, allowed, token)


async def _check(
    client: httpx.AsyncClient, root: RootField, role: str, allowed: frozenset[str], token: Any
) -> None:
    document = minimal_call(root, str(_other_user(role)))
    bearer = _token_for(role, token)
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    response = await client.post("/graphql", json={"query": document}, headers=headers)
    where = f"{root.name} as {role}"
    assert response.status_code == 200, f"{where}: HTTP {response.status_code} {response.text}"
    body = response.json()
    errors: list[dict[str, Any]] = body.get("errors") or []
    assert not [e for e in errors if e["message"] == "Unexpected error."], f"{where}: masked error {body}"
    text = orjson.dumps(body).decode()
    for owner, markers in MARKERS.items():
        if owner != role:
            leaked = [m for m in markers if m in text]
            assert not leaked, f"{where}: response holds {owner}'s data {leaked}: {text}"
    if role in allowed:
        assert not _refused(errors, body.get("data"), root.name), f"{where}: refused but allowed: {text}"
        if role in USERS:  # a user's own data is theirs to read
            assert errors or body["data"][root.name] is not None
    else:
        assert _refused(errors, body.get("data"), root.name), f"{where}: not refused: {text}"
