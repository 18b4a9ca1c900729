"""The layout evaluation as a pure function: tag combinations map to sections, offer count and
flags, each with a record whose mode says whether the user's data was used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from privacy.consent import ConsentSnapshot, Level
from resolvers.config import TagThresholds
from resolvers.explain.record import Mode, ReasonCode
from resolvers.layout.config import LayoutConfig
from resolvers.layout.rules import evaluate_layout
from resolvers.model.signals import SignalSnapshot
from resolvers.model.tags import decide_tags

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CFG = LayoutConfig()
FULL = ConsentSnapshot(user_id=3, granted=frozenset({"personalize.profiling"}), level=Level.FULL)


def layout_for(signals: SignalSnapshot | None, consent: ConsentSnapshot = FULL, platform: str = "ios"):
    tags = decide_tags(signals, consent, frozenset(), TagThresholds(), NOW)
    features = signals.feature_counts if signals is not None else {}
    return evaluate_layout(tags, features, CFG, consent, NOW, 7, platform)


def power(features: dict[str, int]) -> SignalSnapshot:
    return SignalSnapshot(member_since=NOW - timedelta(days=90), sessions=80, feature_counts=features)


def test_power_user_without_feature_sections_keeps_the_default_order() -> None:
    layout = layout_for(power({f"x{i}": 3 for i in range(6)}))
    assert [c.key for c in layout.sections] == list(CFG.default_sections)
    assert all(c.record.reasons[0].code is ReasonCode.EXPERIENCE for c in layout.sections)


def test_power_user_sections_follow_use_with_ties_by_name() -> None:
    layout = layout_for(power({"orders": 4, "scan": 9, "search": 4, "a": 1, "b": 1, "c": 1}))
    assert [c.key for c in layout.sections][:3] == ["scan", "orders", "search"]
    assert len({c.key for c in layout.sections}) == len(layout.sections)  # nothing twice
    assert [c.record.rank for c in layout.sections] == list(range(1, len(layout.sections) + 1))


def test_without_consent_everything_is_the_default_and_non_personalized() -> None:
    none = ConsentSnapshot(user_id=3, granted=frozenset(), level=Level.FULL)
    layout = layout_for(None, none, platform="web")
    assert [c.key for c in layout.sections] == list(CFG.default_sections)
    assert layout.offers.count == CFG.offers_by_tier["MID"]
    assert all(r.mode is not Mode.PERSONALIZED for r in layout.records)
    assert all(r.purposes == () for r in layout.records)
    share = next(f for f in layout.flags if f.key == "native_share")
    assert share.enabled is False and share.record.mode is Mode.CONTEXTUAL


def test_records_carry_the_config_version_and_consent_snapshot() -> None:
    layout = layout_for(power({"search": 2}))
    for record in layout.records[2:]:  # the layout choices (the first two are the tags)
        assert record.rule is not None and record.rule.version == 7
        assert record.consent_snapshot_id == FULL.snapshot_id
        assert record.subject_kind == "layout"
