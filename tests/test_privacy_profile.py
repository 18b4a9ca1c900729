"""Progressive profiling (declared fields per stage, purpose-gated, all or nothing) and channels."""

from __future__ import annotations

import httpx

from privacy.principal import Role
from privacy.profile_fields import FIELDS, Stage, fields_for
from tests.privacy_helpers import SET_CONSENT, add_users, call, sql

PROMPTS = "query($s: ProfileStage!) { viewer { profilePrompts(stage: $s) { field why benefit purpose } } }"
UPDATE = """
mutation($s: ProfileStage!, $f: [ProfileFieldInput!]!) {
  updateProfile(stage: $s, fields: $f) {
    __typename
    ... on ProfileUpdated { fields { field value stage source purpose dataCategory collectedAt } }
    ... on InvalidInput { message errors { field message index } }
  }
}"""
PROFILE_ROWS = "SELECT field, value FROM profile_fields WHERE user_id = $1 ORDER BY field"


def test_every_field_is_declared_with_category_purpose_stage_and_benefit() -> None:
    assert {
        "name",
        "phone",
        "email",
        "address",
        "birth_year_range",
        "interests",
        "dietary_preferences",
    } <= set(FIELDS)
    for f in FIELDS.values():
        assert f.data_category.startswith("user.") and f.purpose and f.stages and f.why and f.benefit
    # signing up needs a name or a phone number, nothing else
    assert {f.name for f in fields_for(Stage.SIGNUP)} == {"name", "phone"}
    assert {f.name for f in fields_for(Stage.CHECKOUT)} >= {"address"}
    assert "phone" in {f.name for f in fields_for(Stage.BOOKING)}
    assert {f.name for f in fields_for(Stage.PERSONALIZATION)} >= {"interests"}


async def test_prompts_list_missing_fields_of_granted_purposes(
    client: httpx.AsyncClient, token, db_dsn
) -> None:
    await add_users(db_dsn, 1)
    t = token(Role.USER, 1)
    body = await call(client, PROMPTS, {"s": "SIGNUP"}, token=t)
    prompts = body["data"]["viewer"]["profilePrompts"]
    assert {p["field"] for p in prompts} == {"name", "phone"}
    assert all(p["why"] and p["benefit"] and p["purpose"] == "essential.service" for p in prompts)
    # interests need personalize.content: not asked until granted
    assert (await call(client, PROMPTS, {"s": "PERSONALIZATION"}, token=t))["data"]["viewer"][
        "profilePrompts"
    ] == []
    await call(client, SET_CONSENT, {"p": "personalize.content", "g": True}, token=t)
    fields = {
        p["field"]
        for p in (await call(client, PROMPTS, {"s": "PERSONALIZATION"}, token=t))["data"]["viewer"][
            "profilePrompts"
        ]
    }
    assert "interests" in fields
    # a field given is no longer asked
    body = await call(client, UPDATE, {"s": "SIGNUP", "f": [{"field": "name", "value": "Ana"}]}, token=t)
    assert body["data"]["updateProfile"]["__typename"] == "ProfileUpdated"
    prompts = (await call(client, PROMPTS, {"s": "SIGNUP"}, token=t))["data"]["viewer"]["profilePrompts"]
    assert [p["field"] for p in prompts] == ["phone"]


async def test_update_stores_declared_fields_with_source_and_time(client, token, db_dsn) -> None:
    await add_users(db_dsn, 1)
    t = token(Role.USER, 1)
    body = await call(
        client,
        UPDATE,
        {"s": "CHECKOUT", "f": [{"field": "address", "value": " 1 Main St, Berlin "}]},
        token=t,
    )
    stored = body["data"]["updateProfile"]["fields"][0]
    assert stored["value"] == "1 Main St, Berlin" and stored["source"] == "stated_by_user"
    assert stored["stage"] == "checkout" and stored["dataCategory"] == "user.contact.address"
    assert stored["collectedAt"]
    profile = await call(client, "{ viewer { profile { field value source } } }", token=t)
    assert profile["data"]["viewer"]["profile"] == [
        {"field": "address", "value": "1 Main St, Berlin", "source": "stated_by_user"}
    ]


