"""The mobile layout, evaluated (pure): sections in order, the number of offers, flags, each with
the DecisionRecord behind it. Tag combinations map to a layout: simplified onboarding sections for
newbies, the user's most-used features first for power users, the offer count by price tier.
The result holds only evaluated choices: no rules, thresholds, raw values or prices.

What the person chose for themself (resolvers/model/customization.py) is merged over the
inferred layout and always wins: a layout choice replaces the one the experience tag gives,
hidden sections are left out, pinned ones come first, and every part it decided says "you chose
this" (signal source STATED_BY_YOU). A choice is not profiling, so it applies at every level."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from privacy.consent import ConsentSnapshot
from privacy.purposes import ESSENTIAL, PROFILING
from privacy.vocabulary import DataCategory, Experience
from resolvers.common.texts import TEXTS, text
from resolvers.experiments.rules import Enrollment
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
from resolvers.layout.config import LayoutConfig
from resolvers.model.customization import Customization, LayoutChoice
from resolvers.model.layout_rules import NO_RULES, LayoutRule, LayoutRuleSet
from resolvers.model.tags import Tags

SURFACE = "layout"


@dataclass(frozen=True, slots=True)
class Choice:
    """One evaluated choice (a section, the offer count, a flag) and the record behind it."""

    key: str
    record: DecisionRecord
    enabled: bool = True
    count: int | None = None


@dataclass(frozen=True, slots=True)
class Layout:
    config_version: int
    tags: Tags
    sections: tuple[Choice, ...]
    offers: Choice
    flags: tuple[Choice, ...]
    appearance: Choice
    customization: Customization

    @property
    def choice_records(self) -> list[DecisionRecord]:
        """The layout's own choices (the tags' records belong to the operation's tags)."""
        return [
            *(c.record for c in self.sections),
            self.offers.record,
            *(f.record for f in self.flags),
            self.appearance.record,
        ]

    @property
    def records(self) -> list[DecisionRecord]:
        return [*self.tags.records, *self.choice_records]


@dataclass(frozen=True, slots=True)
class _Builder:
    consent: ConsentSnapshot
    now: datetime
    version: int

    def record(
        self,
        subject: str,
        code: ReasonCode,
        text: str,
        personalized: bool,
        rank: int | None = None,
        criteria: tuple[str, ...] = (),
        experiment: Enrollment | None = None,
        rule: LayoutRule | None = None,
    ) -> DecisionRecord:
        controls = (
            Control(ControlKind.CHANGE_PERSONALIZATION_LEVEL, "Change your personalization level"),
            Control(ControlKind.OPEN_CONSENT, "Manage consent for profiling", PROFILING),
            Control(ControlKind.CHANGE_SETTINGS, TEXTS["custom.control.layout"], target=_setting(subject)),
        )
        if experiment is not None:
            # What the experiment changed says so, and offers the control that leaves it.
            return DecisionRecord(
                surface=SURFACE,
                subject_kind="layout",
                subject_id=subject,
                mode=Mode.PERSONALIZED,
                summary=experiment.reason.text,
                reasons=(experiment.reason, Reason(code, text, 0.5)),
                signal_sources=(),
                data_categories=(),
                purposes=(PROFILING,),
                consent_snapshot_id=self.consent.snapshot_id,
                generated_at=self.now,
                rank=rank,
                rule=experiment.rule,
                matched_criteria=criteria,
                controls=(experiment.control, *controls),
            )
        return DecisionRecord(
            surface=SURFACE,
            subject_kind="layout",
            subject_id=subject,
            mode=Mode.PERSONALIZED if personalized else Mode.NON_PERSONALIZED,
            summary=text,
            reasons=(Reason(code, text, 1.0),),
            signal_sources=(SignalSource.YOUR_ACTIVITY_HERE,) if personalized else (),
            data_categories=(DataCategory.SESSIONS,) if personalized else (),
            purposes=(PROFILING,) if personalized else (),
            consent_snapshot_id=self.consent.snapshot_id,
            generated_at=self.now,
            rank=rank,
            rule=RuleRef("layout_rule", rule.key if rule else subject.split(":")[0], self.version),
            matched_criteria=criteria,
            controls=controls,
        )

    def stated(
        self, subject: str, summary: str, custom: Customization, rank: int | None = None
    ) -> DecisionRecord:
        """A part the person chose: their stated setting decided it, whatever was inferred. Read
        from their own account under essential.service (it is not profiling), or sent by their
        app on the anonymous path (then nothing about them was read)."""
        signed_in = self.consent.user_id is not None and not custom.from_client
        return DecisionRecord(
            surface=SURFACE,
            subject_kind="layout",
            subject_id=subject,
            mode=Mode.PERSONALIZED,
            summary=summary,
            reasons=(Reason(ReasonCode.YOUR_CHOICE, summary, 1.0),),
            signal_sources=(SignalSource.STATED_BY_YOU,),
            data_categories=(DataCategory.ACCOUNT_SETTINGS,) if signed_in else (),
            purposes=(ESSENTIAL,) if signed_in else (),
            consent_snapshot_id=self.consent.snapshot_id,
            generated_at=self.now,
            rank=rank,
            rule=RuleRef("layout_rule", subject.split(":")[0], self.version),
            matched_criteria=(text("custom.criteria.stated" if signed_in else "custom.criteria.client"),),
            controls=(
                Control(ControlKind.CHANGE_SETTINGS, text("custom.control.change"), target=_setting(subject)),
            ),
        )


