"""Loads the inputs of the layout decisions once per operation: consent snapshot, hidden
inferences, layout config version and (only when a tag may be computed from data) the signals.
Every read of personal data goes through the guard with its purpose."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from privacy.consent import ConsentSnapshot
from privacy.purposes import ESSENTIAL, PROFILING, Source
from resolvers.context import Context
from resolvers.model.tags import SignalSnapshot, Tags, decide_tags, tags_need_signals
from sql import load_queries

Q = load_queries()
_MEMO = "personal_inputs"
_TAGS = "personal_tags"


@dataclass(frozen=True, slots=True)
class PersonalInputs:
    consent: ConsentSnapshot
    hidden: frozenset[str]
    config_version: int
    signals: SignalSnapshot | None
    now: datetime

    def tags(self, ctx: Context) -> Tags:
        return decide_tags(
            self.signals,
            self.consent,
            self.hidden,
            ctx.config.tags,
            self.now,
            rule_version=self.config_version,
        )


def operation_tags(ctx: Context, inputs: PersonalInputs) -> Tags:
    """The operation's tags, decided and logged once: `viewer { tags }` and `layoutConfig`
    render the same records (same decision ids) instead of deciding and logging them twice."""
    tags = ctx.memo.get(_TAGS)
    if not isinstance(tags, Tags):
        tags = inputs.tags(ctx)
        ctx.memo[_TAGS] = tags
        ctx.log_decisions(tags.records)
    return tags


async def load_inputs(ctx: Context) -> PersonalInputs:
    """Memoised per operation; sibling fields resolved concurrently share one load."""
    task = ctx.memo.get(_MEMO)
    if not isinstance(task, asyncio.Task):
        task = asyncio.ensure_future(_load(ctx))
        ctx.memo[_MEMO] = task
    inputs: PersonalInputs = await task
    return inputs


async def _load(ctx: Context) -> PersonalInputs:
    guard = await ctx.guard()
    consent = guard.snapshot
    user_id = consent.user_id
    now = datetime.now(UTC)
    if user_id is None:
        version = await ctx.pool.fetchval(Q.layout_config_version)
        inputs = PersonalInputs(consent, frozenset(), int(version or 1), None, now)
    else:
        settings = await guard.fetchrow(
            Q.layout_user_settings,
            user_id,
            purpose=ESSENTIAL,
            source=Source.ACCOUNT,
            tables=("hidden_inferences",),
            subject_user_id=user_id,
        )
        assert settings is not None  # a scalar subquery select always returns a row
        hidden = frozenset(settings["hidden"])
        signals = None
        if tags_need_signals(consent, hidden):
            row = await guard.fetchrow(
                Q.tag_signals,
                user_id,
                purpose=PROFILING,
                source=Source.BEHAVIOURAL,
                tables=("users", "user_signals"),
                subject_user_id=user_id,
            )
            if row is not None:
                levels = row["price_level_counts"]
                signals = SignalSnapshot(
                    member_since=row["member_since"],
                    sessions=row["sessions"],
                    feature_counts={str(k): int(v) for k, v in row["feature_counts"].items()},
                    price_level_counts=(levels[0], levels[1], levels[2], levels[3]),
                )
        inputs = PersonalInputs(consent, hidden, int(settings["config_version"] or 1), signals, now)
    return inputs
