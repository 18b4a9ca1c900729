"""Experiments over HTTP on a real PostgreSQL: marketer definitions (field errors, versions,
namespaces, nothing reshuffled), the variant applied to the layout with a why that names it,
eligibility (NONE, no profiling consent, minors, opted out: never exposed nor logged), exposure
logging once, consent withdrawal, leaving experiments, erasure and export, offer outcome events,
two gateways agreeing, and DP results charged once per canonical query."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from privacy.principal import Role
from resolvers.config import DomainConfig
from resolvers.experiments.config import ExperimentsConfig
from resolvers.experiments.rules import Definition, assign, pseudonym
from resolvers.feed.config import FeedConfig
from resolvers.model.reference import REFERENCE
from tests.conftest import gql, make_settings, running_client
from tests.dp_data import register
from tests.personalization_world import ALL_PURPOSES, add_user, set_signals, world

SALT = ExperimentsConfig().id_salt
CREATE = """mutation($i: ExperimentInput!) { createExperiment(input: $i) {
  __typename ... on Experiment { key version status variants { key weight value } }
  ... on InvalidInput { message errors { field message } } } }"""
UPDATE = """mutation($i: ExperimentInput!) { updateExperiment(input: $i) {
  __typename ... on Experiment { key version status } ... on InvalidInput { errors { field message } } } }"""
START = """mutation($k: String!) { startExperiment(key: $k) {
  __typename ... on Experiment { status startedAt } ... on InvalidInput { errors { field message } } } }"""
STOP = """mutation($k: String!) { stopExperiment(key: $k) {
  __typename ... on Experiment { status } ... on InvalidInput { errors { field message } } } }"""
LIST = "{ experiments { key version status namespace } }"
LAYOUT = """{ layoutConfig(platform: IOS, appVersion: "4.2.0") { ... on LayoutConfig {
  sections { key why { reasons { code text } } }
  offers { count why { summary reasons { code text } controls { kind target }
    rule { kind id version } } } } } }"""
WHY_FA = """{ layoutConfig(platform: IOS, appVersion: "4.2.0") { ... on LayoutConfig {
  offers { why { summary reasons { text } controls { label } } } } } }"""
PERSIAN = re.compile(r"[\u0600-\u06ff]")
APPLY = """mutation($k: ControlKind!, $t: String!) { applyControl(kind: $k, target: $t) { __typename } }"""
UNDO = """mutation($k: ControlKind!, $t: String!) { undoControl(kind: $k, target: $t) { __typename } }"""
RESULTS = """query($k: String!, $e: Float!) { experimentResults(experimentKey: $k, epsilon: $e) {
  __typename ... on ExperimentResults { experiment version srmFlagged refused minExposed epsilonCharged
    arms { variant exposed { value } metrics { metric perUser { value ci95Low ci95High }
      lift { value ci95Low ci95High } } } }
  ... on BudgetExhausted { scope } ... on InvalidInput { errors { field message } } } }"""
SIZES = """query($k: String!) { experimentSizes(experimentKey: $k, epsilon: 0.5) {
  __typename ... on ExperimentResults { arms { variant exposed { value } metrics { metric } } } } }"""
TRACK = """mutation($e: [EventInput!]!) { trackEvents(events: $e) {
  __typename ... on TrackEventsResult { accepted droppedNoConsent }
  ... on InvalidInput { errors { field message } } } }"""

ELIGIBLE = range(1, 41)
NONE_LEVEL, NO_PROFILING, MINOR, OPTED_OUT, NO_ANALYTICS = 100, 101, 102, 103, 104


def experiment(**over: Any) -> dict[str, Any]:
    base = {
        "key": "offer_count",
        "name": "How many offers",
        "hypothesis": "Five offers convert better than the tier default",
        "surface": "OFFER_COUNT",
        "variants": [{"key": "control", "weight": 50}, {"key": "five", "weight": 50, "value": {"count": 5}}],
        "namespace": "offers",
        "primaryMetric": "CONVERSION",
        "guardrailMetrics": ["REVENUE_PER_USER"],
        "revenueClampCents": 50000,
    }
    return base | over


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async with world(db_dsn) as c:
        for uid in ELIGIBLE:
            await add_user(c, uid)
        await add_user(c, NONE_LEVEL, level="NONE")
        await add_user(
            c, NO_PROFILING, granted=tuple(p for p in ALL_PURPOSES if p != "personalize.profiling")
        )
        await add_user(c, MINOR, is_minor=True)
        await add_user(c, OPTED_OUT)
        await c.execute(
            "INSERT INTO user_controls (user_id, kind, target)"
            " VALUES ($1, 'leave_experiments', 'experiments:all')",
            OPTED_OUT,
        )
        await add_user(c, NO_ANALYTICS, granted=tuple(p for p in ALL_PURPOSES if p != "analytics.aggregate"))
        await c.execute(
            "INSERT INTO offers (name, kind, priority, created_by) VALUES ('Ten off', 'welcome', 1, 'test')"
        )
        yield c


async def _start(client: httpx.AsyncClient, token: Any, **over: Any) -> dict[str, Any]:
    mk = token(Role.MARKETER, "mark")
    made = (await gql(client, CREATE, {"i": experiment(**over)}, token=mk))["data"]["createExperiment"]
    assert made["__typename"] == "Experiment", made
    started = (await gql(client, START, {"k": made["key"]}, token=mk))["data"]["startExperiment"]
    assert started["status"] == "RUNNING", started
    return made


async def _definition(conn: asyncpg.Connection, key: str = "offer_count") -> Definition:
    row = await conn.fetchrow(
        "SELECT v.definition FROM experiments e JOIN experiment_versions v USING (experiment_id)"
        " WHERE e.key = $1 AND v.version = e.current_version",
        key,
    )
    assert row is not None
    return Definition.from_json(row["definition"])


async def _layout(client: httpx.AsyncClient, token: Any, uid: int) -> dict[str, Any]:
    body = await gql(client, LAYOUT, token=token(Role.USER, uid))
    assert "errors" not in body, body
    layout: dict[str, Any] = body["data"]["layoutConfig"]
    return layout


def _in_experiment(layout: dict[str, Any]) -> bool:
    return any(r["code"] == "EXPERIMENT" for r in layout["offers"]["why"]["reasons"])


async def _exposures(conn: asyncpg.Connection, *uids: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT user_id, variant FROM experiment_exposures"
        " WHERE user_id = ANY($1::bigint[]) ORDER BY user_id",
        list(uids),
    )


async def test_definitions_are_validated_versioned_and_mutually_exclusive(conn, client, token) -> None:
    mk = token(Role.MARKETER, "mark")
    bad = experiment(
        key="Bad",
        variants=[{"key": "control", "weight": 60}, {"key": "x", "weight": 50, "value": {"count": 99}}],
        revenueClampCents=None,
    )  # fmt: skip
    result = (await gql(client, CREATE, {"i": bad}, token=mk))["data"]["createExperiment"]
    assert result["__typename"] == "InvalidInput"
    fields = {e["field"] for e in result["errors"]}
    assert {"key", "variants[1].value.count", "variants", "revenueClampCents"} <= fields, fields
    assert await conn.fetchval("SELECT count(*) FROM experiments") == 0  # nothing half-written
    # Users may not define experiments.
    denied = await gql(client, CREATE, {"i": experiment()}, token=token(Role.USER, 1))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    await _start(client, token, rangeEnd=0.5)
    again = (await gql(client, CREATE, {"i": experiment()}, token=mk))["data"]["createExperiment"]
    assert again["errors"][0]["field"] in ("key", "rangeStart")
    overlap = experiment(key="other_count", rangeStart=0.4, rangeEnd=0.9)
    refused = (await gql(client, CREATE, {"i": overlap}, token=mk))["data"]["createExperiment"]
    assert refused["errors"][0]["field"] == "rangeStart", refused
    other_ns = experiment(key="other_ns", namespace="elsewhere", rangeStart=0.5)
    refused = (await gql(client, CREATE, {"i": other_ns}, token=mk))["data"]["createExperiment"]
    assert refused["errors"][0]["field"] == "namespace", refused
    fine = experiment(key="second_half", rangeStart=0.5, rangeEnd=1.0)
    assert (await gql(client, CREATE, {"i": fine}, token=mk))["data"]["createExperiment"]["version"] == 1

    # A running experiment: what assigns users is fixed, the words are not.
    reweighted = experiment(
        rangeEnd=0.5,
        variants=[{"key": "control", "weight": 20}, {"key": "five", "weight": 80, "value": {"count": 5}}],
    )
    refused = (await gql(client, UPDATE, {"i": reweighted}, token=mk))["data"]["updateExperiment"]
    assert refused["__typename"] == "InvalidInput" and "reshuffle" in refused["errors"][0]["message"]
    reworded = experiment(rangeEnd=0.5, hypothesis="Five offers, reworded")
    updated = (await gql(client, UPDATE, {"i": reworded}, token=mk))["data"]["updateExperiment"]
    assert updated["version"] == 2 and updated["status"] == "RUNNING"
    listed = (await gql(client, LIST, token=mk))["data"]["experiments"]
    assert [(e["key"], e["version"], e["status"]) for e in listed] == [
        ("offer_count", 2, "RUNNING"),
        ("second_half", 1, "DRAFT"),
    ]


async def test_variant_applied_to_the_layout_with_a_why_and_exposure_logged_once(conn, client, token) -> None:
    await _start(client, token)
    d = await _definition(conn)
    expected = {uid: assign(d, pseudonym(uid, SALT)) for uid in ELIGIBLE}
    assert {v.key for v in expected.values() if v} == {"control", "five"}  # both arms present
    for uid in ELIGIBLE:
        layout = await _layout(client, token, uid)
        variant = expected[uid]
        assert variant is not None
        if variant.key == "five":
            assert layout["offers"]["count"] == 5
            why = layout["offers"]["why"]
            assert why["reasons"][0] == {
                "code": "EXPERIMENT",
                "text": "Part of the experiment “How many offers” (variant five)",
            }
            assert {"kind": "LEAVE_EXPERIMENTS", "target": "experiments:all"} in why["controls"]
            assert why["rule"]["kind"] == "experiment" and why["rule"]["id"] == "offer_count"
        else:
            assert layout["offers"]["count"] == 2 and not _in_experiment(layout)
    for uid in list(ELIGIBLE)[:5]:  # asked again: still one exposure each
        await _layout(client, token, uid)
    # The why in the person's language: whole sentences, the experiment's name and variant kept.
    five = next(u for u in ELIGIBLE if (v := expected[u]) is not None and v.key == "five")
    body = await gql(client, WHY_FA, token=token(Role.USER, five), headers={"Accept-Language": "fa"})
    why = body["data"]["layoutConfig"]["offers"]["why"]
    assert why["reasons"][0]["text"] == "بخشی از آزمایش «How many offers» (نسخه five)"
    assert "خروج از همه آزمایش‌ها" in [c["label"] for c in why["controls"]]  # noqa: RUF001
    assert all(PERSIAN.search(t) for t in (why["summary"], *(c["label"] for c in why["controls"])))
    rows = await _exposures(conn, *ELIGIBLE)
    assert [(r["user_id"], r["variant"]) for r in rows] == [(u, expected[u].key) for u in ELIGIBLE]  # type: ignore[union-attr]

    # Never enrolled, never logged: level NONE, no profiling consent, minor (offers are
    # marketing), opted out, no analytics consent.
    for uid in (NONE_LEVEL, NO_PROFILING, MINOR, OPTED_OUT, NO_ANALYTICS):
        layout = await _layout(client, token, uid)
        assert not _in_experiment(layout), uid
    assert await _exposures(conn, NONE_LEVEL, NO_PROFILING, MINOR, OPTED_OUT, NO_ANALYTICS) == []


async def test_consent_withdrawal_leaving_stopping_and_erasure(conn, client, token) -> None:
    await _start(client, token)
    d = await _definition(conn)
    treated = [u for u in ELIGIBLE if (v := assign(d, pseudonym(u, SALT))) and v.key == "five"]
    a, b, c = treated[:3]
    # Withdrawing consent: the next request is control and writes nothing.
    me = token(Role.USER, a)
    done = await gql(
        client,
        'mutation { setConsent(purpose: "personalize.profiling", granted: false) { __typename } }',
        token=me,
    )
    assert done["data"]["setConsent"]["__typename"] == "ConsentReceipt", done
    assert not _in_experiment(await _layout(client, token, a))
    assert await _exposures(conn, a) == []

    # Leaving experiments: control on the next request, back in the same variant after undo.
    assert _in_experiment(await _layout(client, token, b))
    me = token(Role.USER, b)
    left = await gql(client, APPLY, {"k": "LEAVE_EXPERIMENTS", "t": "experiments:all"}, token=me)
    assert left["data"]["applyControl"]["__typename"] == "AppliedControl", left
    layout = await _layout(client, token, b)
    assert layout["offers"]["count"] == 2 and not _in_experiment(layout)
    await gql(client, UNDO, {"k": "LEAVE_EXPERIMENTS", "t": "experiments:all"}, token=me)
    assert (await _layout(client, token, b))["offers"]["count"] == 5

    # Stopping: everyone gets control; starting again reshuffles nobody.
    mk = token(Role.MARKETER, "mark")
    assert (await gql(client, STOP, {"k": "offer_count"}, token=mk))["data"]["stopExperiment"][
        "status"
    ] == "STOPPED"
    assert not _in_experiment(await _layout(client, token, c))
    assert await _exposures(conn, c) == []
    await gql(client, START, {"k": "offer_count"}, token=mk)
    assert (await _layout(client, token, c))["offers"]["count"] == 5

    # Export lists the exposure; erasure removes it.
    export = await gql(client, "mutation { requestDataExport { data } }", token=token(Role.USER, c))
    exposures = export["data"]["requestDataExport"]["data"]["experimentExposures"]
    assert [(e["experiment"], e["variant"]) for e in exposures] == [("offer_count", "five")]
    erased = await gql(
        client, "mutation { eraseMyData(confirm: true) { __typename } }", token=token(Role.USER, c)
    )
    assert erased["data"]["eraseMyData"]["__typename"] == "ErasureDone", erased
    assert await _exposures(conn, c) == []


async def test_two_gateways_with_different_unrelated_settings_assign_alike(
    conn, db_dsn, tmp_path: Path, token
) -> None:
    first = make_settings(db_dsn, tmp_path / "a")
    second = make_settings(db_dsn, tmp_path / "b", domain=DomainConfig(feed=FeedConfig(max_limit=20)))
    async with running_client(first) as one:
        await _start(one, token)
        seen = {uid: (await _layout(one, token, uid))["offers"]["count"] for uid in ELIGIBLE}
    REFERENCE.invalidate()
    async with running_client(second) as two:
        again = {uid: (await _layout(two, token, uid))["offers"]["count"] for uid in ELIGIBLE}
    assert seen == again and set(seen.values()) == {2, 5}


async def test_offer_outcome_events_are_ingested_under_the_analytics_purpose(conn, client, token) -> None:
    offer_id = await conn.fetchval("SELECT offer_id FROM offers LIMIT 1")
    now = datetime.now(UTC)

    def ev(kind: str, **fields: Any) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "type": kind,
            "occurredAt": (now - timedelta(minutes=1)).isoformat(),
        } | fields

    batch = [
        ev("OFFER_CLICK"),
        ev("OFFER_REDEMPTION", offerId="999999"),
        ev("SESSION_START", offerId=str(offer_id)),
    ]
    bad = await gql(client, TRACK, {"e": batch}, token=token(Role.USER, 1))
    errors = bad["data"]["trackEvents"]["errors"]
    assert [e["field"] for e in errors] == ["events[0].offerId", "events[1].offerId", "events[2].offerId"]
    batch = [ev("OFFER_CLICK", offerId=str(offer_id)), ev("OFFER_REDEMPTION", offerId=str(offer_id))]
    ok = await gql(client, TRACK, {"e": batch}, token=token(Role.USER, 1))
    assert ok["data"]["trackEvents"] == {
        "__typename": "TrackEventsResult",
        "accepted": 2,
        "droppedNoConsent": 0,
    }
    dropped = await gql(
        client, TRACK, {"e": [ev("OFFER_CLICK", offerId=str(offer_id))]}, token=token(Role.USER, NO_ANALYTICS)
    )
    assert dropped["data"]["trackEvents"]["droppedNoConsent"] == 1
    rows = await conn.fetch(
        "SELECT user_id, type::text, offer_id FROM events WHERE offer_id IS NOT NULL ORDER BY type"
    )
    assert [(r["user_id"], r["type"], r["offer_id"]) for r in rows] == [
        (1, "offer_click", offer_id),
        (1, "offer_redemption", offer_id),
    ]


async def test_results_are_dp_charged_once_and_refused_whole_over_budget(
    conn, db_dsn, tmp_path: Path, token
) -> None:
    from privacy.dp.config import DPConfig

    settings = make_settings(
        db_dsn, tmp_path / "d", domain=DomainConfig(dp=DPConfig(experiment_min_exposed=1))
    )
    await register(db_dsn, "ana", "analyst", epsilon_cap=2)
    await register(db_dsn, "mark", "marketer", epsilon_cap=1)
    async with running_client(settings) as client:
        await _start(client, token)
        for uid in ELIGIBLE:
            await _layout(client, token, uid)
        ana = token(Role.ANALYST, "ana")
        first = (await gql(client, RESULTS, {"k": "offer_count", "e": 1.0}, token=ana))["data"][
            "experimentResults"
        ]
        assert first["__typename"] == "ExperimentResults", first
        assert float(first["epsilonCharged"]) == 1.0
        assert [a["variant"] for a in first["arms"]] == ["control", "five"]
        # ~20 users per arm, noise scale 3 (epsilon 1 over 3 values): metrics are released above
        # the minimum of 1 (a noisy count of 0 has probability ~0.1%).
        assert first["refused"] is None, first
        metrics = first["arms"][1]["metrics"]
        assert [m["metric"] for m in metrics] == ["CONVERSION", "REVENUE_PER_USER"]
        for m in metrics:
            assert m["perUser"]["ci95Low"] <= m["perUser"]["value"] <= m["perUser"]["ci95High"]
        # The same canonical query in this release period: the same answer, free.
        again = (await gql(client, RESULTS, {"k": "offer_count", "e": 1}, token=ana))["data"][
            "experimentResults"
        ]
        assert float(again["epsilonCharged"]) == 0 and again["arms"] == first["arms"]
        charges = await conn.fetchval(
            "SELECT count(*) FROM privacy_events WHERE analyst_id = 'ana' AND kind = 'charge'"
        )
        assert charges == 1
        # Over budget (1 left, 2 asked): refused whole, nothing charged.
        two = """query { a: experimentResults(experimentKey: "offer_count", epsilon: 0.9) { __typename }
                         b: experimentResults(experimentKey: "offer_count", epsilon: 0.8) { __typename } }"""
        refused = (await gql(client, two, token=ana))["data"]
        assert refused == {"a": {"__typename": "BudgetExhausted"}, "b": {"__typename": "BudgetExhausted"}}
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM privacy_events WHERE analyst_id = 'ana' AND kind = 'charge'"
            )
            == 1
        )
        unknown = (await gql(client, RESULTS, {"k": "nope", "e": 0.1}, token=ana))["data"][
            "experimentResults"
        ]
        assert unknown["errors"] == [{"field": "experimentKey", "message": "no such experiment"}]
        # Marketers: noisy sizes only, from their own budget; never the analysts' field.
        mk = token(Role.MARKETER, "mark")
        sizes = (await gql(client, SIZES, {"k": "offer_count"}, token=mk))["data"]["experimentSizes"]
        assert [a["metrics"] for a in sizes["arms"]] == [[], []]
        denied = await gql(client, RESULTS, {"k": "offer_count", "e": 0.1}, token=mk)
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_starting_an_experiment_changes_the_layout_etag(conn, client, token) -> None:
    from tests.test_layout import layout_get

    tok = token(Role.USER, 1)
    before = await layout_get(client, tok)
    etag = before.headers["etag"]
    assert (await layout_get(client, tok, etag)).status_code == 304
    await _start(client, token)
    after = await layout_get(client, tok, etag)
    assert after.status_code == 200 and after.headers["etag"] != etag  # never a stale 304


@pytest.mark.slow
async def test_a_separate_gateway_process_assigns_alike(conn, client, db_dsn, tmp_path: Path, token) -> None:
    """A second gateway process (`gateway serve`, its own interpreter, another unrelated setting)
    on the same database gives every user the same layout as this one."""
    import asyncio
    import os
    import subprocess
    import sys

    from tests.conftest import TEST_SECRET

    await _start(client, token)
    here = {uid: (await _layout(client, token, uid))["offers"]["count"] for uid in ELIGIBLE}
    port = 8411  # this change's port range
    env = os.environ | {
        "GATEWAY_DATABASE_URL": db_dsn,
        "GATEWAY_PORT": str(port),
        "GATEWAY_ENVIRONMENT": "test",
        "GATEWAY_JWT_SECRET": TEST_SECRET,
        "GATEWAY_DATA_DIR": str(tmp_path / "other"),
        "GATEWAY_DOMAIN__FEED__MAX_LIMIT": "20",
    }
    log = (tmp_path / "other.log").open("wb")
    other = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "gateway.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as remote:
            for _ in range(300):
                try:
                    if (await remote.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert other.poll() is None, (tmp_path / "other.log").read_text()
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("the second gateway did not become ready")
            there = {uid: (await _layout(remote, token, uid))["offers"]["count"] for uid in ELIGIBLE}
    finally:
        other.terminate()
        other.wait(30)
        log.close()
    assert here == there and set(here.values()) == {2, 5}


async def test_offer_choice_shows_the_variants_offer_and_names_the_experiment(conn, client, token) -> None:
    mk = token(Role.MARKETER, "mark")
    ids = []
    for name in ("Gift A", "Gift B"):
        made = await gql(
            client,
            """mutation($n: String!) { createOffer(input: {name: $n, kind: "spend_over",
                 params: {min_spend_cents: 0}, capPerWindow: 1000, capWindowHours: 1}) {
                 __typename ... on Offer { id } } }""",
            {"n": name},
            token=mk,
        )
        ids.append(int(made["data"]["createOffer"]["id"]))
    a, b = ids
    for uid in list(ELIGIBLE)[:24]:
        await set_signals(conn, uid, spend_by_day={datetime.now(UTC).date().isoformat(): 5000})
    choice = experiment(
        key="gift_choice",
        surface="OFFER_CHOICE",
        namespace="gifts",
        variants=[
            {"key": "control", "weight": 34},
            {"key": "a", "weight": 33, "value": {"offerIds": [a]}},
            {"key": "b", "weight": 33, "value": {"offerIds": [b]}},
        ],
    )
    unknown = {"key": "x", "weight": 50, "value": {"offerIds": [999]}}
    bad = choice | {"variants": [{"key": "control", "weight": 50}, unknown]}
    refused = (await gql(client, CREATE, {"i": bad}, token=mk))["data"]["createExperiment"]
    assert refused["errors"][0]["field"] == "variants[1].value.offerIds[0]", refused
    await _start(
        client,
        token,
        key="gift_choice",
        surface="OFFER_CHOICE",
        namespace="gifts",
        variants=choice["variants"],
    )
    d = await _definition(conn, "gift_choice")
    seen = set()
    query = (
        "{ viewer { offers(surface: OFFERS) { offer { id } why { reasons { code } controls { kind } } } } }"
    )
    for uid in list(ELIGIBLE)[:24]:
        body = await gql(client, query, token=token(Role.USER, uid))
        served = {int(o["offer"]["id"]): o["why"] for o in body["data"]["viewer"]["offers"]}
        variant = assign(d, pseudonym(uid, SALT))
        assert variant is not None
        seen.add(variant.key)
        if variant.key == "control":
            assert set(served) == {a, b}
            assert all(r["code"] != "EXPERIMENT" for w in served.values() for r in w["reasons"])
        else:
            mine = a if variant.key == "a" else b
            assert set(served) == {mine}, (uid, variant.key, served)
            assert served[mine]["reasons"][0]["code"] == "EXPERIMENT"
            assert {"kind": "LEAVE_EXPERIMENTS"} in served[mine]["controls"]
    assert seen == {"control", "a", "b"}
    assert len(await _exposures(conn, *list(ELIGIBLE)[:24])) == 24


async def test_layout_rules_experiment_tests_a_rule_set_per_tag_combination(conn, client, token) -> None:
    mk = token(Role.MARKETER, "mark")
    rules = [{"experience": "NEWBIE", "sections": ["search", "offers"], "offerCount": 3}]
    over = {
        "key": "newbie_layout",
        "surface": "LAYOUT_RULES",
        "namespace": "layout_rules",
        "variants": [
            {"key": "control", "weight": 50},
            {"key": "lean", "weight": 50, "value": {"rules": rules}},
        ],
    }
    bad_rules = [{"experience": "NEWBIE", "sections": ["nope"]}, "x"]
    bad = experiment(**over) | {
        "variants": [
            {"key": "control", "weight": 50},
            {"key": "lean", "weight": 50, "value": {"rules": bad_rules}},
        ]
    }
    refused = (await gql(client, CREATE, {"i": bad}, token=mk))["data"]["createExperiment"]
    assert [e["field"] for e in refused["errors"]] == [
        "variants[1].value.rules[0].sections[0]",
        "variants[1].value.rules[1]",
    ]
    await _start(client, token, **over)
    d = await _definition(conn, "newbie_layout")
    seen = set()
    for uid in list(ELIGIBLE)[:20]:
        layout = await _layout(client, token, uid)
        variant = assign(d, pseudonym(uid, SALT))
        assert variant is not None
        seen.add(variant.key)
        keys = [s["key"] for s in layout["sections"]]
        if variant.key == "lean":
            assert keys == ["search", "offers"] and layout["offers"]["count"] == 3
            assert layout["offers"]["why"]["reasons"][0]["code"] == "EXPERIMENT"
            assert layout["offers"]["why"]["rule"]["id"] == "newbie_layout"
        else:
            assert keys != ["search", "offers"] and not _in_experiment(layout)
    assert seen == {"control", "lean"}