def _setting(subject: str) -> str:
    """Which of the person's settings decides a layout part (a CHANGE_SETTINGS target)."""
    if subject == "appearance":
        return "settings:appearance"
    return "settings:sections" if subject.startswith("section:") else "settings:layout"


# The why of a layout rule, one whole sentence per tag combination (translated as a sentence,
# never assembled from pieces); the criteria name the tags the rule is for.
RULE_TEXTS: dict[tuple[str | None, str | None], str] = {
    ("NEWBIE", None): "The layout for new shoppers",
    ("NEWBIE", "BUDGET"): "The layout for new shoppers who usually buy budget",
    ("NEWBIE", "MID"): "The layout for new shoppers who usually buy mid-range",
    ("NEWBIE", "LUXURY"): "The layout for new shoppers who usually buy luxury",
    ("REGULAR", None): "The layout for regular shoppers",
    ("REGULAR", "BUDGET"): "The layout for regular shoppers who usually buy budget",
    ("REGULAR", "MID"): "The layout for regular shoppers who usually buy mid-range",
    ("REGULAR", "LUXURY"): "The layout for regular shoppers who usually buy luxury",
    ("POWER", None): "The layout for frequent shoppers",
    ("POWER", "BUDGET"): "The layout for frequent shoppers who usually buy budget",
    ("POWER", "MID"): "The layout for frequent shoppers who usually buy mid-range",
    ("POWER", "LUXURY"): "The layout for frequent shoppers who usually buy luxury",
    (None, "BUDGET"): "The layout for shoppers who usually buy budget",
    (None, "MID"): "The layout for shoppers who usually buy mid-range",
    (None, "LUXURY"): "The layout for shoppers who usually buy luxury",
}
RULE_TEXT_OTHER = "The layout for shoppers like you"  # a tag value this version does not know
RULE_CRITERIA = {
    "experience": {
        "NEWBIE": "experience NEWBIE",
        "REGULAR": "experience REGULAR",
        "POWER": "experience POWER",
    },
    "price_tier": {"BUDGET": "price tier BUDGET", "MID": "price tier MID", "LUXURY": "price tier LUXURY"},
}


