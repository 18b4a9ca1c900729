"""Experiments, pure: the definition and its validation, and GrowthBook's deterministic assignment.

Assignment writes nothing and reads nothing: the variant is a function of (experiment seed,
pseudonymous user id) only, hashed exactly as GrowthBook's SDKs do (hash version 2: FNV-1a 32 of
FNV-1a 32 of seed + id, modulo 10,000, so every worker, device and retry agrees). An experiment
in a namespace takes the users whose namespace hash (version 1, seed "__<namespace>") falls in
its range; ranges of experiments in one namespace never overlap, so two tests of one surface
never share a user. What is frozen once an experiment started (seed, namespace, range, variants
and their weights, surface) cannot be edited, so stopping or editing never reshuffles anyone:
stopping sends everyone to control, starting again gives everyone their old variant back."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from resolvers.common.errors import FieldError
from resolvers.explain.record import Control, ControlKind, Reason, ReasonCode, RuleRef
from resolvers.model.controls import EXPERIMENTS_TARGET
from resolvers.model.layout_rules import validate as validate_layout_rules

KEY = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
VARIANT_KEY = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
CONTROL = "control"
MAX_VARIANTS = 8
MAX_TEXT = 2000
# Feed weights an experiment may set, with their bounds (resolvers/feed/config.py FeedWeights).
FEED_WEIGHT_BOUNDS: dict[str, tuple[float, float]] = {
    "affinity": (0.0, 10.0),
    "complement": (0.0, 10.0),
    "repurchase": (0.0, 10.0),
    "popularity": (0.0, 10.0),
    "price_fit": (0.0, 10.0),
    "search": (0.0, 10.0),
}
MAX_OFFER_COUNT = 10
MAX_SECTIONS = 12


class Surface(StrEnum):
    """What an experiment varies."""

    LAYOUT_SECTIONS = "LAYOUT_SECTIONS"
    OFFER_COUNT = "OFFER_COUNT"
    FEED_WEIGHTS = "FEED_WEIGHTS"
    OFFER_CHOICE = "OFFER_CHOICE"
    LAYOUT_RULES = "LAYOUT_RULES"


# Offers are marketing: minors are never enrolled in experiments on them.
MARKETING_SURFACES = frozenset({Surface.OFFER_COUNT, Surface.OFFER_CHOICE})
MAX_CHOICE_OFFERS = 5


class Metric(StrEnum):
    CONVERSION = "CONVERSION"  # a purchase after the first exposure
    OFFER_CLICK_THROUGH = "OFFER_CLICK_THROUGH"  # an offer_click after the first exposure
    OFFER_REDEMPTION = "OFFER_REDEMPTION"  # an offer_redemption after the first exposure
    REVENUE_PER_USER = "REVENUE_PER_USER"  # purchase cents after exposure, clamped per user
    SESSIONS_PER_USER = "SESSIONS_PER_USER"  # session_start events after exposure, clamped per user


# Binary metrics: each user contributes 0 or 1. The others are sums clamped per user.
BINARY = frozenset({Metric.CONVERSION, Metric.OFFER_CLICK_THROUGH, Metric.OFFER_REDEMPTION})


class Status(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Variant:
    key: str
    weight: int  # percent of the experiment's users; the weights sum to 100
    value: Mapping[str, Any]  # what it sets on the surface; {} for control


@dataclass(frozen=True, slots=True)
class Targeting:
    segment_id: int | None = None
    experience: str | None = None  # a layout tag (NEWBIE, REGULAR, POWER)
    price_tier: str | None = None  # a layout tag (BUDGET, MID, LUXURY)
    platforms: tuple[str, ...] = ()  # empty: every platform

    @property
    def needs_tags(self) -> bool:
        return self.experience is not None or self.price_tier is not None


@dataclass(frozen=True, slots=True)
class Definition:
    key: str
    name: str  # the public name a `why` shows
    hypothesis: str
    surface: Surface
    variants: tuple[Variant, ...]
    namespace: str
    range_start: float
    range_end: float
    targeting: Targeting
    primary_metric: Metric
    guardrail_metrics: tuple[Metric, ...]
    revenue_clamp_cents: int | None
    sessions_clamp: int | None
    seed: str

    @property
    def marketing(self) -> bool:
        return self.surface in MARKETING_SURFACES

    @property
    def competing_offers(self) -> frozenset[int]:
        """OFFER_CHOICE: every offer some variant shows (a variant hides the others of these)."""
        return frozenset(i for v in self.variants for i in v.value.get("offerIds", ()))

    @property
    def metrics(self) -> tuple[Metric, ...]:
        return (self.primary_metric, *(m for m in self.guardrail_metrics if m is not self.primary_metric))

    def frozen_part(self) -> tuple[Any, ...]:
        """What may not change once the experiment ran: changing it would reshuffle users."""
        return (
            self.surface,
            tuple((v.key, v.weight, tuple(sorted(v.value.items(), key=str))) for v in self.variants),
            self.namespace,
            self.range_start,
            self.range_end,
            self.seed,
            self.revenue_clamp_cents,
            self.sessions_clamp,
        )

    def to_json(self) -> dict[str, Any]:
        t = self.targeting
        return {
            "key": self.key,
            "name": self.name,
            "hypothesis": self.hypothesis,
            "surface": self.surface.value,
            "variants": [{"key": v.key, "weight": v.weight, "value": dict(v.value)} for v in self.variants],
            "namespace": self.namespace,
            "range": [self.range_start, self.range_end],
            "targeting": {
                "segment_id": t.segment_id,
                "experience": t.experience,
                "price_tier": t.price_tier,
                "platforms": list(t.platforms),
            },
            "primary_metric": self.primary_metric.value,
            "guardrail_metrics": [m.value for m in self.guardrail_metrics],
            "revenue_clamp_cents": self.revenue_clamp_cents,
            "sessions_clamp": self.sessions_clamp,
            "seed": self.seed,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Definition:
        t = d["targeting"]
        return cls(
            key=d["key"],
            name=d["name"],
            hypothesis=d["hypothesis"],
            surface=Surface(d["surface"]),
            variants=tuple(Variant(v["key"], int(v["weight"]), dict(v["value"])) for v in d["variants"]),
            namespace=d["namespace"],
            range_start=float(d["range"][0]),
            range_end=float(d["range"][1]),
            targeting=Targeting(
                t.get("segment_id"), t.get("experience"), t.get("price_tier"), tuple(t.get("platforms") or ())
            ),
            primary_metric=Metric(d["primary_metric"]),
            guardrail_metrics=tuple(Metric(m) for m in d["guardrail_metrics"]),
            revenue_clamp_cents=d.get("revenue_clamp_cents"),
            sessions_clamp=d.get("sessions_clamp"),
            seed=d["seed"],
        )


@dataclass(frozen=True, slots=True)
class Experiment:
    """A live experiment (running) at its current version, as every worker caches it."""

    experiment_id: int
    version: int
    status: Status
    definition: Definition


@dataclass(frozen=True, slots=True)
class Enrollment:
    """A person's variant of one running experiment, as a surface applies it."""

    experiment: Experiment
    variant: Variant

    @property
    def is_control(self) -> bool:
        return self.variant.key == CONTROL

    @property
    def reason(self) -> Reason:
        """The reason a `why` shows for what this variant changed."""
        d = self.experiment.definition
        text = f"Part of the experiment “{d.name}” (variant {self.variant.key})"
        return Reason(ReasonCode.EXPERIMENT, text, 1.0)

    @property
    def control(self) -> Control:
        """The working control that leaves every experiment (applyControl LEAVE_EXPERIMENTS)."""
        return Control(ControlKind.LEAVE_EXPERIMENTS, "Leave all experiments", target=EXPERIMENTS_TARGET)

    @property
    def rule(self) -> RuleRef:
        return RuleRef("experiment", self.experiment.definition.key, self.experiment.version)


