"""Purchase propensity: the one feature spec shared by training and scoring, the model as it
serves, and the decision (score, "likely to buy soon", why) the user model makes from them.

The spec reads only a `SignalSnapshot`: the per-user rollups, in which sensitive items and
searches were left out when they were computed (so no feature can carry them). Each feature is
clipped to its declared bounds and scaled to [-0.5, 0.5]; a feature vector's L2 norm is therefore
at most sqrt(len(FEATURES)) / 2, the `data_norm` declared to diffprivlib at training. Training builds the
same snapshots as of its cut-off (jobs/propensity.py) and calls the same `feature_vector`, so the
two cannot drift; a model stores the spec version it was trained with and is not served under
another.

Everything here is pure and allocation-light: scoring is a dot product of ~10 floats per request.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from privacy.consent import ConsentSnapshot
from privacy.i18n import fill
from privacy.purposes import PROFILING, Source
from privacy.vocabulary import DataCategory as C
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
from resolvers.model.reference import ReferenceKind
from resolvers.model.signals import SignalSnapshot
from sql import load_queries

Q = load_queries()
MODEL_NAME = "propensity"
PROPENSITY_KEY = "model:propensity"  # the inference's key (hideInference / applyControl HIDE)
SPEC_VERSION = 1


@dataclass(frozen=True, slots=True)
class Feature:
    """One declared feature: its bounds (the raw value is clipped to them), how it reads the
    snapshot, and the coarse words that name it to the person (never their value)."""

    name: str
    low: float
    high: float
    read: Callable[[SignalSnapshot, datetime], float]
    words: str  # "your recent visits": what pushed the score, in coarse words
    data_category: str
    inverted: bool = False  # smaller raw values mean more (recency): scaled as 1 - x
    log: bool = False  # counts and amounts: log(1 + x) / log(1 + high), so a typical person is not ~0
    _span: float = field(default=1.0, init=False, repr=False, compare=False)
    # Scaled to [-0.5, 0.5] (centred on the middle of the declared range): the norm bound diffprivlib
    # is given is half what [0, 1] would need, so half the noise for the same ε and the same signal.

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"feature {self.name}: low must be below high")
        span = math.log1p(self.high - self.low) if self.log else self.high - self.low
        object.__setattr__(self, "_span", span)

    def scale(self, raw: float) -> float:
        clipped = min(max(raw, self.low), self.high) - self.low
        x = (math.log1p(clipped) if self.log else clipped) / self._span
        return (0.5 - x) if self.inverted else (x - 0.5)


def _days_since_purchase(s: SignalSnapshot, now: datetime) -> float:
    if not s.purchased_items:
        return 365.0
    return max(0.0, (now - max(s.purchased_items.values())).total_seconds() / 86400)


def _days_since_seen(s: SignalSnapshot, now: datetime) -> float:
    return 365.0 if s.last_seen is None else max(0.0, (now - s.last_seen).total_seconds() / 86400)


def _top_share(s: SignalSnapshot, now: datetime) -> float:
    total = sum(s.category_affinity.values())
    return 0.0 if total <= 0 else max(s.category_affinity.values()) / total


# Spec version 1. Changing a feature, a bound or the order is a new SPEC_VERSION (models trained
# under another version are not served).
FEATURES: tuple[Feature, ...] = (
    Feature("recency_days", 0, 60, _days_since_seen, "how recently you visited", C.SESSIONS, inverted=True),
    Feature("sessions", 0, 50, lambda s, now: float(s.sessions), "how often you visit", C.SESSIONS, log=True),
    Feature(
        "purchase_recency_days",
        0,
        180,
        _days_since_purchase,
        "how recently you bought something",
        C.PURCHASES,
        inverted=True,
    ),
    Feature(
        "items_bought",
        0,
        10,
        lambda s, now: float(len(s.purchased_items)),
        "what you bought before",
        C.PURCHASES,
        log=True,
    ),
    Feature(
        "spend_90d_cents",
        0,
        100_000,
        lambda s, now: float(s.spend_since(now, 90)),
        "your spending in the last 90 days",
        C.PURCHASES,
        log=True,
    ),
    Feature(
        "cart_value_cents",
        0,
        50_000,
        lambda s, now: float(s.cart_value_cents),
        "what is in your cart",
        C.CART,
        log=True,
    ),
    Feature(
        "tenure_days",
        0,
        730,
        lambda s, now: float(s.tenure_days(now)),
        "how long you have been a member",
        C.SESSIONS,
        log=True,
    ),
    Feature(
        "affinity_total",
        0,
        400,
        lambda s, now: float(sum(s.category_affinity.values())),
        "the products you looked at",
        C.BROWSING,
        log=True,
    ),
    Feature("top_category_share", 0, 1, _top_share, "your interest in one kind of product", C.BROWSING),
)
FEATURE_NAMES = tuple(f.name for f in FEATURES)
DATA_NORM = math.sqrt(len(FEATURES)) / 2  # every scaled feature is in [-0.5, 0.5]


def feature_vector(signals: SignalSnapshot, now: datetime) -> tuple[float, ...]:
    """The scaled, clipped features of one person at `now` (spec SPEC_VERSION)."""
    return tuple(f.scale(f.read(signals, now)) for f in FEATURES)


@dataclass(frozen=True, slots=True)
class PropensityModel:
    """A stored model version as it serves: a logistic regression over the spec's features."""

    name: str
    version: int
    spec_version: int
    coefficients: tuple[float, ...]
    intercept: float
    threshold: float  # "likely to buy soon" at or above this probability (from the model card)
    horizon_days: int

    def probability(self, x: tuple[float, ...]) -> float:
        z = self.intercept
        for w, v in zip(self.coefficients, x, strict=True):
            z += w * v
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def contributions(self, x: tuple[float, ...]) -> list[tuple[Feature, float]]:
        """Each feature's push on the log-odds against a person in the middle of every declared
        range (the linear model's own terms), largest first, only those that pushed it up."""
        terms = [(f, w * v) for f, w, v in zip(FEATURES, self.coefficients, x, strict=True)]
        return sorted((t for t in terms if t[1] > 0), key=lambda t: -t[1])