def _tag_text(rule: LayoutRule) -> tuple[str, tuple[str, ...]]:
    """The why of a layout rule: the tag combination it is for, never the person's values."""
    text = RULE_TEXTS.get((rule.experience, rule.price_tier), RULE_TEXT_OTHER)
    criteria: list[str] = []
    if rule.experience in RULE_CRITERIA["experience"]:
        criteria.append(RULE_CRITERIA["experience"][rule.experience])
    if rule.price_tier in RULE_CRITERIA["price_tier"]:
        criteria.append(RULE_CRITERIA["price_tier"][rule.price_tier])
    return text, tuple(criteria)


def _tags_for_rules(tags: Tags) -> tuple[str | None, str | None]:
    """The tags a layout rule may match on: only those decided from the person's activity."""
    experience = tags.experience.value if tags.experience_record.mode is Mode.PERSONALIZED else None
    tier = tags.price_tier.value if tags.price_tier_record.mode is Mode.PERSONALIZED else None
    return experience, tier


def _decided_sections(
    b: _Builder,
    exp: Enrollment | None,
    rule: LayoutRule | None,
    rule_exp: Enrollment | None = None,
) -> tuple[Choice, ...] | None:
    """The sections an experiment's variant or a layout rule decides; None: neither does."""
    if exp is not None and not exp.is_control:
        text = "The sections this variant of the experiment tests"
        return tuple(
            Choice(key, b.record(f"section:{key}", ReasonCode.EDITORIAL, text, True, rank, experiment=exp))
            for rank, key in enumerate(exp.variant.value["sections"], start=1)
        )
    if rule is not None and rule.sections is not None:
        text, criteria = _tag_text(rule)
        return tuple(
            Choice(
                key,
                b.record(
                    f"section:{key}",
                    ReasonCode.EXPERIENCE,
                    text,
                    True,
                    rank,
                    criteria,
                    experiment=rule_exp,
                    rule=rule,
                ),
            )
            for rank, key in enumerate(rule.sections, start=1)
        )
    return None


def _sections(
    b: _Builder,
    tags: Tags,
    features: Mapping[str, int],
    cfg: LayoutConfig,
    custom: Customization,
    exp: Enrollment | None = None,
    rule: LayoutRule | None = None,
    rule_exp: Enrollment | None = None,
) -> tuple[Choice, ...]:
    """The person's own layout choice first (it wins over experiments and rules alike), then an
    experiment's variant, a layout rule, the deployed settings; pinned and hidden sections last."""
    personalized = tags.experience_record.mode is Mode.PERSONALIZED
    if custom.layout is LayoutChoice.SIMPLE:
        summary = text("custom.layout.simple")
        chosen = tuple(
            Choice(key, b.stated(f"section:{key}", summary, custom, rank))
            for rank, key in enumerate(cfg.newbie_sections, start=1)
        )
        return _pin_and_hide(b, chosen, custom)
    if custom.layout is LayoutChoice.FULL:
        # The full layout whatever the experience tag says; a power user's most-used features
        # still come first (that part was inferred, and says so).
        inferred = _inferred_sections(b, tags, features, cfg, newbie_allowed=False)
        summary = text("custom.layout.full")
        chosen = tuple(
            c
            if c.record.reasons[0].code is ReasonCode.MOST_USED_FEATURE
            else Choice(c.key, b.stated(f"section:{c.key}", summary, custom, c.record.rank))
            for c in inferred
        )
        return _pin_and_hide(b, chosen, custom)
    decided = _decided_sections(b, exp, rule, rule_exp)
    if decided is not None:
        return _pin_and_hide(b, decided, custom)
    return _pin_and_hide(b, _inferred_sections(b, tags, features, cfg, newbie_allowed=personalized), custom)


