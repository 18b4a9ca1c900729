"""Channel offers on a real PostgreSQL: the `offers.channel` job queues, for each person whose
preferred channel is PUSH or EMAIL, exactly the offer `viewer { offers(surface: <channel>) }`
serves first, once per period, with its why in the person's language; the rulebook's exclusions
and the consent refusals hold; the outbox delivers it once to a local webhook, and an unsubscribe
cancels one still queued."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobs.channel_offers import period_label, schedule_channel_offers
from jobs.queue import BY_NAME
from privacy.principal import Role
from resolvers.config import DomainConfig
from tests.conftest import gql
from tests.jobs_support import Receiver, jobs_config, receiver, until, worker_process
from tests.personalization_world import ALL_PURPOSES, add_user, set_signals, world
from tests.test_outbox import deliver, delivery_config, pool_for

CREATE_OFFER = """mutation($i: OfferInput!) { createOffer(input: $i) {
  __typename ... on Offer { id } ... on InvalidInput { errors { field message } } } }"""
VIEWER_OFFERS = """query($s: Surface!) { viewer { offers(surface: $s) { offer { id }
  why { summary reasons { code } purposes } } } }"""
PHONE = 10
BIG_SPEND = {"2099-01-01": 60000}


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as rec:
        yield rec


async def make_offer(client: httpx.AsyncClient, token: Callable[..., str], **spec: Any) -> str:
    body = await gql(client, CREATE_OFFER, {"i": spec}, token=token(Role.MARKETER, "m1"))
    result = body["data"]["createOffer"]
    assert result["__typename"] == "Offer", result
    return str(result["id"])


async def viewer_offers(client: httpx.AsyncClient, tok: str, surface: str) -> list[dict[str, Any]]:
    body = await gql(client, VIEWER_OFFERS, {"s": surface}, token=tok)
    assert "errors" not in body, body
    return list(body["data"]["viewer"]["offers"])


async def test_each_person_gets_the_offer_viewer_offers_serves_first_once_with_its_why(
    db_dsn: str, client: httpx.AsyncClient, token: Callable[..., str], hooks: Receiver
) -> None:
    async with world(db_dsn) as conn, pool_for(db_dsn) as pool:
        # On PUSH: a phone offer for big spenders (priority 5) and a re-engagement offer (priority 1);
        # a higher-priority offer on another surface and one on email must not go to push people.
        spec = {"kind": "spend_over", "surface": "push", "itemId": str(PHONE), "priority": 5}
        phone = await make_offer(
            client, token, name="Phone deal", discountPct=15, params={"min_spend_cents": 10000}, **spec
        )
        back = await make_offer(
            client, token, name="Come back", kind="re_engagement", surface="push", priority=1
        )
        await make_offer(
            client, token, name="Page only", kind="re_engagement", surface="offers", priority=100
        )
        welcome = await make_offer(client, token, name="Hello", kind="welcome", surface="email")
        no_offers = tuple(p for p in ALL_PURPOSES if p != "marketing.offers")
        no_push = tuple(p for p in ALL_PURPOSES if p != "marketing.communications.push")
        push: dict[str, Any] = {"preferred_channel": "push", "subscribed": ("push",)}
        await add_user(conn, 1, **push)  # big spender, away for 45 days: the phone offer first
        await add_user(conn, 2, **push)  # the same, but already bought the phone
        await add_user(conn, 3, **push, is_minor=True)
        await add_user(conn, 4, **push, granted=no_offers)
        await add_user(conn, 5, preferred_channel="push", subscribed=())  # not subscribed
        await add_user(conn, 6, **push, level="NONE")
        await add_user(conn, 7, **push, granted=no_push)
        await add_user(conn, 8, preferred_channel="email", subscribed=("email",), created_days_ago=2)
        await add_user(conn, 9, preferred_channel="sms", subscribed=("sms",), created_days_ago=2)
        for uid in range(1, 8):
            purchased = {PHONE: 50} if uid == 2 else {}
            await set_signals(conn, uid, last_seen_days_ago=45, spend_by_day=BIG_SPEND, purchased=purchased)
        await conn.execute("UPDATE users SET language = 'ru' WHERE user_id = 2")

        counts = await schedule_channel_offers(pool, DomainConfig())
        assert (counts.people, counts.queued) == (7, 3)  # 5 is not subscribed, 9 prefers sms
        rows = {
            r["user_id"]: r
            for r in await conn.fetch("SELECT * FROM outbox WHERE kind = 'channel_offer' ORDER BY user_id")
        }
        assert set(rows) == {1, 2, 8}  # the minor, no consent, unsubscribed, NONE: nothing
        assert (await schedule_channel_offers(pool, DomainConfig())).queued == 0  # once per period
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 3

        label = period_label(datetime.now(UTC), "week")
        assert rows[1]["dedupe_key"] == f"channel_offer:{phone}:{label}"
        assert rows[2]["dedupe_key"] == f"channel_offer:{back}:{label}"  # a phone buyer: no phone offer
        assert rows[8]["dedupe_key"] == f"channel_offer:{welcome}:{label}"
        assert [rows[u]["channel"] for u in (1, 2, 8)] == ["push", "push", "email"]
        assert rows[1]["message"]["offer"]["id"] == phone and rows[1]["message"]["offer"]["discountPct"] == 15

        # Exactly what the person's own request is served first on their channel, with the same why.
        for uid, surface in ((1, "PUSH"), (2, "PUSH"), (8, "EMAIL")):
            served = await viewer_offers(client, token(sub=uid), surface)
            assert served[0]["offer"]["id"] == rows[uid]["message"]["offer"]["id"]
            if uid != 2:  # person 2 reads Russian in messages; the request negotiates English
                why = rows[uid]["message"]["why"]
                assert why["summary"] == served[0]["why"]["summary"] == rows[uid]["message"]["text"]
                assert [r["code"] for r in why["reasons"]] == [r["code"] for r in served[0]["why"]["reasons"]]
        for uid in (3, 4, 6):  # the same refusals as their own request (5 and 7: the channel's)
            assert await viewer_offers(client, token(sub=uid), "PUSH") == []
        # The why is rendered from the decision record written with it, in the stored language.
        record = await conn.fetchval(
            "SELECT record FROM decisions WHERE user_id = 1 AND decision_id = $1", rows[1]["decision_id"]
        )
        assert record["subject_kind"] == "offer" and record["subject_id"] == phone
        assert record["surface"] == "push"
        why1 = rows[1]["message"]["why"]
        assert why1["summary"] == record["summary"] == "Thanks for shopping with us"
        assert [r["code"] for r in why1["reasons"]] == ["SPEND_THRESHOLD"]
        assert {
            "kind": "HIDE",
            "label": "Hide this offer",
            "purpose": None,
            "target": f"offer:{phone}",
        } in why1["controls"]
        why2 = rows[2]["message"]["why"]
        assert why2["summary"] != "We have missed you" and rows[2]["message"]["text"] == why2["summary"]
        # The send counts against the offer's caps like a shown offer, on its channel.
        shown = "SELECT count(*) FROM impressions WHERE user_id = 1 AND offer_id = $1 AND channel = 'push'"
        assert await conn.fetchval(shown, int(phone)) == 1

        # Delivered once, signed, on the preferred channel, with the offer and its why.
        config = delivery_config(hooks, quiet_start=None, quiet_end=None)
        assert (await deliver(pool, config)).sent == 3
        assert (await deliver(pool, config)).sent == 0
        got = {r.body["userId"]: r for r in hooks.received}
        assert len(hooks.received) == 3
        assert got["1"].path == "/push" and got["1"].signed and got["8"].path == "/email"
        assert got["1"].body["kind"] == "channel_offer" and got["1"].body["offer"]["id"] == phone
        assert got["1"].body["why"]["decisionId"] == str(rows[1]["decision_id"])


async def test_a_hidden_offer_is_not_sent_and_an_unsubscribe_cancels_a_queued_one(
    db_dsn: str, client: httpx.AsyncClient, token: Callable[..., str], hooks: Receiver
) -> None:
    async with world(db_dsn) as conn, pool_for(db_dsn) as pool:
        back = await make_offer(
            client,
            token,
            name="Come back",
            kind="re_engagement",
            surface="push",
            params={"days_inactive": 30},
        )
        for uid in (20, 21):
            await add_user(conn, uid, preferred_channel="push", subscribed=("push",))
            await set_signals(conn, uid, last_seen_days_ago=45)
        hidden = await gql(
            client,
            "mutation($t: String!) { applyControl(kind: HIDE, target: $t) { __typename } }",
            {"t": f"offer:{back}"},
            token=token(sub=21),
        )
        assert "errors" not in hidden, hidden
        assert (await schedule_channel_offers(pool, DomainConfig())).queued == 1
        assert await conn.fetchval("SELECT user_id FROM outbox") == 20
        body = await gql(
            client,
            "mutation { setChannelSubscription(channel: PUSH, subscribed: false) { channel } }",
            token=token(sub=20),
        )
        assert "errors" not in body, body
        row = await conn.fetchrow("SELECT status, status_reason FROM outbox WHERE user_id = 20")
        assert (row["status"], row["status_reason"]) == ("cancelled", "unsubscribed from push")
        assert (await deliver(pool, delivery_config(hooks, quiet_start=None, quiet_end=None))).sent == 0
        assert hooks.received == []


def test_the_job_is_registered_with_its_own_schedule() -> None:
    spec = BY_NAME["offers.channel"]
    from jobs.config import Schedules

    assert spec.schedule(Schedules()) == "35 9 * * *"
    assert spec.schedule(Schedules(channel_offers=None)) is None
    assert period_label(datetime(2026, 11, 25, tzinfo=UTC), "week") == "2026-W48"
    assert period_label(datetime(2027, 1, 1, tzinfo=UTC), "week") == "2026-W53"
    assert period_label(datetime(2026, 11, 25, tzinfo=UTC), "month") == "2026-11"


async def test_the_worker_runs_the_job_on_its_schedule_and_admins_see_it(
    db_dsn: str, tmp_path: Path, client: httpx.AsyncClient, token: Callable[..., str], hooks: Receiver
) -> None:
    async with world(db_dsn) as conn:
        back = await make_offer(client, token, name="Come back", kind="re_engagement", surface="push")
        await add_user(conn, 30, preferred_channel="push", subscribed=("push",))
        await set_signals(conn, 30, last_seen_days_ago=45)
    # Every second: the job queues the offer, then asks for a delivery right away.
    config = jobs_config({"push": hooks.url("/push")}, schedules={"channel_offers": "* * * * * *"})
    with worker_process(db_dsn, tmp_path, config):
        await until(lambda: hooks.received, "the channel offer was not delivered", timeout_s=60)
    (got,) = hooks.received
    assert got.path == "/push" and got.body["kind"] == "channel_offer" and got.body["offer"]["id"] == back
    body = await gql(
        client, "{ jobs { ... on JobsOverview { schedules { name cron } } } }", token=token(Role.ADMIN, "ops")
    )
    assert {"name": "offers.channel", "cron": "* * * * * *"} in body["data"]["jobs"]["schedules"]
