"""The purchase-propensity model (issue 14) on a real PostgreSQL: one feature spec for training
and scoring, training charged once to the privacy ledger and refused past its budget, only
consented people trained on and scored, scoring inside the viewer request without a statement
of its own, the why naming the version and the person's own coarse signals, the inference
exportable, hideable and erased, and rollback reaching the next request."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from gateway import Settings
from jobs import propensity as P
from privacy.principal import Role
from resolvers.config import DomainConfig
from resolvers.model.propensity import (
    DATA_NORM,
    FEATURES,
    PROPENSITY_KEY,
    REASON_PREFIX,
    feature_vector,
    may_score,
)
from resolvers.model.reference import REFERENCE
from resolvers.model.signals import SignalSnapshot, parse_activity
from sql import create_pool, load_queries
from tests.conftest import gql, running_client
from tests.test_user_model import VIEWER, counted

Q = load_queries()
NOW = datetime.now(UTC)
INFERENCES = "{ viewer { inferences { key kind value hidden why { summary reasons { code text } "
INFERENCES += "signalSources rule { kind id version } controls { kind target } } } } }"


def test_features_are_clipped_to_their_bounds_and_the_norm_bound_holds() -> None:
    extreme = SignalSnapshot(
        sessions=10**9,
        first_seen=NOW - timedelta(days=10_000),
        last_seen=NOW,
        member_since=NOW - timedelta(days=10_000),
        category_affinity={"fashion": 1e12, "books": 1.0},
        purchased_items={i: NOW for i in range(1, 500)},
        cart={1: 99},
        cart_value_cents=10**12,
        spend_by_day={NOW.date().isoformat(): 10**12},
    )
    for s in (extreme, SignalSnapshot()):
        x = feature_vector(s, NOW)
        assert len(x) == len(FEATURES)
        assert all(-0.5 <= v <= 0.5 for v in x), x
        assert math.sqrt(sum(v * v for v in x)) <= DATA_NORM + 1e-9
    # The most active person sits at the top of every "more is more" feature's range.
    top = dict(zip((f.name for f in FEATURES), feature_vector(extreme, NOW), strict=True))
    assert top["sessions"] == top["spend_90d_cents"] == top["recency_days"] == 0.5


async def _training_rows(pool: asyncpg.Pool, cutoff: datetime) -> dict[int, asyncpg.Record]:
    ids = [r["user_id"] for r in await pool.fetch("SELECT user_id FROM users ORDER BY user_id")]
    rows = await pool.fetch(Q.propensity_training_rows, ids, cutoff, 1)
    return {r["user_id"]: r for r in rows}


async def test_training_rows_at_now_agree_with_the_live_rollups(demo_dsn: str) -> None:
    """Training evaluates the rollup definition at its cut-off; at 'now' it must give exactly the
    features scoring computes from the rollups, so training and scoring cannot drift."""
    pool = await create_pool(demo_dsn, max_size=2)
    try:
        now = datetime.now(UTC) + timedelta(seconds=1)
        at_now = await _training_rows(pool, now)
        live = {r["user_id"]: r for r in await pool.fetch(Q.users_activity, list(at_now))}
        assert len(at_now) > 300
        differing = []
        for uid, row in at_now.items():
            trained = feature_vector(P.snapshot_of(row), now)
            scored = feature_vector(parse_activity(live[uid]), now)
            if any(abs(a - b) > 1e-9 for a, b in zip(trained, scored, strict=True)):
                differing.append((uid, trained, scored))
        assert not differing, differing[:3]
    finally:
        await pool.close()


async def _ledger(pool: asyncpg.Pool) -> tuple[int, Decimal, Decimal]:
    row = await pool.fetchrow(
        """SELECT (SELECT count(*) FROM privacy_events WHERE analyst_id = 'model:propensity'
                   AND kind = 'charge') AS charges,
                  (SELECT epsilon_spent FROM privacy_budgets WHERE analyst_id = 'model:propensity') AS spent,
                  (SELECT epsilon_spent FROM dataset_budgets WHERE dataset = 'audience') AS dataset_spent"""
    )
    assert row is not None
    return row["charges"], row["spent"], row["dataset_spent"]


async def test_training_charges_the_ledger_once_and_is_refused_past_the_budget(demo_dsn: str) -> None:
    config = DomainConfig()
    pool = await create_pool(demo_dsn, max_size=2)
    try:
        before = await _ledger(pool)
        trained = await P.train(pool, config, "test", seed=1)
        assert isinstance(trained, P.Trained), trained
        charges, spent, dataset_spent = await _ledger(pool)
        cost = Decimal(str(config.propensity.epsilon)) + Decimal(str(config.propensity.count_epsilon))
        assert (charges, spent, dataset_spent) == (before[0] + 1, before[1] + cost, before[2] + cost)
        stored = await P.versions(pool)
        assert [(r["version"], r["active"]) for r in stored] == [(1, True)]
        card = stored[0]["card"]
        assert stored[0]["charge_event"] == trained.charge_event
        assert card["epsilon_model"] == config.propensity.epsilon and card["delta"] == 0
        assert card["noisy_training_size"] == trained.noisy_training_size
        assert card["created_by"] == "test" and card["cutoff"] == trained.cutoff.isoformat()
        assert [f["name"] for f in card["features"]] == [f.name for f in FEATURES]
        # The trainer's cap (3) allows two runs at ε 1.05; the third is refused, nothing written.
        assert isinstance(await P.train(pool, config, "test", seed=2), P.Trained)
        refused = await P.train(pool, config, "test", seed=3)
        assert isinstance(refused, P.Refused) and refused.reason == "budget_exhausted"
        assert (await _ledger(pool))[0] == before[0] + 2
        assert len(await P.versions(pool)) == 2
        # The dataset's cap across every spender refuses too, inside the charge's transaction.
        await pool.execute(
            "UPDATE privacy_budgets SET epsilon_cap = 100 WHERE analyst_id = 'model:propensity'"
        )
        await pool.execute(
            "UPDATE dataset_budgets SET epsilon_cap = epsilon_spent + 0.5 WHERE dataset = 'audience'"
        )
        refused = await P.train(pool, config, "test", seed=4)
        assert isinstance(refused, P.Refused) and refused.reason == "budget_exhausted"
        assert (await _ledger(pool))[0] == before[0] + 2 and len(await P.versions(pool)) == 2
    finally:
        await pool.close()


async def test_only_consented_people_are_trained_on(demo_dsn: str) -> None:
    pool = await create_pool(demo_dsn, max_size=2)
    try:
        cutoff = P.default_cutoff(DomainConfig().propensity, NOW)
        everyone = await _training_rows(pool, cutoff)
        data = await P.load_training_set(pool, cutoff, 30, "t-consent")
        trained_on = set(data.user_ids.tolist())
        assert trained_on and trained_on < set(everyone)
        # Person 1 (every purpose granted) is in; withdrawing profiling takes them out.
        assert 1 in trained_on
        await pool.execute(
            "UPDATE consents SET granted = false WHERE user_id = 1 AND purpose = 'personalize.profiling'"
        )
        await pool.execute("UPDATE users SET consent_version = consent_version + 1 WHERE user_id = 1")
        again = await P.load_training_set(pool, cutoff, 30, "t-consent-2")
        assert 1 not in set(again.user_ids.tolist())
        # The level BASIC / NONE personas (3, 5) are never in it.
        assert not {3, 5} & trained_on
        # Each person read was audited for profiling; nobody whose consent does not allow it was read.
        audited = {
            r["subject_user_id"]
            for r in await pool.fetch(
                "SELECT DISTINCT subject_user_id FROM audit_log WHERE request_id = 't-consent'"
                " AND purpose = 'personalize.profiling'"
            )
        }
        assert trained_on <= audited and not {3, 5} & audited
    finally:
        await pool.close()


async def _train(dsn: str, seed: int = 1) -> int:
    REFERENCE.invalidate()
    pool = await create_pool(dsn, max_size=2)
    try:
        trained = await P.train(pool, DomainConfig(), "test", seed=seed)
        assert isinstance(trained, P.Trained), trained
        return trained.version
    finally:
        await pool.close()


async def test_the_viewer_sees_the_prediction_with_its_why_and_can_hide_it(
    demo_settings: Settings, demo_token: Callable[..., str], demo_dsn: str
) -> None:
    version = await _train(demo_dsn)
    async with running_client(demo_settings) as client:
        token = demo_token(Role.USER, 1)
        body = await gql(client, INFERENCES, token=token)
        found = {i["key"]: i for i in body["data"]["viewer"]["inferences"]}
        pred = found[PROPENSITY_KEY]
        assert pred["kind"] == "model" and not pred["hidden"]
        assert pred["value"] in ("likely to buy soon", "not likely to buy soon")
        why = pred["why"]
        assert "MODEL_PREDICTION" in why["signalSources"]
        assert why["rule"] == {"kind": "model", "id": "propensity", "version": version}
        assert f"version {version}" in why["summary"]
        allowed = {REASON_PREFIX + f.words for f in FEATURES} | {
            "None of your signals pushed the prediction up"
        }
        assert why["reasons"] and all(r["code"] == "MODEL_PREDICTION" for r in why["reasons"])
        assert {r["text"] for r in why["reasons"]} <= allowed  # coarse words, never values
        assert {"kind": "HIDE", "target": PROPENSITY_KEY} in why["controls"]

        hidden = await gql(
            client,
            'mutation { hideInference(key: "model:propensity") { ... on HiddenInference { key } } }',
            token=token,
        )
        assert hidden["data"]["hideInference"] == {"key": PROPENSITY_KEY}
        body = await gql(client, INFERENCES, token=token)
        found = {i["key"]: i for i in body["data"]["viewer"]["inferences"]}
        assert found[PROPENSITY_KEY]["hidden"] and found[PROPENSITY_KEY]["value"] is None
        undone = await gql(
            client,
            'mutation { undoControl(kind: HIDE, target: "model:propensity") { __typename } }',
            token=token,
        )
        assert "errors" not in undone, undone
        body = await gql(client, INFERENCES, token=token)
        found = {i["key"]: i for i in body["data"]["viewer"]["inferences"]}
        assert not found[PROPENSITY_KEY]["hidden"] and found[PROPENSITY_KEY]["value"]

        # Level BASIC (3) and NONE (5): no score at all.
        for uid in (3, 5):
            body = await gql(client, INFERENCES, token=demo_token(Role.USER, uid))
            keys = {i["key"] for i in body["data"]["viewer"]["inferences"]}
            assert PROPENSITY_KEY not in keys, uid


async def test_withdrawn_consent_means_no_score(
    demo_settings: Settings, demo_token: Callable[..., str], demo_dsn: str
) -> None:
    await _train(demo_dsn)
    async with running_client(demo_settings) as client:
        token = demo_token(Role.USER, 1)
        withdrawn = await gql(
            client,
            'mutation { setConsent(purpose: "personalize.profiling", granted: false) { __typename } }',
            token=token,
        )
        assert "errors" not in withdrawn, withdrawn
        body = await gql(client, INFERENCES, token=token)
        assert PROPENSITY_KEY not in {i["key"] for i in body["data"]["viewer"]["inferences"]}


async def test_scoring_adds_no_statement_to_the_viewer_request(
    demo_settings: Settings, demo_token: Callable[..., str], demo_dsn: str
) -> None:
    await _train(demo_dsn)
    statements: list[str] = []
    one = demo_settings.model_copy(update={"pool_min_size": 1, "pool_max_size": 1})
    async with counted(one, statements) as client:
        user = demo_token(Role.USER, 1)
        warm = await gql(client, VIEWER, token=user)  # the active model is loaded once per worker
        assert "errors" not in warm, warm
        statements.clear()
        body = await gql(client, VIEWER, token=user)
    assert "errors" not in body, body
    assert PROPENSITY_KEY in {i["key"] for i in body["data"]["viewer"]["inferences"]}
    assert len(statements) <= 4, statements
    assert not any("models" in s for s in statements), statements


async def test_the_prediction_is_exported_and_gone_after_erasure(
    demo_settings: Settings, demo_token: Callable[..., str], demo_dsn: str
) -> None:
    await _train(demo_dsn)
    async with running_client(demo_settings) as client:
        token = demo_token(Role.USER, 1)
        export = await gql(client, "mutation { requestDataExport { data } }", token=token)
        assert "errors" not in export, export
        inferred = {i["key"]: i for i in export["data"]["requestDataExport"]["data"]["inferences"]["items"]}
        assert "model propensity version" in inferred[PROPENSITY_KEY]["logic"]
        assert not inferred[PROPENSITY_KEY]["hidden"]
        erased = await gql(client, "mutation { eraseMyData(confirm: true) { __typename } }", token=token)
        assert erased["data"]["eraseMyData"]["__typename"] == "ErasureDone", erased
    pool = await create_pool(demo_dsn, max_size=1)
    try:
        # Nothing about the person is left to score: no account, no rollups (scores are never stored).
        assert await pool.fetchval("SELECT count(*) FROM user_signals WHERE user_id = 1") == 0
        assert await pool.fetchval("SELECT count(*) FROM users WHERE user_id = 1") == 0
    finally:
        await pool.close()


async def test_rollback_takes_effect_on_the_next_request(
    demo_settings: Settings, demo_token: Callable[..., str], demo_dsn: str
) -> None:
    await _train(demo_dsn, seed=1)
    await _train(demo_dsn, seed=2)
    async with running_client(demo_settings) as client:
        token = demo_token(Role.USER, 1)

        async def served() -> int:
            body = await gql(client, INFERENCES, token=token)
            found = {i["key"]: i for i in body["data"]["viewer"]["inferences"]}
            return int(found[PROPENSITY_KEY]["why"]["rule"]["version"])

        assert await served() == 2
        pool = await create_pool(demo_dsn, max_size=1)
        try:
            assert await P.rollback(pool, "test") == (2, 1)
        finally:
            await pool.close()
        # Every worker drops its cached model on the NOTIFY the activation sends; the listener
        # runs on its own connection, so give the notification a moment to arrive.
        import asyncio

        for _ in range(50):
            if await served() == 1:
                break
            await asyncio.sleep(0.05)
        assert await served() == 1


FEED = """{ viewer { feed(surface: HOME, limit: 10) { item { id } why { purposes signalSources
  reasons { code text } rule { kind id version } controls { kind target } } } } }"""


async def test_a_likely_buyer_gets_it_as_feed_signal_and_segment_attribute(
    demo_settings: Settings, demo_token: Callable[..., str], demo_dsn: str
) -> None:
    version = await _train(demo_dsn)
    pool = await create_pool(demo_dsn, max_size=1)
    try:  # make this version predict "likely" for everyone, to test how the prediction is used
        await pool.execute("UPDATE models SET intercept = 6 WHERE version = $1", version)
    finally:
        await pool.close()
    REFERENCE.invalidate()
    async with running_client(demo_settings) as client:
        token = demo_token(Role.USER, 1)
        items = (await gql(client, FEED, token=token))["data"]["viewer"]["feed"]
        lifted = [i for i in items if any(r["code"] == "MODEL_PREDICTION" for r in i["why"]["reasons"])]
        assert lifted, items
        why = lifted[0]["why"]
        assert "MODEL_PREDICTION" in why["signalSources"]
        assert "personalize.profiling" in why["purposes"]
        text = next(r["text"] for r in why["reasons"] if r["code"] == "MODEL_PREDICTION")
        assert text.startswith(f"Our model (version {version}) predicts you are likely to buy soon")
        assert not any(ch.isdigit() for ch in text.removeprefix(f"Our model (version {version})"))
        assert {"kind": "HIDE", "target": PROPENSITY_KEY} in why["controls"]

        marketer = demo_token(Role.MARKETER, "m")
        seg = await gql(
            client,
            'mutation { createSegment(name: "about to buy",'
            ' rule: {attr: "likely_to_buy_soon", op: "eq", value: "yes"}) { ... on Segment { id } } }',
            token=marketer,
        )
        sid = seg["data"]["createSegment"]["id"]
        preview = (
            """query($s: ID!) { segmentPreview(segmentId: $s) { ... on SegmentSimulation { passed } } }"""
        )
        assert (await gql(client, preview, {"s": sid}, token=token))["data"]["segmentPreview"]["passed"]

        # Offers: of two offers of the same priority, the one on the strongest category comes first.
        conn = await asyncpg.connect(demo_dsn)
        try:
            top = await conn.fetchval(
                "SELECT category FROM user_category_stats WHERE user_id = 1 AND affinity > 0"
                " ORDER BY affinity DESC, category DESC LIMIT 1"
            )
            pick = """SELECT i.item_id FROM items i WHERE i.category {} $1 AND NOT i.sensitive
                      AND i.kind = 'product' AND NOT EXISTS (SELECT 1 FROM user_purchases p
                      WHERE p.user_id = 1 AND p.item_id = i.item_id) AND NOT EXISTS (SELECT 1
                      FROM user_cart c WHERE c.user_id = 1 AND c.item_id = i.item_id)
                      ORDER BY i.item_id LIMIT 1"""
            inside = await conn.fetchval(pick.format("="), top)
            outside = await conn.fetchval(pick.format("<>"), top)
        finally:
            await conn.close()
        create = """mutation($n: String!, $i: ID!) { createOffer(input: {name: $n, kind: "spend_over",
          itemId: $i, params: {min_spend_cents: 1}, capPerWindow: 100, capWindowHours: 1}) { __typename } }"""
        for name, item in (("outside", outside), ("inside", inside)):
            made = await gql(client, create, {"n": name, "i": str(item)}, token=marketer)
            assert (made.get("data") or {}).get("createOffer", {}).get("__typename") == "Offer", made
        offers_doc = (
            "{ viewer { offers(surface: OFFERS) { offer { name } why { signalSources reasons { code } } } } }"
        )
        served = (await gql(client, offers_doc, token=token))["data"]["viewer"]["offers"]
        # "outside" was created first (the lower id wins a tie): the prediction put "inside" first
        # (the per-user cap then serves only the first).
        assert served[0]["offer"]["name"] == "inside", served
        assert "MODEL_PREDICTION" in served[0]["why"]["signalSources"]
        assert "MODEL_PREDICTION" in {r["code"] for r in served[0]["why"]["reasons"]}

        # Hidden: no feed lift, no segment match (the attribute is absent), no score at all.
        await gql(client, 'mutation { hideInference(key: "model:propensity") { __typename } }', token=token)
        items = (await gql(client, FEED, token=token))["data"]["viewer"]["feed"]
        assert not any(r["code"] == "MODEL_PREDICTION" for i in items for r in i["why"]["reasons"])
        assert not (await gql(client, preview, {"s": sid}, token=token))["data"]["segmentPreview"]["passed"]


async def test_the_retrain_job_trains_then_reports_the_exhausted_budget(demo_dsn: str) -> None:
    from jobs.retrain import retrain_models

    pool = await create_pool(demo_dsn, max_size=2)
    try:
        first = await retrain_models(pool, DomainConfig())
        assert first["models"] == 1 and first["version"] == 1
        await pool.execute(
            "UPDATE privacy_budgets SET epsilon_cap = epsilon_spent WHERE analyst_id = 'model:propensity'"
        )
        refused = await retrain_models(pool, DomainConfig())
        assert refused == {"models": 0, "refused": "budget_exhausted"}
        stored = await P.versions(pool)
        assert [(r["version"], r["created_by"]) for r in stored] == [(1, "job:models.retrain")]
    finally:
        await pool.close()


def test_the_operator_commands_train_list_roll_back_and_evaluate(
    demo_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from gateway.cli import parser

    def run(*argv: str) -> int:
        args = parser().parse_args(list(argv))
        return int(args.func(demo_settings, args))

    assert run("train", "--actor", "ops") == 0
    assert "version 1" in capsys.readouterr().err
    assert run("train", "--actor", "ops", "--no-activate") == 0
    capsys.readouterr()
    assert run("models", "list") == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].startswith("  v2") and listed[1].startswith("* v1") and "by ops" in listed[1]
    assert run("models", "activate", "2") == 0
    assert "serving version 2 (was 1)" in capsys.readouterr().out
    assert run("models", "rollback") == 0
    assert "serving version 1 (was 2)" in capsys.readouterr().out
    assert run("models", "activate", "9") == 1
    capsys.readouterr()
    assert run("evaluate-model") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["version"] == 1 and report["held_out_users"] > 0 and 0 <= report["auc"] <= 1
    assert report["calibration"] and all(
        {"predicted", "observed", "users"} <= set(b) for b in report["calibration"]
    )
    assert run("train") == 1  # the trainer's ε 3 is spent (2 x 1.05), the third run is refused
    assert "budget_exhausted" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser().parse_args(["train", "--epsilon", "0"])


def test_scoring_needs_profiling_on_activity_and_not_hidden() -> None:
    from privacy.consent import ConsentSnapshot

    nobody = ConsentSnapshot(user_id=None)
    assert not may_score(nobody, frozenset())


@pytest.fixture
def big_world(admin_dsn: str, template_db: str) -> Iterator[str]:
    """The demo generator at 20,000 users and 1,000,000 events (about 3,000 consented people at
    the cut-off): the scale at which ε = 1 is meant to be useful."""
    import asyncio
    import uuid

    from demo.seed import SeedConfig, seed_database
    from tests import pg

    name = f"gw_big_{uuid.uuid4().hex[:10]}"
    dsn = pg.create_database(admin_dsn, name, template=template_db)
    asyncio.run(seed_database(dsn, SeedConfig(users=20_000, events=1_000_000, seed=7), progress=False))
    yield dsn
    pg.drop_database(admin_dsn, name)


@pytest.mark.slow
async def test_dp_model_at_epsilon_one_is_useful_on_the_demo_world(big_world: str) -> None:
    """On held-out users: the DP model at ε = 1 (mean over 5 trainings: each draws new noise)
    reaches an AUC of 0.70 and stays within 0.05 of the same non-private model."""
    config = DomainConfig().propensity
    pool = await create_pool(big_world, max_size=2)
    try:
        data = await P.load_training_set(pool, P.default_cutoff(config, NOW), config.horizon_days, "t-auc")
    finally:
        await pool.close()
    assert len(data) > 2000 and 0.05 < data.y.mean() < 0.5
    (cost,) = P.privacy_cost(data, config, (1.0,), runs=5)
    assert cost.dp_auc_mean >= 0.70, cost
    assert cost.plain_auc - cost.dp_auc_mean <= 0.05, cost
