"""Every control a `why` can offer is carried out by a mutation over HTTP, takes effect on the
very next request, is listed, and can be undone. The kinds are read from the schema, so a new
control kind without a working mutation fails here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from gateway import Settings
from privacy.principal import Role
from resolvers.config import DomainConfig
from resolvers.experiments.config import ExperimentsConfig
from resolvers.experiments.rules import SurfaceVocabulary, assign, pseudonym, validate
from resolvers.offers.config import OffersConfig
from tests.conftest import gql, running_client
from tests.personalization_world import add_user, set_signals, world

USER = 730
WHYS = """{ viewer {
  feed(surface: HOME, limit: 10) {
    item { id } why { mode purposes matchedCriteria reasons { code } controls { kind target purpose } } }
  offers(surface: OFFERS) { offer { id } why { mode purposes controls { kind target purpose } } }
  reminders { item { id } why { mode purposes controls { kind target purpose } } }
  tags { experience experienceWhy { mode purposes controls { kind target purpose } } }
  inferences { key hidden why { mode purposes controls { kind target purpose } } }
  controls { kind target }
} }"""
APPLY = """mutation($k: ControlKind!, $t: String!) { applyControl(kind: $k, target: $t) {
  __typename ... on AppliedControl { kind target } ... on InvalidInput { errors { field message } } } }"""
UNDO = """mutation($k: ControlKind!, $t: String!) { undoControl(kind: $k, target: $t) {
  __typename ... on AppliedControl { kind target } ... on InvalidInput { errors { field message } } } }"""
LEVEL = "mutation($l: PersonalizationLevel!) { setPersonalizationLevel(level: $l) { level } }"
CONSENT = "mutation($p: String!, $g: Boolean!) { setConsent(purpose: $p, granted: $g) { __typename } }"
KINDS = '{ __type(name: "ControlKind") { enumValues { name } } }'


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    async with world(db_dsn) as c:
        yield c


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a per-user offer cap the walk below never reaches (it asks many times)."""
    roomy = settings.model_copy(update={"domain": DomainConfig(offers=OffersConfig(user_offer_cap=10_000))})
    async with running_client(roomy) as c:
        yield c


async def whys(client: httpx.AsyncClient, tok: str) -> dict[str, Any]:
    body = await gql(client, WHYS, token=tok)
    assert "errors" not in body, body
    return dict(body["data"]["viewer"])


def decided(viewer: dict[str, Any]) -> list[dict[str, Any]]:
    """Every why in the viewer's answers."""
    out = [r["why"] for key in ("feed", "offers", "reminders") for r in viewer[key]]
    out.append(viewer["tags"]["experienceWhy"])
    return out + [r["why"] for r in viewer["inferences"] if r["why"]]