def _pin_and_hide(b: _Builder, sections: tuple[Choice, ...], custom: Customization) -> tuple[Choice, ...]:
    """Hidden sections left out, pinned ones first in the person's order (added when the layout
    did not have them); every section ranked again in the final order."""
    if not (custom.pinned or custom.hidden):
        return sections
    pinned = [
        Choice(key, b.stated(f"section:{key}", text("custom.section.pinned"), custom))
        for key in custom.pinned
        if key not in custom.hidden
    ]
    rest = [c for c in sections if c.key not in custom.hidden and c.key not in custom.pinned]
    return tuple(
        Choice(c.key, replace(c.record, rank=rank), c.enabled, c.count)
        for rank, c in enumerate([*pinned, *rest], start=1)
    )


def _inferred_sections(
    b: _Builder, tags: Tags, features: Mapping[str, int], cfg: LayoutConfig, newbie_allowed: bool
) -> tuple[Choice, ...]:
    personalized = tags.experience_record.mode is Mode.PERSONALIZED
    if newbie_allowed and personalized and tags.experience is Experience.NEWBIE:
        text = "A simpler layout while you are new here"
        return tuple(
            Choice(key, b.record(f"section:{key}", ReasonCode.EXPERIENCE, text, True, rank))
            for rank, key in enumerate(cfg.newbie_sections, start=1)
        )
    promoted: list[str] = []
    if personalized and tags.experience is Experience.POWER:
        used = [(n, f) for f, n in features.items() if f in cfg.feature_sections and n > 0]
        promoted = [f for _, f in sorted(used, key=lambda t: (-t[0], t[1]))]
    order = promoted + [s for s in cfg.default_sections if s not in promoted]
    out: list[Choice] = []
    for rank, key in enumerate(order, start=1):
        if key in promoted:
            rec = b.record(
                f"section:{key}",
                ReasonCode.MOST_USED_FEATURE,
                "One of the features you use most, so it comes first",
                True,
                rank,
                ("among your most-used features",),
            )
        elif personalized:
            rec = b.record(
                f"section:{key}",
                ReasonCode.EXPERIENCE,
                "Standard section for how you use the app",
                True,
                rank,
            )
        else:
            rec = b.record(
                f"section:{key}",
                ReasonCode.EDITORIAL,
                "Standard layout, not based on your activity",
                False,
                rank,
            )
        out.append(Choice(key, rec))
    return tuple(out)


def _offers(
    b: _Builder,
    tags: Tags,
    cfg: LayoutConfig,
    exp: Enrollment | None,
    rule: LayoutRule | None,
    rule_exp: Enrollment | None = None,
) -> Choice:
    if exp is not None and not exp.is_control:
        count = int(exp.variant.value["count"])
        text = f"The number of offers this variant of the experiment tests: {count}"
        return Choice(
            "offers", b.record("offers", ReasonCode.EDITORIAL, text, True, experiment=exp), count=count
        )
    if rule is not None and rule.offer_count is not None:
        text, criteria = _tag_text(rule)
        code = ReasonCode.PRICE_TIER if rule.price_tier else ReasonCode.EXPERIENCE
        record = b.record("offers", code, text, True, criteria=criteria, experiment=rule_exp, rule=rule)
        return Choice("offers", record, count=rule.offer_count)
    count = cfg.offers_by_tier.get(tags.price_tier.value, cfg.offers_by_tier.get("MID", 2))
    if tags.price_tier_record.mode is Mode.PERSONALIZED:
        text = "How many offers to show, chosen from the price range you usually buy in"
        return Choice("offers", b.record("offers", ReasonCode.PRICE_TIER, text, True), count=count)
    text = "The standard number of offers, not based on your activity"
    return Choice("offers", b.record("offers", ReasonCode.EDITORIAL, text, False), count=count)


def _experience_flag(b: _Builder, key: str, tags: Tags, on_for: Experience, on: str, off: str) -> Choice:
    personalized = tags.experience_record.mode is Mode.PERSONALIZED
    if not personalized:
        text = "Standard setting, not based on your activity"
        return Choice(key, b.record(f"flag:{key}", ReasonCode.EDITORIAL, text, False), enabled=False)
    enabled = tags.experience is on_for
    return Choice(
        key, b.record(f"flag:{key}", ReasonCode.EXPERIENCE, on if enabled else off, True), enabled=enabled
    )