async def test_rejected_field_means_nothing_is_stored(client, token, db_dsn) -> None:
    await add_users(db_dsn, 1)
    t = token(Role.USER, 1)
    ana = {"field": "name", "value": "Ana"}
    cases = [
        # not declared for the stage (address is asked at checkout, not at signup)
        ("SIGNUP", [ana, {"field": "address", "value": "x"}], "fields[1].field", "not asked at stage signup"),
        # not declared at all
        ("SIGNUP", [ana, {"field": "religion", "value": "x"}], "fields[1].field", "not a declared"),
        # purpose not granted
        ("PERSONALIZATION", [{"field": "interests", "value": "outdoor"}], "fields[0].field", "needs consent"),
        # invalid value
        ("SIGNUP", [ana, {"field": "phone", "value": "12"}], "fields[1].value", "international number"),
        ("SIGNUP", [ana, {"field": "name", "value": "Bo"}], "fields[1].field", "given twice"),
    ]
    for stage, fields, path, needle in cases:
        body = await call(client, UPDATE, {"s": stage, "f": fields}, token=t)
        result = body["data"]["updateProfile"]
        assert result["__typename"] == "InvalidInput", (stage, fields)
        assert any(e["field"] == path and needle in e["message"] for e in result["errors"]), result
    assert await sql(db_dsn, PROFILE_ROWS, 1) == []


async def test_birth_year_range_can_flag_a_minor(client, token, db_dsn) -> None:
    await add_users(db_dsn, 1, level="FULL")
    t = token(Role.USER, 1)
    await call(client, SET_CONSENT, {"p": "personalize.content", "g": True}, token=t)
    body = await call(
        client,
        UPDATE,
        {"s": "PERSONALIZATION", "f": [{"field": "birth_year_range", "value": "1990-2005"}]},
        token=t,
    )
    assert body["data"]["updateProfile"]["errors"][0]["field"] == "fields[0].value"  # over 10 years
    body = await call(
        client,
        UPDATE,
        {"s": "PERSONALIZATION", "f": [{"field": "birth_year_range", "value": "2010-2014"}]},
        token=t,
    )
    assert body["data"]["updateProfile"]["__typename"] == "ProfileUpdated"
    row = (await sql(db_dsn, "SELECT birth_year_range, is_minor FROM users WHERE user_id = 1"))[0]
    assert row["birth_year_range"] == "2010-2014" and row["is_minor"] is True


CHANNELS = "{ viewer { preferredChannel channels { channel subscribed preferred consented usable } } }"


async def test_channels_preference_subscription_and_consent(client, token, db_dsn) -> None:
    await add_users(db_dsn, 1, level="FULL")
    t = token(Role.USER, 1)
    body = await call(client, CHANNELS, token=t)
    assert all(not c["subscribed"] and not c["preferred"] for c in body["data"]["viewer"]["channels"])
    await call(client, "mutation { setPreferredChannel(channel: EMAIL) { channel } }", token=t)
    await call(
        client, "mutation { setChannelSubscription(channel: EMAIL, subscribed: true) { channel } }", token=t
    )
    await call(
        client, "mutation { setChannelSubscription(channel: SMS, subscribed: true) { channel } }", token=t
    )
    state = {c["channel"]: c for c in (await call(client, CHANNELS, token=t))["data"]["viewer"]["channels"]}
    assert state["EMAIL"]["preferred"] and state["EMAIL"]["subscribed"] and not state["EMAIL"]["usable"]
    assert state["SMS"]["subscribed"] and not state["SMS"]["preferred"]
    await call(client, SET_CONSENT, {"p": "marketing.communications.email", "g": True}, token=t)
    state = {c["channel"]: c for c in (await call(client, CHANNELS, token=t))["data"]["viewer"]["channels"]}
    assert state["EMAIL"]["consented"] and state["EMAIL"]["usable"]
    # objection: reminders off from the next request
    await call(client, "mutation { objectToDirectMarketing { objected } }", token=t)
    body = await call(client, CHANNELS, token=t)
    assert body["data"]["viewer"]["preferredChannel"] == "email"
    assert not any(c["usable"] for c in body["data"]["viewer"]["channels"])
    await call(
        client, "mutation { setChannelSubscription(channel: EMAIL, subscribed: false) { channel } }", token=t
    )
    rows = await sql(
        db_dsn, "SELECT channel, subscribed FROM user_channels WHERE user_id = 1 ORDER BY channel"
    )
    assert [(r["channel"], r["subscribed"]) for r in rows] == [("email", False), ("sms", True)]