def offered(viewer: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every control offered anywhere in the viewer's answers, with where it was offered."""
    found: list[tuple[str, dict[str, Any]]] = []
    for row in viewer["feed"]:
        found += [("feed", c) for c in row["why"]["controls"]]
    for row in viewer["offers"]:
        found += [("offers", c) for c in row["why"]["controls"]]
    for row in viewer["reminders"]:
        found += [("reminders", c) for c in row["why"]["controls"]]
    found += [("tags", c) for c in viewer["tags"]["experienceWhy"]["controls"]]
    for row in viewer["inferences"]:
        if row["why"]:
            found += [("inferences", c) for c in row["why"]["controls"]]
    return found


async def _applied(client: httpx.AsyncClient, tok: str, query: str, kind: str, target: str) -> None:
    body = await gql(client, query, {"k": kind, "t": target}, token=tok)
    result = body["data"]["applyControl" if query is APPLY else "undoControl"]
    assert result == {"__typename": "AppliedControl", "kind": kind, "target": target}, result


def _ids(rows: list[dict[str, Any]], key: str) -> list[str]:
    return [r[key]["id"] for r in rows]


async def hide(client: httpx.AsyncClient, tok: str, where: str, control: dict[str, Any]) -> None:
    target = control["target"]
    prefix, _, rest = target.partition(":")
    probe: Callable[[dict[str, Any]], bool] = {
        "item": lambda v: rest in _ids(v["feed"], "item") + _ids(v["reminders"], "item"),
        "offer": lambda v: rest in _ids(v["offers"], "offer"),
        "tag": lambda v: v["tags"]["experienceWhy"]["mode"] == "PERSONALIZED",
        "segment": lambda v: not next(i for i in v["inferences"] if i["key"] == target)["hidden"],
    }[prefix]
    assert probe(await whys(client, tok)), (where, target)
    await _applied(client, tok, APPLY, "HIDE", target)
    after = await whys(client, tok)
    assert not probe(after), (where, target)
    assert {"kind": "HIDE", "target": target} in after["controls"]
    await _applied(client, tok, UNDO, "HIDE", target)
    again = await whys(client, tok)
    assert probe(again) and {"kind": "HIDE", "target": target} not in again["controls"]


async def show_less(client: httpx.AsyncClient, tok: str, where: str, control: dict[str, Any]) -> None:
    target = control["target"]  # subcategory:<category>/<name>

    def positions(v: dict[str, Any]) -> list[int]:
        rows = v["feed"]
        return [n for n, r in enumerate(rows) if any(c["target"] == target for c in r["why"]["controls"])]

    before = positions(await whys(client, tok))
    await _applied(client, tok, APPLY, "SHOW_LESS_LIKE_THIS", target)
    after_view = await whys(client, tok)
    after = positions(after_view)
    assert not after or min(after) > min(before), (before, after)
    demoted = [r for r in after_view["feed"] if any(c["target"] == target for c in r["why"]["controls"])]
    assert all(any("less like this" in m for m in r["why"]["matchedCriteria"]) for r in demoted)
    await _applied(client, tok, UNDO, "SHOW_LESS_LIKE_THIS", target)
    assert positions(await whys(client, tok)) == before


async def stop_reminders(client: httpx.AsyncClient, tok: str, where: str, control: dict[str, Any]) -> None:
    item = control["target"].removeprefix("item:")
    assert item in _ids((await whys(client, tok))["reminders"], "item")
    await _applied(client, tok, APPLY, "STOP_REMINDERS", control["target"])
    view = await whys(client, tok)
    assert item not in _ids(view["reminders"], "item")
    await _applied(client, tok, UNDO, "STOP_REMINDERS", control["target"])
    assert item in _ids((await whys(client, tok))["reminders"], "item")


async def change_level(client: httpx.AsyncClient, tok: str, where: str, control: dict[str, Any]) -> None:
    def behavioural(v: dict[str, Any]) -> bool:
        return v["tags"]["experienceWhy"]["mode"] == "PERSONALIZED"

    assert behavioural(await whys(client, tok))
    assert (await gql(client, LEVEL, {"l": "BASIC"}, token=tok))["data"]["setPersonalizationLevel"]
    assert not behavioural(await whys(client, tok))
    assert (await gql(client, LEVEL, {"l": "FULL"}, token=tok))["data"]["setPersonalizationLevel"]
    assert behavioural(await whys(client, tok))


async def open_consent(client: httpx.AsyncClient, tok: str, where: str, control: dict[str, Any]) -> None:
    purpose = control["purpose"]
    assert purpose

    def uses(v: dict[str, Any]) -> bool:
        return any(w["mode"] == "PERSONALIZED" and purpose in w["purposes"] for w in decided(v))

    assert uses(await whys(client, tok))
    body = await gql(client, CONSENT, {"p": purpose, "g": False}, token=tok)
    assert body["data"]["setConsent"]["__typename"] == "ConsentReceipt"
    assert not uses(await whys(client, tok)), purpose  # nothing decided for that purpose any more
    body = await gql(client, CONSENT, {"p": purpose, "g": True}, token=tok)
    assert uses(await whys(client, tok))


LAYOUT = """{ layoutConfig(platform: IOS, appVersion: "4.2.0") { ... on LayoutConfig {
  sections { key why { reasons { code } signalSources } } } } }"""
CUSTOMIZE = """mutation($s: CustomizationInput!) { setCustomization(settings: $s) { __typename } }"""
RESET = "mutation { resetCustomization { __typename ... on Customization { layout } } }"


async def change_settings(client: httpx.AsyncClient, tok: str, where: str, control: dict[str, Any]) -> None:
    """CHANGE_SETTINGS (offered by the experience tag): the person picks the layout themself."""
    assert control["target"] == "settings:layout"

    async def sections() -> list[dict[str, Any]]:
        body = await gql(client, LAYOUT, token=tok)
        return list(body["data"]["layoutConfig"]["sections"])

    before = await sections()
    assert all(s["why"]["reasons"][0]["code"] != "YOUR_CHOICE" for s in before)
    body = await gql(client, CUSTOMIZE, {"s": {"layout": "SIMPLE"}}, token=tok)
    assert body["data"]["setCustomization"]["__typename"] == "Customization"
    chosen = await sections()
    assert chosen != before and all(s["why"]["signalSources"] == ["STATED_BY_YOU"] for s in chosen)
    reset = await gql(client, RESET, token=tok)
    assert reset["data"]["resetCustomization"] == {"__typename": "Customization", "layout": None}
    assert await sections() == before


async def leave_experiments(client: httpx.AsyncClient, tok: str, where: str, control: dict[str, Any]) -> None:
    def experimented(v: dict[str, Any]) -> bool:
        return any(r["code"] == "EXPERIMENT" for row in v["feed"] for r in row["why"]["reasons"])

    assert control["target"] == "experiments:all"
    assert experimented(await whys(client, tok))
    await _applied(client, tok, APPLY, "LEAVE_EXPERIMENTS", control["target"])
    after = await whys(client, tok)
    assert not experimented(after)
    assert {"kind": "LEAVE_EXPERIMENTS", "target": "experiments:all"} in after["controls"]
    await _applied(client, tok, UNDO, "LEAVE_EXPERIMENTS", control["target"])
    assert experimented(await whys(client, tok))


async def start_feed_experiment(client: httpx.AsyncClient, marketer: str, user_id: int) -> None:
    """A running feed-weight experiment the user is in the treatment arm of (the seed is picked
    with the gateway's own assignment, so the arm is known)."""
    variants = [
        {"key": "control", "weight": 1},
        {"key": "popular", "weight": 99, "value": {"weights": {"popularity": 3.0}}},
    ]
    seed = next(
        s for s in (f"seed{i}" for i in range(100))
        if (v := assign(_feed_definition(variants, s), pseudonym(user_id, ExperimentsConfig().id_salt)))
        and v.key == "popular"
    )  # fmt: skip
    made = await gql(
        client,
        """mutation($i: ExperimentInput!) { createExperiment(input: $i) { __typename } }""",
        {"i": {"key": "feed_popularity", "name": "Popular first", "hypothesis": "Popularity helps",
               "surface": "FEED_WEIGHTS", "variants": variants, "namespace": "feed", "seed": seed,
               "primaryMetric": "CONVERSION"}},
        token=marketer,
    )  # fmt: skip
    assert made["data"]["createExperiment"]["__typename"] == "Experiment", made
    started = await gql(
        client, 'mutation { startExperiment(key: "feed_popularity") { __typename } }', token=marketer
    )
    assert started["data"]["startExperiment"]["__typename"] == "Experiment"


def _feed_definition(variants: list[dict[str, Any]], seed: str) -> Any:
    raw = {"key": "feed_popularity", "name": "x", "hypothesis": "x", "surface": "FEED_WEIGHTS",
           "variants": variants, "namespace": "feed", "seed": seed,
           "primaryMetric": "CONVERSION"}  # fmt: skip
    d, errors = validate(raw, SurfaceVocabulary(frozenset()), frozenset())
    assert d is not None, errors
    return d


HANDLERS: dict[str, Callable[[httpx.AsyncClient, str, str, dict[str, Any]], Awaitable[None]]] = {
    "HIDE": hide,
    "SHOW_LESS_LIKE_THIS": show_less,
    "STOP_REMINDERS": stop_reminders,
    "CHANGE_PERSONALIZATION_LEVEL": change_level,
    "OPEN_CONSENT": open_consent,
    "CHANGE_SETTINGS": change_settings,
    "LEAVE_EXPERIMENTS": leave_experiments,
}


async def test_every_control_kind_the_schema_can_emit_is_carried_out_and_undone(client, conn, token) -> None:
    kinds = {v["name"] for v in (await gql(client, KINDS))["data"]["__type"]["enumValues"]}
    assert kinds == set(HANDLERS), "a control kind without a working mutation"
    await add_user(conn, USER, preferred_channel="push", subscribed=("push",))
    await set_signals(
        conn, USER, sessions=40, purchased={1: 5, 20: 45}, affinity={"apparel": 5.0, "home": 2.0}
    )
    await conn.execute("INSERT INTO user_features (user_id, feature, uses) SELECT $1, 'f' || g, 3 "
                       "FROM generate_series(1, 6) g", USER)  # fmt: skip
    await conn.execute("UPDATE user_signals SET distinct_features = 6 WHERE user_id = $1", USER)
    marketer = token(Role.MARKETER, "m")
    made = await gql(
        client,
        """mutation { createSegment(name: "Apparel buyers",
             rule: {attr: "purchased_category", op: "eq", value: "apparel"}) { __typename } }""",
        token=marketer,
    )
    assert made["data"]["createSegment"]["__typename"] == "Segment"
    made = await gql(
        client,
        """mutation { createOffer(input: {name: "Thanks", kind: "spend_over", params: {min_spend_cents: 0},
             capPerWindow: 1000, capWindowHours: 1}) { __typename } }""",
        token=marketer,
    )
    assert made["data"]["createOffer"]["__typename"] == "Offer"
    await start_feed_experiment(client, marketer, USER)
    tok = token(sub=USER)
    controls = offered(await whys(client, tok))
    emitted = {c["kind"] for _, c in controls}
    assert emitted == kinds, f"never offered: {kinds - emitted}"
    done: set[tuple[str, str]] = set()
    for where, control in controls:
        key = (control["kind"], control["target"] or control["purpose"] or "")
        prefix = (control["target"] or "").split(":")[0]
        if (control["kind"], prefix or key[1]) in done:
            continue  # one of each kind and target type is enough
        done.add((control["kind"], prefix or key[1]))
        await HANDLERS[control["kind"]](client, tok, where, control)
    assert {k for k, _ in done} == kinds
    hidden_targets = {p for k, p in done if k == "HIDE"}
    assert {"item", "offer", "tag", "segment"} <= hidden_targets


async def test_controls_are_validated_and_only_for_the_person(client, conn, token) -> None:
    await add_user(conn, 731)
    tok = token(sub=731)
    cases = [
        ("HIDE", "item:999999", "target", "no such item"),
        ("HIDE", "items:1", "target", "HIDE applies to"),
        ("SHOW_LESS_LIKE_THIS", "subcategory:apparel/nothing", "target", "no such subcategory"),
        ("STOP_REMINDERS", "offer:1", "target", "STOP_REMINDERS applies to"),
        ("OPEN_CONSENT", "personalize.content", "kind", "setConsent"),
        ("HIDE", "item:1\n", "target", "expected"),
    ]
    for kind, target, field, message in cases:
        body = await gql(client, APPLY, {"k": kind, "t": target}, token=tok)
        result = body["data"]["applyControl"]
        assert result["__typename"] == "InvalidInput", (kind, target, result)
        assert result["errors"][0]["field"] == field and message in result["errors"][0]["message"]
    # a NUL is refused before any resolver, wherever a string enters (docs/limits.md)
    nul = await gql(client, APPLY, {"k": "HIDE", "t": "item:1\u0000"}, token=tok)
    assert nul["data"] is None and nul["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await conn.fetchval("SELECT count(*) FROM user_controls WHERE user_id = 731") == 0
    refused = await gql(client, APPLY, {"k": "HIDE", "t": "item:1"}, token=token(Role.ANALYST, "a"))
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    undone = await gql(client, UNDO, {"k": "HIDE", "t": "item:1"}, token=tok)
    assert undone["data"]["undoControl"]["__typename"] == "InvalidInput"  # nothing to undo