# --- hashing (GrowthBook's, so results agree with its SDKs) -------------------------------------


def fnv1a32(text: str) -> int:
    h = 0x811C9DC5
    for b in text.encode():
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def gb_hash(seed: str, value: str, version: int = 2) -> float:
    """GrowthBook's `hash(seed, value, version)`: a number in [0, 1)."""
    if version == 2:
        return (fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000
    return (fnv1a32(value + seed) % 1000) / 1000


def in_namespace(user: str, namespace: str, start: float, end: float) -> bool:
    n = gb_hash("__" + namespace, user, 1)
    return start <= n < end


def bucket_ranges(weights: Sequence[int]) -> list[tuple[float, float]]:
    """GrowthBook's getBucketRanges with full coverage: consecutive ranges of [0, 1)."""
    total = sum(weights)
    out: list[tuple[float, float]] = []
    cumulative = 0.0
    for w in weights:
        start = cumulative
        cumulative += w / total
        out.append((start, cumulative))
    return out


def choose_variant(n: float, ranges: Sequence[tuple[float, float]]) -> int:
    for i, (start, end) in enumerate(ranges):
        if start <= n < end:
            return i
    return len(ranges) - 1 if n >= ranges[-1][0] else -1  # rounding at the top edge


def pseudonym(user_id: int, salt: str) -> str:
    """The pseudonymous id experiments hash: no experiment, log or result holds the user id."""
    return hashlib.sha256(f"{salt}:{user_id}".encode()).hexdigest()[:20]


def assign(d: Definition, user: str) -> Variant | None:
    """The variant of `user` (a pseudonym), or None outside the experiment's namespace range."""
    if not in_namespace(user, d.namespace, d.range_start, d.range_end):
        return None
    i = choose_variant(gb_hash(d.seed, user, 2), bucket_ranges([v.weight for v in d.variants]))
    return d.variants[i] if i >= 0 else None


# --- validation ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SurfaceVocabulary:
    """What a variant may name: the layout's known sections (public configuration)."""

    sections: frozenset[str]
    offers: frozenset[int] = frozenset()  # live offers (OFFER_CHOICE)


def _variant_value(
    surface: Surface, raw: Any, path: str, vocab: SurfaceVocabulary, errors: list[FieldError]
) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        errors.append(FieldError(field=path, message="must be an object"))
        return {}
    if surface is Surface.OFFER_COUNT:
        if set(raw) != {"count"}:
            errors.append(FieldError(field=path, message='expected {"count": <0..10>}'))
            return {}
        count = raw["count"]
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_OFFER_COUNT:
            errors.append(
                FieldError(field=f"{path}.count", message=f"must be an integer 0..{MAX_OFFER_COUNT}")
            )
            return {}
        return {"count": count}
    if surface is Surface.LAYOUT_RULES:
        if set(raw) != {"rules"}:
            errors.append(
                FieldError(field=path, message='expected {"rules": [layout rules per tag combination]}')
            )
            return {}
        parsed, problems = validate_layout_rules(raw["rules"], vocab.sections, prefix=f"{path}.rules")
        errors.extend(problems)
        if not parsed and not problems:
            errors.append(FieldError(field=f"{path}.rules", message="give at least one rule"))
        return {"rules": [r.to_json() for r in parsed]}
    if surface is Surface.OFFER_CHOICE:
        ids = raw.get("offerIds") if set(raw) == {"offerIds"} else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_CHOICE_OFFERS:
            errors.append(
                FieldError(
                    field=path, message=f'expected {{"offerIds": [1 to {MAX_CHOICE_OFFERS} offer ids]}}'
                )
            )
            return {}
        chosen: list[int] = []
        for j, raw_id in enumerate(ids):
            try:
                offer_id = int(raw_id) if not isinstance(raw_id, bool) else -1
            except (TypeError, ValueError):
                offer_id = -1
            if offer_id not in vocab.offers:
                errors.append(FieldError(field=f"{path}.offerIds[{j}]", message="no such live offer"))
            chosen.append(offer_id)
        if len(set(chosen)) != len(chosen):
            errors.append(FieldError(field=f"{path}.offerIds", message="an offer appears twice"))
        return {"offerIds": chosen}
    if surface is Surface.LAYOUT_SECTIONS:
        if set(raw) != {"sections"}:
            errors.append(FieldError(field=path, message='expected {"sections": ["home_feed", ...]}'))
            return {}
        sections = raw["sections"]
        if not isinstance(sections, list) or not 1 <= len(sections) <= MAX_SECTIONS:
            errors.append(FieldError(field=f"{path}.sections", message=f"give 1 to {MAX_SECTIONS} sections"))
            return {}
        for j, s in enumerate(sections):
            if not isinstance(s, str) or s not in vocab.sections:
                errors.append(
                    FieldError(
                        field=f"{path}.sections[{j}]",
                        message="not a known section: " + ", ".join(sorted(vocab.sections)),
                    )
                )
        if len(set(map(str, sections))) != len(sections):
            errors.append(FieldError(field=f"{path}.sections", message="a section appears twice"))
        return {"sections": [str(s) for s in sections]}
    # FEED_WEIGHTS
    if set(raw) != {"weights"} or not isinstance(raw["weights"], Mapping) or not raw["weights"]:
        errors.append(FieldError(field=path, message='expected {"weights": {"popularity": 1.0, ...}}'))
        return {}
    out: dict[str, float] = {}
    for name, value in raw["weights"].items():
        bounds = FEED_WEIGHT_BOUNDS.get(name)
        if bounds is None:
            errors.append(
                FieldError(
                    field=f"{path}.weights.{name}"[:200],
                    message="not a feed weight: " + ", ".join(sorted(FEED_WEIGHT_BOUNDS)),
                )
            )
            continue
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or not bounds[0] <= float(value) <= bounds[1]:
            errors.append(
                FieldError(
                    field=f"{path}.weights.{name}", message=f"must be a number {bounds[0]}..{bounds[1]}"
                )
            )
            continue
        out[name] = float(value)
    return {"weights": out}


def _text(raw: Any, field: str, lo: int, hi: int, errors: list[FieldError]) -> str:
    if not isinstance(raw, str) or not lo <= len(raw.strip()) <= hi or "\x00" in raw:
        errors.append(FieldError(field=field, message=f"must be {lo} to {hi} characters"))
        return ""
    return raw.strip()


def validate(
    raw: Mapping[str, Any],
    vocab: SurfaceVocabulary,
    live_segments: frozenset[int],
) -> tuple[Definition | None, list[FieldError]]:
    """A definition from a marketer's input (already typed by GraphQL: enums, ints, floats), or
    every problem by field. Nothing about other experiments is checked here (see `overlaps`)."""
    errors: list[FieldError] = []
    key = raw.get("key")
    if not isinstance(key, str) or not KEY.fullmatch(key):
        errors.append(
            FieldError(
                field="key", message="lowercase letters, digits and _, starting with a letter (max 60)"
            )
        )
        key = ""
    name = _text(raw.get("name"), "name", 1, 80, errors)
    hypothesis = _text(raw.get("hypothesis"), "hypothesis", 1, MAX_TEXT, errors)
    surface = Surface(raw["surface"])
    namespace = raw.get("namespace")
    if not isinstance(namespace, str) or not KEY.fullmatch(namespace):
        errors.append(
            FieldError(field="namespace", message="lowercase letters, digits and _, starting with a letter")
        )
        namespace = ""
    start, end = raw.get("rangeStart", 0.0), raw.get("rangeEnd", 1.0)
    if not (math.isfinite(start) and math.isfinite(end) and 0.0 <= start < end <= 1.0):
        errors.append(
            FieldError(field="rangeEnd", message="the namespace range needs 0 <= rangeStart < rangeEnd <= 1")
        )
    variants: list[Variant] = []
    raw_variants = list(raw.get("variants") or [])
    if not 2 <= len(raw_variants) <= MAX_VARIANTS:
        errors.append(
            FieldError(field="variants", message=f"give 2 to {MAX_VARIANTS} variants, control first")
        )
    seen: set[str] = set()
    for i, rv in enumerate(raw_variants[:MAX_VARIANTS]):
        vkey = rv.get("key")
        path = f"variants[{i}]"
        if not isinstance(vkey, str) or not VARIANT_KEY.fullmatch(vkey):
            errors.append(FieldError(field=f"{path}.key", message="lowercase letters, digits and _ (max 30)"))
            vkey = f"?{i}"
        elif vkey in seen:
            errors.append(FieldError(field=f"{path}.key", message="variant keys must differ"))
        seen.add(vkey)
        weight = rv.get("weight")
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 100:
            errors.append(FieldError(field=f"{path}.weight", message="an integer percentage 1..100"))
            weight = 0
        if i == 0:
            if vkey != CONTROL:
                errors.append(FieldError(field=f"{path}.key", message="the first variant is 'control'"))
            if rv.get("value") not in (None, {}):
                errors.append(
                    FieldError(field=f"{path}.value", message="control is the standard experience: no value")
                )
            value: dict[str, Any] = {}
        else:
            if vkey == CONTROL:
                errors.append(FieldError(field=f"{path}.key", message="only the first variant is control"))
            value = _variant_value(surface, rv.get("value"), f"{path}.value", vocab, errors)
        variants.append(Variant(vkey, weight, value))
    if len(raw_variants) >= 2 and all(v.weight for v in variants) and sum(v.weight for v in variants) != 100:
        errors.append(FieldError(field="variants", message="the weights must add up to 100"))
    t = raw.get("targeting") or {}
    segment_id = t.get("segmentId")
    if segment_id is not None:
        try:
            segment_id = int(segment_id)
        except (TypeError, ValueError):
            segment_id = -1
        if segment_id not in live_segments:
            errors.append(FieldError(field="targeting.segmentId", message="no such live segment"))
    platforms = tuple(sorted({str(p) for p in t.get("platforms") or ()}))
    targeting = Targeting(segment_id, t.get("experience"), t.get("priceTier"), platforms)
    primary = Metric(raw["primaryMetric"])
    guardrails = tuple(dict.fromkeys(Metric(m) for m in raw.get("guardrailMetrics") or ()))
    if primary in guardrails:
        errors.append(
            FieldError(field="guardrailMetrics", message="the primary metric is not also a guardrail")
        )
    metrics = {primary, *guardrails}
    revenue_clamp = raw.get("revenueClampCents")
    if Metric.REVENUE_PER_USER in metrics:
        if not isinstance(revenue_clamp, int) or not 1 <= revenue_clamp <= 10_000_000:
            errors.append(
                FieldError(
                    field="revenueClampCents",
                    message="REVENUE_PER_USER needs a declared clamp, 1..10,000,000 cents per user",
                )
            )
    elif revenue_clamp is not None:
        errors.append(FieldError(field="revenueClampCents", message="only with the REVENUE_PER_USER metric"))
        revenue_clamp = None
    sessions_clamp = raw.get("sessionsClamp")
    if Metric.SESSIONS_PER_USER in metrics:
        if not isinstance(sessions_clamp, int) or not 1 <= sessions_clamp <= 1000:
            errors.append(
                FieldError(field="sessionsClamp", message="SESSIONS_PER_USER needs a declared clamp, 1..1000")
            )
    elif sessions_clamp is not None:
        errors.append(FieldError(field="sessionsClamp", message="only with the SESSIONS_PER_USER metric"))
        sessions_clamp = None
    seed = raw.get("seed") or key
    if not isinstance(seed, str) or not 1 <= len(seed) <= 60 or "\x00" in seed:
        errors.append(FieldError(field="seed", message="1 to 60 characters"))
    if errors:
        return None, errors
    return (
        Definition(
            key=key,
            name=name,
            hypothesis=hypothesis,
            surface=surface,
            variants=tuple(variants),
            namespace=namespace,
            range_start=float(start),
            range_end=float(end),
            targeting=targeting,
            primary_metric=primary,
            guardrail_metrics=guardrails,
            revenue_clamp_cents=revenue_clamp,
            sessions_clamp=sessions_clamp,
            seed=seed,
        ),
        [],
    )


def overlaps(d: Definition, others: Sequence[tuple[Status, Definition]]) -> list[FieldError]:
    """Mutual exclusion: experiments on one surface share a namespace and their ranges are
    disjoint, so no user is ever in two tests of one surface (stopped ones keep their range:
    starting them again must not overlap either)."""
    errors: list[FieldError] = []
    for _status, o in others:
        if o.key == d.key:
            continue
        if o.surface is d.surface and o.namespace != d.namespace:
            errors.append(
                FieldError(
                    field="namespace",
                    message=f"experiments on {d.surface.value} share one namespace: '{o.namespace}' "
                    f"(experiment '{o.key}')",
                )
            )
        elif o.namespace == d.namespace and d.range_start < o.range_end and o.range_start < d.range_end:
            errors.append(
                FieldError(
                    field="rangeStart",
                    message=f"overlaps experiment '{o.key}' in namespace '{d.namespace}' "
                    f"([{o.range_start}, {o.range_end}))",
                )
            )
    return errors
