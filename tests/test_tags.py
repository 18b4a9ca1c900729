"""The layout tags as pure functions: each rule of TagThresholds at its boundaries, and the
non-personalized defaults when profiling is not allowed or the tag is hidden."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from privacy.consent import ConsentSnapshot, Level
from privacy.vocabulary import Experience, PriceTier
from resolvers.config import TagThresholds
from resolvers.explain.record import ControlKind, Mode, ReasonCode, SignalSource
from resolvers.model.signals import SignalSnapshot
from resolvers.model.tags import (
    EXPERIENCE_KEY,
    PRICE_TIER_KEY,
    decide_tags,
    experience,
    price_tier,
    tags_need_signals,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
T = TagThresholds()
FULL = ConsentSnapshot(
    user_id=7, granted=frozenset({"personalize.profiling"}), level=Level.FULL, consent_version=3
)


def snap(
    sessions: int = 0, features: int = 0, tenure: int = 0, levels: tuple[int, int, int, int] = (0, 0, 0, 0)
):
    return SignalSnapshot(
        member_since=NOW - timedelta(days=tenure, hours=1),
        sessions=sessions,
        feature_counts={f"f{i}": 1 for i in range(features)},
        price_level_counts=levels,
    )


@pytest.mark.parametrize(
    ("sessions", "features", "tenure", "expected"),
    [
        (30, 5, 30, Experience.POWER),
        (29, 5, 30, Experience.REGULAR),
        (30, 4, 30, Experience.REGULAR),
        (30, 5, 29, Experience.REGULAR),
        (5, 0, 14, Experience.REGULAR),
        (4, 9, 400, Experience.NEWBIE),
        (100, 9, 13, Experience.NEWBIE),
        (0, 0, 0, Experience.NEWBIE),
    ],
)
def test_experience_boundaries(sessions: int, features: int, tenure: int, expected: Experience) -> None:
    assert experience(snap(sessions, features, tenure), T, NOW)[0] is expected


def test_features_with_zero_count_do_not_count() -> None:
    s = SignalSnapshot(
        member_since=NOW - timedelta(days=60),
        sessions=40,
        feature_counts={"a": 1, "b": 1, "c": 1, "d": 1, "e": 0},
    )
    assert experience(s, T, NOW)[0] is Experience.REGULAR


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ((0, 0, 0, 0), PriceTier.MID),
        ((1, 0, 0, 0), PriceTier.BUDGET),
        ((3, 2, 0, 0), PriceTier.BUDGET),  # mean 1.4
        ((2, 3, 0, 0), PriceTier.BUDGET),  # mean 1.6: at the boundary
        ((1, 2, 0, 0), PriceTier.MID),  # mean 1.67
        ((0, 1, 1, 0), PriceTier.MID),  # mean 2.5
        ((0, 0, 1, 0), PriceTier.LUXURY),  # mean 3.0: at the boundary
        ((0, 0, 0, 5), PriceTier.LUXURY),
    ],
)
def test_price_tier_boundaries(levels: tuple[int, int, int, int], expected: PriceTier) -> None:
    assert price_tier(snap(levels=levels), T)[0] is expected


def test_thresholds_are_configurable() -> None:
    strict = TagThresholds(power_min_sessions=100)
    assert experience(snap(50, 9, 90), T, NOW)[0] is Experience.POWER
    assert experience(snap(50, 9, 90), strict, NOW)[0] is Experience.REGULAR


def test_personalized_records_carry_coarse_criteria_not_raw_values() -> None:
    tags = decide_tags(snap(37, 6, 45, (0, 0, 7, 2)), FULL, frozenset(), T, NOW, rule_version=4)
    assert tags.experience is Experience.POWER
    assert tags.price_tier is PriceTier.LUXURY
    exp = tags.experience_record
    assert exp.mode is Mode.PERSONALIZED
    assert exp.reasons[0].code is ReasonCode.EXPERIENCE
    assert exp.purposes == ("personalize.profiling",)
    assert exp.signal_sources == (SignalSource.YOUR_ACTIVITY_HERE,)
    assert "at least 30 sessions" in exp.matched_criteria
    assert exp.rule is not None and exp.rule.version == 4
    assert exp.consent_snapshot_id == FULL.snapshot_id
    kinds = {c.kind for c in exp.controls}
    assert {ControlKind.CHANGE_PERSONALIZATION_LEVEL, ControlKind.OPEN_CONSENT} <= kinds
    assert any(c.purpose == "personalize.profiling" for c in exp.controls)
    text = " ".join(
        [r.summary for r in tags.records]
        + [reason.text for r in tags.records for reason in r.reasons]
        + [c for r in tags.records for c in r.matched_criteria]
    )
    for raw in ("37", "45", "3.22"):  # the user's own session count, tenure, mean level
        assert raw not in text
    assert tags.price_tier_record.reasons[0].code is ReasonCode.PRICE_TIER


@pytest.mark.parametrize(
    "consent",
    [
        ConsentSnapshot(user_id=7, granted=frozenset(), level=Level.FULL),
        ConsentSnapshot(user_id=7, granted=frozenset({"personalize.profiling"}), level=Level.BASIC),
        ConsentSnapshot(user_id=7, granted=frozenset({"personalize.profiling"}), level=Level.NONE),
        ConsentSnapshot(user_id=None),
    ],
)
def test_defaults_without_profiling(consent: ConsentSnapshot) -> None:
    assert not tags_need_signals(consent, frozenset())
    tags = decide_tags(snap(50, 9, 90, (0, 0, 0, 5)), consent, frozenset(), T, NOW)
    assert (tags.experience, tags.price_tier) == (Experience.REGULAR, PriceTier.MID)
    for record in tags.records:
        assert record.mode is Mode.NON_PERSONALIZED
        assert record.purposes == ()
        assert "not based on your activity" in record.summary
    assert not tags.personalized


def test_hidden_tag_uses_the_default_and_the_other_still_personalized() -> None:
    tags = decide_tags(snap(50, 9, 90, (0, 0, 0, 5)), FULL, frozenset({EXPERIENCE_KEY}), T, NOW)
    assert tags.experience is Experience.REGULAR
    assert "you hid this tag" in tags.experience_record.summary
    assert tags.price_tier is PriceTier.LUXURY
    assert tags.price_tier_record.mode is Mode.PERSONALIZED
    assert tags_need_signals(FULL, frozenset({EXPERIENCE_KEY}))
    assert not tags_need_signals(FULL, frozenset({EXPERIENCE_KEY, PRICE_TIER_KEY}))