def model_of(row: asyncpg.Record | dict[str, Any]) -> PropensityModel | None:
    """The serving form of a stored row; None when it was trained under another spec."""
    if row["spec_version"] != SPEC_VERSION or tuple(row["features"]) != FEATURE_NAMES:
        return None
    card = row["card"] if isinstance(row["card"], dict) else {}
    return PropensityModel(
        name=row["name"],
        version=int(row["version"]),
        spec_version=int(row["spec_version"]),
        coefficients=tuple(float(c) for c in row["coefficients"]),
        intercept=float(row["intercept"]),
        threshold=float(card.get("threshold", 0.5)),
        horizon_days=int(row["horizon_days"]),
    )


async def load_active_model(pool: asyncpg.Pool) -> PropensityModel | None:
    """The active version of the propensity model (reference data: a model holds no person's
    data, only coefficients); None when none is active or it was trained under another spec."""
    row = await pool.fetchrow(Q.active_model, MODEL_NAME)
    return None if row is None else model_of(row)


ACTIVE_MODEL = ReferenceKind[PropensityModel | None]("models", load_active_model)


def may_score(consent: ConsentSnapshot, hidden: frozenset[str]) -> bool:
    """A score is computed only when profiling may use activity to derive something about the
    person (level FULL, consent, not a minor...: the snapshot's rule) and they did not hide it."""
    return (
        consent.allows(PROFILING, Source.BEHAVIOURAL)
        and consent.allows(PROFILING, Source.DERIVED)
        and PROPENSITY_KEY not in hidden
    )


@dataclass(frozen=True, slots=True)
class Propensity:
    probability: float
    likely: bool  # "likely to buy soon"
    model_version: int
    record: DecisionRecord


TOP_CONTRIBUTIONS = 3


# The texts of a prediction, each a whole sentence (message ids of the catalogues): the signals
# that pushed it up are a list after a colon, so no language has to decline them.
REASON_PREFIX = "Counted towards the prediction: "
NO_REASON = "None of your signals pushed the prediction up"
SUMMARY = {
    True: "Our model (version {version}) predicts you are likely to buy soon",
    False: "Our model (version {version}) predicts you are not likely to buy soon",
}
CITED = {
    0: "Our model (version {version}) predicts you are likely to buy soon",
    1: "Our model (version {version}) predicts you are likely to buy soon, mostly because of: {first}",
    2: (
        "Our model (version {version}) predicts you are likely to buy soon, "
        "mostly because of: {first}; {second}"
    ),
    3: (
        "Our model (version {version}) predicts you are likely to buy soon, "
        "mostly because of: {first}; {second}; {third}"
    ),
}


def _words(p: Propensity) -> list[str]:
    return [r.text.removeprefix(REASON_PREFIX) for r in p.record.reasons if r.weight > 0]


def prediction_text(p: Propensity) -> str:
    """How a surface that used the prediction cites it: the version and the person's own
    coarse signals that pushed it up (never values, never anyone else's data)."""
    words = _words(p)[:TOP_CONTRIBUTIONS]
    names = dict(zip(("first", "second", "third"), words, strict=False))
    return fill(CITED[len(words)], {"version": p.model_version, **names})


def propensity_rule(p: Propensity) -> RuleRef:
    return RuleRef("model", MODEL_NAME, p.model_version)


def prediction_controls() -> tuple[Control, ...]:
    return (Control(ControlKind.HIDE, "Hide this prediction", target=PROPENSITY_KEY),)


def decide_propensity(
    model: PropensityModel, signals: SignalSnapshot, consent: ConsentSnapshot, now: datetime
) -> Propensity:
    """Score one person (the caller checked `may_score` before reading their signals) and say
    why in coarse words: which of their own signals pushed the score up, and which version."""
    x = feature_vector(signals, now)
    p = model.probability(x)
    likely = p >= model.threshold
    top = model.contributions(x)[:TOP_CONTRIBUTIONS]
    total = sum(c for _, c in top) or 1.0
    summary = fill(SUMMARY[likely], {"version": model.version})
    reasons = tuple(
        Reason(ReasonCode.MODEL_PREDICTION, REASON_PREFIX + f.words, round(c / total, 2)) for f, c in top
    ) or (Reason(ReasonCode.MODEL_PREDICTION, NO_REASON, 0.0),)
    record = DecisionRecord(
        surface="inferences",
        subject_kind="tag",
        subject_id=PROPENSITY_KEY,
        mode=Mode.PERSONALIZED,
        summary=summary,
        reasons=reasons,
        signal_sources=(SignalSource.MODEL_PREDICTION, SignalSource.YOUR_ACTIVITY_HERE),
        data_categories=tuple(dict.fromkeys([C.PURCHASE_PROPENSITY, *(f.data_category for f, _ in top)])),
        purposes=(PROFILING,),
        consent_snapshot_id=consent.snapshot_id,
        generated_at=now,
        rule=RuleRef("model", model.name, model.version),
        matched_criteria=tuple(f"Model version {model.version}; {f.words}" for f, _ in top),
        controls=prediction_controls(),
    )
    return Propensity(p, likely, model.version, record)