def _custom_flags(b: _Builder, flags: tuple[Choice, ...], custom: Customization) -> tuple[Choice, ...]:
    """The layout choice decides the tips (on in the simple layout, off in the full one) and, in
    the simple layout, turns the shortcuts off."""
    if custom.layout is None:
        return flags
    simple = custom.layout is LayoutChoice.SIMPLE
    out: list[Choice] = []
    for f in flags:
        if f.key == "onboarding_tips":
            summary = text("custom.flag.simple" if simple else "custom.flag.full")
            out.append(Choice(f.key, b.stated(f"flag:{f.key}", summary, custom), enabled=simple))
        elif f.key == "quick_actions" and simple:
            summary = text("custom.flag.quick_actions_simple")
            out.append(Choice(f.key, b.stated(f"flag:{f.key}", summary, custom), enabled=False))
        else:
            out.append(f)
    return tuple(out)


def _appearance(b: _Builder, custom: Customization) -> Choice:
    if custom.appearance_chosen:
        return Choice("appearance", b.stated("appearance", text("custom.appearance.stated"), custom))
    summary = text("custom.appearance.default")
    return Choice("appearance", b.record("appearance", ReasonCode.EDITORIAL, summary, False))


def _flags(b: _Builder, tags: Tags, platform: str) -> tuple[Choice, ...]:
    native = platform in ("ios", "android")
    context = b.record(
        "flag:native_share",
        ReasonCode.CONTEXT,
        "Available in the mobile apps" if native else "Not available on the web",
        False,
    )
    return (
        _experience_flag(
            b,
            "onboarding_tips",
            tags,
            Experience.NEWBIE,
            "Tips are shown while you are new here",
            "Tips are off once you know your way around",
        ),
        _experience_flag(
            b,
            "quick_actions",
            tags,
            Experience.POWER,
            "Shortcuts to the features you use most",
            "Shortcuts are for frequent users",
        ),
        # Depends on the request's platform only, never on the user.
        Choice(
            "native_share",
            replace(context, mode=Mode.CONTEXTUAL, signal_sources=(SignalSource.CONTEXT,)),
            enabled=native,
        ),
    )


def evaluate_layout(
    tags: Tags,
    features: Mapping[str, int],
    cfg: LayoutConfig,
    consent: ConsentSnapshot,
    now: datetime,
    config_version: int,
    platform: str,
    custom: Customization | None = None,
    sections_experiment: Enrollment | None = None,
    offers_experiment: Enrollment | None = None,
    rule_set: LayoutRuleSet = NO_RULES,
    rules_experiment: Enrollment | None = None,
) -> Layout:
    """The layout. What decides, first to last: what the person chose for themself (`custom`);
    an experiment's variant (never control) for the
    sections or the offer count it varies, naming the experiment; the most specific layout rule
    for the person's tag combination (resolvers/layout/rulesets.py); the deployed settings."""
    b = _Builder(consent, now, config_version)
    chosen = custom or Customization()
    from_experiment = rules_experiment is not None and not rules_experiment.is_control
    if from_experiment:
        assert rules_experiment is not None
        rule_set = LayoutRuleSet.of(0, config_version, rules_experiment.variant.value["rules"])
    section_rule, offer_rule = rule_set.match(*_tags_for_rules(tags))
    rule_exp = rules_experiment if from_experiment else None
    return Layout(
        config_version=config_version,
        tags=tags,
        sections=_sections(b, tags, features, cfg, chosen, sections_experiment, section_rule, rule_exp),
        offers=_offers(b, tags, cfg, offers_experiment, offer_rule, rule_exp),
        flags=_custom_flags(b, _flags(b, tags, platform), chosen),
        appearance=_appearance(b, chosen),
        customization=chosen,
    )
