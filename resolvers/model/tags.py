"""Layout tags: experience (NEWBIE / REGULAR / POWER) and price tier (BUDGET / MID / LUXURY).

Pure: given a user's signal snapshot, consent snapshot, hidden inferences and the thresholds in
`resolvers.model.config.TagThresholds`, returns each tag with the DecisionRecord that decided it. The
GraphQL layer only loads the inputs and renders. Tags are inferences (Source.DERIVED, purpose
personalize.profiling): without that purpose, at level NONE/BASIC, or when the user hid the tag,
nothing is computed from data and the user gets the REGULAR / MID defaults, NON_PERSONALIZED.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from privacy.consent import ConsentSnapshot
from privacy.purposes import PROFILING, Source
from privacy.vocabulary import DataCategory, Experience, PriceTier
from resolvers.common.texts import text
from resolvers.explain.record import (
    Control,
    ControlKind,
    DecisionRecord,
    Mode,
    Reason,
    ReasonCode,
    RuleRef,
    SignalSource,
)
from resolvers.model.catalog import Item
from resolvers.model.config import TagThresholds
from resolvers.model.signals import SignalSnapshot

EXPERIENCE_KEY = "tag:experience"
PRICE_TIER_KEY = "tag:price_tier"
SURFACE = "layout"


DEFAULT_EXPERIENCE = Experience.REGULAR
DEFAULT_PRICE_TIER = PriceTier.MID
# Where each tier's items sit on the 1..4 price-level scale: an item's fit = 1 - distance / 3.
TIER_CENTRE = {PriceTier.BUDGET: 1.0, PriceTier.MID: 2.5, PriceTier.LUXURY: 4.0}
# The price tier is cited in a why when an item's fit is at least this (a ranking signal of the
# feed and of offer choice).
TIER_CITED_AT = 0.6


def tier_fit(item: Item, tier: PriceTier) -> float:
    return 1.0 - abs(item.price_level - TIER_CENTRE[tier]) / 3.0


@dataclass(frozen=True, slots=True)
class Tags:
    experience: Experience
    price_tier: PriceTier
    experience_record: DecisionRecord
    price_tier_record: DecisionRecord

    @property
    def personalized(self) -> bool:
        return Mode.PERSONALIZED in (self.experience_record.mode, self.price_tier_record.mode)

    @property
    def records(self) -> list[DecisionRecord]:
        return [self.experience_record, self.price_tier_record]


def experience(
    signals: SignalSnapshot, t: TagThresholds, now: datetime
) -> tuple[Experience, tuple[str, ...]]:
    """The experience tag and the coarse criteria that matched (thresholds, never the user's values).

    POWER is checked first, so a configuration where both could hold resolves to POWER."""
    tenure = signals.tenure_days(now)
    if (
        signals.sessions >= t.power_min_sessions
        and signals.distinct_features >= t.power_min_features
        and tenure >= t.power_min_tenure_days
    ):
        return Experience.POWER, (
            f"at least {t.power_min_sessions} sessions",
            f"used at least {t.power_min_features} different features",
            f"member for at least {t.power_min_tenure_days} days",
        )
    newbie: list[str] = []
    if signals.sessions < t.regular_min_sessions:
        newbie.append(f"fewer than {t.regular_min_sessions} sessions")
    if tenure < t.newbie_max_tenure_days:
        newbie.append(f"member for less than {t.newbie_max_tenure_days} days")
    if newbie:
        return Experience.NEWBIE, tuple(newbie)
    return Experience.REGULAR, (
        f"at least {t.regular_min_sessions} sessions",
        f"member for at least {t.newbie_max_tenure_days} days",
        "not all power-user criteria met",
    )


def price_tier(signals: SignalSnapshot, t: TagThresholds) -> tuple[PriceTier, tuple[str, ...]]:
    mean = signals.mean_price_level
    if mean is None:
        return PriceTier.MID, ("nothing bought or booked yet",)
    if mean >= t.luxury_min_mean_level:
        return PriceTier.LUXURY, (
            f"bought or booked mostly at price level {t.luxury_min_mean_level:g} or above",
        )
    if mean <= t.budget_max_mean_level:
        return PriceTier.BUDGET, (
            f"bought or booked mostly at price level {t.budget_max_mean_level:g} or below",
        )
    return PriceTier.MID, ("bought or booked mostly in the middle price range",)


_EXPERIENCE_TEXT = {
    Experience.NEWBIE: "You are new here, so we keep the layout simple",
    Experience.REGULAR: "You use the app regularly",
    Experience.POWER: "You use the app a lot, so your most-used features come first",
}
_PRICE_TEXT = {
    PriceTier.BUDGET: "You mostly buy lower-priced items",
    PriceTier.MID: "You mostly buy mid-range items",
    PriceTier.LUXURY: "You mostly buy higher-priced items",
}


def _controls(key: str) -> tuple[Control, ...]:
    common = (
        Control(ControlKind.HIDE, "Hide this tag", target=key),
        Control(ControlKind.CHANGE_PERSONALIZATION_LEVEL, "Change your personalization level"),
        Control(ControlKind.OPEN_CONSENT, "Manage consent for profiling", PROFILING),
    )
    if key == EXPERIENCE_KEY:  # the experience tag picks a layout: the person may pick it instead
        choose = Control(ControlKind.CHANGE_SETTINGS, text("custom.control.layout"), target="settings:layout")
        return (*common, choose)
    return common


def _refusal(consent: ConsentSnapshot, hidden: frozenset[str], key: str) -> str | None:
    """Why this tag may not be computed from data, or None."""
    if key in hidden:
        return "you hid this tag"
    return consent.refusal(PROFILING, Source.DERIVED)


def _record(
    *,
    key: str,
    value: str,
    code: ReasonCode,
    text: str,
    criteria: tuple[str, ...],
    categories: tuple[str, ...],
    consent: ConsentSnapshot,
    now: datetime,
    rule_version: int,
) -> DecisionRecord:
    return DecisionRecord(
        surface=SURFACE,
        subject_kind="tag",
        subject_id=f"{key}={value}",
        mode=Mode.PERSONALIZED,
        summary=text,
        reasons=(Reason(code, text, 1.0),),
        signal_sources=(SignalSource.YOUR_ACTIVITY_HERE,),
        data_categories=categories,
        purposes=(PROFILING,),
        consent_snapshot_id=consent.snapshot_id,
        generated_at=now,
        rule=RuleRef("tag_rule", key.removeprefix("tag:"), rule_version),
        matched_criteria=criteria,
        controls=_controls(key),
    )


def _default_record(
    *, key: str, value: str, code: ReasonCode, why_not: str, consent: ConsentSnapshot, now: datetime
) -> DecisionRecord:
    text = f"Default setting, not based on your activity ({why_not})"
    return DecisionRecord(
        surface=SURFACE,
        subject_kind="tag",
        subject_id=f"{key}={value}",
        mode=Mode.NON_PERSONALIZED,
        summary=text,
        reasons=(Reason(code, text, 1.0),),
        signal_sources=(),
        data_categories=(),
        purposes=(),
        consent_snapshot_id=consent.snapshot_id,
        generated_at=now,
        controls=_controls(key)[1:],
    )


def decide_tags(
    signals: SignalSnapshot | None,
    consent: ConsentSnapshot,
    hidden: frozenset[str],
    thresholds: TagThresholds,
    now: datetime,
    rule_version: int = 1,
) -> Tags:
    """Both tags with their records. `signals` may be None when they were not (allowed to be) read."""
    exp_refusal = _refusal(consent, hidden, EXPERIENCE_KEY)
    if exp_refusal is None and signals is not None:
        exp, exp_criteria = experience(signals, thresholds, now)
        exp_record = _record(
            key=EXPERIENCE_KEY,
            value=exp.value,
            code=ReasonCode.EXPERIENCE,
            text=_EXPERIENCE_TEXT[exp],
            criteria=exp_criteria,
            categories=(DataCategory.SESSIONS, DataCategory.ACCOUNT),
            consent=consent,
            now=now,
            rule_version=rule_version,
        )
    else:
        exp = DEFAULT_EXPERIENCE
        exp_record = _default_record(
            key=EXPERIENCE_KEY,
            value=exp.value,
            code=ReasonCode.EXPERIENCE,
            why_not=exp_refusal or "no activity read",
            consent=consent,
            now=now,
        )
    tier_refusal = _refusal(consent, hidden, PRICE_TIER_KEY)
    if tier_refusal is None and signals is not None:
        tier, tier_criteria = price_tier(signals, thresholds)
        tier_record = _record(
            key=PRICE_TIER_KEY,
            value=tier.value,
            code=ReasonCode.PRICE_TIER,
            text=_PRICE_TEXT[tier],
            criteria=tier_criteria,
            categories=(DataCategory.PURCHASES,),
            consent=consent,
            now=now,
            rule_version=rule_version,
        )
    else:
        tier = DEFAULT_PRICE_TIER
        tier_record = _default_record(
            key=PRICE_TIER_KEY,
            value=tier.value,
            code=ReasonCode.PRICE_TIER,
            why_not=tier_refusal or "no activity read",
            consent=consent,
            now=now,
        )
    return Tags(exp, tier, exp_record, tier_record)


def tags_need_signals(consent: ConsentSnapshot, hidden: frozenset[str]) -> bool:
    """Whether any tag will be computed from data (so the signals are worth reading at all)."""
    return any(_refusal(consent, hidden, key) is None for key in (EXPERIENCE_KEY, PRICE_TIER_KEY))
