"""`gateway seed`: load the deterministic demo world (see demo.world, demo.gen, demo.activity).

One transaction: the catalog, then users and events by binary COPY into temporary staging
tables, turned into rows by the named queries in sql/queries/seed.sql, then the rollups built
from the loaded events with set-based SQL. Either all of it lands or none of it does."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import numpy as np
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from demo import world as w
from demo.activity import Events, generate_events, pgcopy, uuid4_bytes
from demo.gen import PG_EPOCH_S, Users, catalog_arrays, generate_users, popularity_and_rank
from demo.personas import apply_personas, concat, persona_count, persona_events
from privacy.purposes import ANALYTICS
from sql.queries import load_queries

log = logging.getLogger("demo.seed")
Q = load_queries()
EVENT_CHUNK = 250_000
USER_CHUNK = 250_000


class SeedConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    users: int = Field(ge=1, le=5_000_000)
    events: int = Field(ge=0, le=100_000_000)
    seed: int = Field(default=1, ge=0, le=2**63 - 1)
    # The "now" the history ends at; default: the start of the current UTC day, so seeding twice
    # on one day gives identical rows while the demo still looks recent.
    anchor: AwareDatetime | None = None
    # Per-user bounds of the rollups: the same values ingestion uses (IngestConfig, ModelConfig).
    max_features_per_user: int = Field(default=32, ge=1, le=1000)
    searches_kept: int = Field(default=20, ge=1, le=100)
    max_purchased_items_per_user: int = Field(default=200, ge=1, le=10_000)
    max_cart_lines_per_user: int = Field(default=50, ge=1, le=1000)

    def anchor_time(self) -> datetime:
        if self.anchor is not None:
            return self.anchor.astimezone(UTC)
        return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class DatabaseNotEmpty(RuntimeError):
    """Seeding would mix the demo world into existing data."""


@dataclass(frozen=True, slots=True)
class SeedSummary:
    users: int
    events: int
    items: int
    seconds: float
    phases: tuple[tuple[str, float], ...] = ()  # seconds per phase, in order


class Progress:
    """A one-line progress bar on stderr, redrawn in place; silent when disabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()
        self.marks: list[tuple[str, float]] = [("generate", self.started)]

    def show(self, label: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        share = done / total if total else 1.0
        bar = "#" * int(share * 30)
        elapsed = time.monotonic() - self.started
        sys.stderr.write(f"\r{label:<10} [{bar:<30}] {share:6.1%} {done:>11,}/{total:,}  {elapsed:6.1f}s")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def step(self, label: str) -> None:
        """A phase named `label` starts now (shown when enabled; always kept for `phases`)."""
        self.marks.append((label, time.monotonic()))
        if self.enabled:
            sys.stderr.write(f"{label:<10} ... {time.monotonic() - self.started:6.1f}s\n")
            sys.stderr.flush()

    def phases(self) -> tuple[tuple[str, float], ...]:
        """Seconds spent in each phase, in order."""
        return tuple(
            (label, round(end - start, 1))
            for (label, start), (_, end) in zip(self.marks, self.marks[1:], strict=False)
        )


def _pg_micros(anchor: datetime, relative_s: np.ndarray) -> np.ndarray:
    return (int(anchor.timestamp()) - PG_EPOCH_S + relative_s) * 1_000_000


async def _refuse_unless_empty(conn: asyncpg.Connection, replace: bool) -> None:
    counts = await conn.fetchrow(Q.seed_demo_row_counts)
    if not replace and (counts["users"] or counts["events"]):
        raise DatabaseNotEmpty(
            f"the database already holds data ({counts['users']} users, {counts['items']} items, "
            f"{counts['events']} events); seed an empty database or pass --replace to delete the "
            "demo tables first"
        )


# Users per apply_rollups call: bounded memory, few round trips. (20,000 was faster on part of a
# seeded world, but a whole 1M-user seed took its rollups from 139 s to 321 s: kept at 2,000.)
ROLLUP_USERS = 2000


async def _rollups(conn: asyncpg.Connection, config: SeedConfig) -> None:
    """The rollups, by the function ingestion uses, a range of users at a time (additive, so the
    result is the same as applying every event at once)."""
    span = await conn.fetchrow(Q.seed_user_id_range)
    assert span is not None
    for lo in range(int(span["lo"]), int(span["hi"]) + 1, ROLLUP_USERS):
        await conn.fetchval(
            Q.seed_apply_rollups,
            lo,
            lo + ROLLUP_USERS,
            config.max_features_per_user,
            config.searches_kept,
            config.max_purchased_items_per_user,
            config.max_cart_lines_per_user,
        )
    await conn.execute(Q.seed_empty_signals)


async def seed_database(dsn: str, config: SeedConfig, progress: bool, replace: bool = False) -> SeedSummary:
    """Generate the world for `config` and load it; refuses a non-empty database unless `replace`."""
    started = time.monotonic()
    bar = Progress(progress)
    conn = await asyncpg.connect(dsn)
    try:
        await _refuse_unless_empty(conn, replace)  # before minutes of generation, not after
        anchor = config.anchor_time()
        rng = np.random.Generator(np.random.PCG64(config.seed))
        items = w.catalog_items()
        popularity, ranks = popularity_and_rank(rng, len(items))
        users = generate_users(rng, config.users)
        if persona_count(config.users, config.events):
            apply_personas(users)
        bar.step("users")
        # The events are drawn in a thread while the database loads the users and their consents
        # (the draws take the same rng after the users', so the world is the same).
        drawn = asyncio.create_task(asyncio.to_thread(_draw_events, rng, users, items, popularity, config))
        try:
            async with conn.transaction():
                await _refuse_unless_empty(conn, replace)
                if replace:
                    await conn.execute(Q.seed_truncate_demo)
                await conn.execute(Q.seed_delete_relations)  # rebuilt from the catalog below
                await conn.fetchrow(Q.seed_tune_session)
                await conn.execute(Q.seed_create_staging)
                await conn.execute(Q.seed_defer_checks)
                await _load_catalog(conn, items, popularity, ranks)
                await _load_users(conn, users, anchor, config.seed, bar)
                bar.step("events")
                await _load_events(conn, await drawn, anchor, bar)
                bar.step("rollups")
                await _rollups(conn, config)
                bar.step("checks")
                await conn.execute(Q.seed_restore_checks)
                await conn.execute(Q.seed_bump_dataset_version)
        finally:
            await asyncio.gather(drawn, return_exceptions=True)  # a thread is not cancelled: let it end
        bar.step("analyze")
        # Outside the transaction: VACUUM cannot run in one. Vacuumed, the account and signal
        # rows the analyst templates scan are all-visible at once (no hint bits left to set by the
        # first reads); the other tables get their statistics.
        await conn.execute(Q.seed_vacuum_audience)
        await conn.execute(Q.seed_analyze)
        bar.step("done")
    finally:
        await conn.close()
    summary = SeedSummary(config.users, config.events, len(items), time.monotonic() - started, bar.phases())
    log.info(
        "seeded %d users, %d events, %d items in %.1f s (seed %d); %s",
        summary.users,
        summary.events,
        summary.items,
        summary.seconds,
        config.seed,
        ", ".join(f"{label} {seconds:.1f} s" for label, seconds in summary.phases),
    )
    return summary


def _draw_events(
    rng: np.random.Generator, users: Users, items: list[w.Item], popularity: np.ndarray, config: SeedConfig
) -> Events:
    """Every event of the world, in user then time order: the personas' scripted sessions (users
    1..6) first when the world has them, then the random ones."""
    personas = persona_count(config.users, config.events)
    if not personas:
        return generate_events(rng, users, catalog_arrays(items, popularity), config.events)
    scripted = persona_events(rng, users, items)
    random = generate_events(
        rng, users, catalog_arrays(items, popularity), config.events - len(scripted), personas
    )
    return concat(scripted, random)


async def _load_catalog(
    conn: asyncpg.Connection, items: list[w.Item], popularity: np.ndarray, ranks: list[int | None]
) -> None:
    upsert = Q.seed_upsert_item
    await conn.executemany(
        upsert.text,
        [
            upsert.args(
                item_id=it.item_id,
                sku=it.sku,
                name=it.name,
                category=it.category,
                subcategory=it.subcategory,
                kind=it.kind,
                price_cents=it.price_cents,
                price_level=it.price_level,
                is_consumable=it.is_consumable,
                repurchase_days=it.repurchase_days,
                sensitive_topic=it.sensitive_topic,
                popularity=float(popularity[i]),
                editorial_rank=ranks[i],
            )
            for i, it in enumerate(items)
        ],
    )
    relations = w.item_relations(items)
    await conn.execute(Q.seed_insert_relations, *(list(col) for col in zip(*relations, strict=True)))


async def _load_users(
    conn: asyncpg.Connection, users: Users, anchor: datetime, seed: int, bar: Progress
) -> None:
    total = len(users.user_id)
    created = _pg_micros(anchor, users.created_s)
    for lo in range(0, total, USER_CHUNK):
        hi = min(lo + USER_CHUNK, total)
        columns = [users.user_id[lo:hi], created[lo:hi], *(c[lo:hi] for c in users.columns.values())]
        await conn.copy_to_table(
            "seed_users",
            source=io.BytesIO(pgcopy(columns)),
            columns=["user_id", "created_at", *users.columns],
            format="binary",
        )
        bar.show("users", hi, total)
    await conn.execute(
        Q.seed_insert_users,
        w.LEVELS,
        w.BIRTH_RANGE_CODES,
        w.COUNTRIES,
        w.PLATFORMS,
        w.CHANNELS,
        w.CONSENT_PURPOSES.index(ANALYTICS),
    )
    bar.step("channels")
    await conn.execute(Q.seed_insert_channels, w.CHANNELS)
    bar.step("consents")
    await _load_consents(conn, users, anchor, seed, bar)


CONSENT_COLUMNS = ["user_id", "purpose", "granted", "method", "notice_version", "updated_at"]
RECEIPT_COLUMNS = ["user_id", "receipt_id", "purpose", "granted", "method", "notice_version", "note", "at"]


def _text(value: str, n: int) -> np.ndarray:
    """A text column of n copies of `value` (pgcopy writes `S<k>` arrays as text)."""
    raw = value.encode()
    return np.full(n, raw, dtype=f"S{len(raw)}")


async def _load_consents(
    conn: asyncpg.Connection, users: Users, anchor: datetime, seed: int, bar: Progress
) -> None:
    """Each consent given at sign-up and its receipt, by binary COPY straight into `consents` and
    `consent_events` (a few rows per user: they outnumber the users several times over), one
    purpose at a time, so every text column of a COPY holds one value. Receipt ids come from their
    own random stream of the seed: reseeding repeats them, and the world's draws are unchanged."""
    present = users.columns["consent_present"].astype(np.int32)
    granted = users.columns["consent_granted"].astype(np.int32)
    at = _pg_micros(anchor, users.created_s) + 60 * 1_000_000  # a minute after sign-up
    receipts = np.random.Generator(np.random.PCG64([seed, 1]))
    total = int(sum(int(((present >> i) & 1).sum()) for i in range(len(w.CONSENT_PURPOSES))))
    done = 0
    for i, (purpose, version) in enumerate(zip(w.CONSENT_PURPOSES, w.NOTICE_VERSIONS, strict=True)):
        answered = np.flatnonzero((present >> i) & 1)
        for lo in range(0, len(answered), USER_CHUNK):
            rows = answered[lo : lo + USER_CHUNK]
            n = len(rows)
            common = [
                _text(purpose, n),
                ((granted[rows] >> i) & 1).astype(np.bool_),
                _text("explicit", n),
                np.full(n, version, dtype=np.int32),
            ]
            user_id = users.user_id[rows]
            await conn.copy_to_table(
                "consents",
                source=io.BytesIO(pgcopy([user_id, *common, at[rows]])),
                columns=CONSENT_COLUMNS,
                format="binary",
            )
            receipt = [user_id, uuid4_bytes(receipts, n), *common, _text("demo seed", n), at[rows]]
            await conn.copy_to_table(
                "consent_events", source=io.BytesIO(pgcopy(receipt)), columns=RECEIPT_COLUMNS, format="binary"
            )
            done += n
            bar.show("consents", done, total)


async def _load_events(conn: asyncpg.Connection, events: Events, anchor: datetime, bar: Progress) -> None:
    total = len(events)
    bar.show("events", 0, total)
    for lo in range(0, total, EVENT_CHUNK):
        hi = min(lo + EVENT_CHUNK, total)
        columns = [
            events.user_id[lo:hi],
            events.event_id[lo:hi],
            events.type[lo:hi],
            events.item_id[lo:hi],
            events.value[lo:hi],
            events.feature[lo:hi],
            events.query[lo:hi],
            events.platform[lo:hi],
            _pg_micros(anchor, events.at_s[lo:hi]),
        ]
        await conn.copy_to_table("seed_events", source=io.BytesIO(pgcopy(columns)), format="binary")
        await conn.execute(Q.seed_move_events, w.EVENT_TYPES, w.FEATURES, w.QUERIES, w.PLATFORMS)
        await conn.execute(Q.seed_clear_staged_events)
        bar.show("events", hi, total)
