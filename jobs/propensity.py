"""Training, storing, evaluating and rolling back the purchase-propensity model.

Training set: every user whose own consent snapshot lets `personalize.profiling` use activity
(privacy.snapshots.BatchGuard: level, minors, objection and consent decide; nobody else is read,
and each one read is audited), who joined before the cut-off. Features: the spec of
resolvers/model/propensity.py over their rollups as they stood at the cut-off
(`propensity_training_rows`, the rollup definition evaluated at a point in time; a test checks it
agrees with the live rollups). Label: a purchase of a non-sensitive item within the horizon after
the cut-off (PropensityConfig explains why overall rather than per category).

Privacy: diffprivlib's LogisticRegression (ε-DP, features scaled to [0, 1] so `data_norm` =
sqrt(#features)) plus a noisy training size (geometric mechanism) for the model card. The sum of
both ε is charged to the trainer's spender `model:propensity` on the audience dataset, through
`dp_charge`, in the same transaction that stores the model: the ledger is charged once, and only
when a model is stored (a crash stores nothing and charges nothing, a retry trains again).
"""

from __future__ import annotations

import itertools
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import numpy as np

from privacy.dp import ledger
from privacy.dp.mechanisms import NoiseSpec, release_counts
from privacy.principal import Principal, Role
from privacy.purposes import PROFILING, Source
from privacy.snapshots import BatchGuard
from resolvers.config import DomainConfig
from resolvers.model.config import PropensityConfig
from resolvers.model.propensity import (
    DATA_NORM,
    FEATURE_NAMES,
    FEATURES,
    MODEL_NAME,
    SPEC_VERSION,
    PropensityModel,
    feature_vector,
    model_of,
)
from resolvers.model.signals import parse_activity
from sql import load_queries

Q = load_queries()
log = logging.getLogger("gateway.jobs")
TRAINER = ledger.Spender("model:propensity", ledger.SpenderRole.MODEL)
TRAINING_TABLES = ("events", "users")
PAGE_USERS = 5000
_EMPTY_ACTIVITY: dict[str, Any] = {
    "price_level_counts": None,
    "cart_items": None,
    "cart_quantities": None,
    "cart_updated_at": None,
    "total_spend_cents": 0,
    "features": None,
    "feature_uses": None,
    "search_terms": None,
    "search_at": None,
}


@dataclass(frozen=True)
class TrainingSet:
    user_ids: np.ndarray
    x: np.ndarray  # (n, len(FEATURES)), every value in [0, 1]
    y: np.ndarray  # 1: bought within the horizon after the cut-off
    cutoff: datetime
    horizon_days: int
    skipped: int  # users whose consent does not allow profiling: not read

    def __len__(self) -> int:
        return len(self.y)


def snapshot_of(row: asyncpg.Record) -> Any:
    """The SignalSnapshot of a `propensity_training_rows` row (parsed as the live rollups are)."""
    return parse_activity({**_EMPTY_ACTIVITY, **dict(row)})


async def load_training_set(
    pool: asyncpg.Pool,
    cutoff: datetime,
    horizon_days: int,
    request_id: str,
    principal: Principal | None = None,
    page_users: int = PAGE_USERS,
) -> TrainingSet:
    principal = principal or Principal(Role.ADMIN, "train-model")
    ids: list[int] = []
    xs: list[tuple[float, ...]] = []
    ys: list[int] = []
    skipped = 0
    async for guard in BatchGuard.pages(pool, principal, request_id, page_users):
        page = guard.user_ids
        allowed = guard.allowed(page, PROFILING, Source.BEHAVIOURAL)
        skipped += len(page) - len(allowed)
        rows = await guard.fetch(
            Q.propensity_training_rows,
            allowed,
            cutoff,
            horizon_days,
            purpose=PROFILING,
            source=Source.BEHAVIOURAL,
            tables=TRAINING_TABLES,
        )
        await guard.flush()
        for row in rows:
            ids.append(row["user_id"])
            xs.append(feature_vector(snapshot_of(row), cutoff))
            ys.append(1 if row["label"] else 0)
    return TrainingSet(
        np.array(ids, dtype=np.int64),
        np.array(xs, dtype=float).reshape(-1, len(FEATURES)),
        np.array(ys, dtype=np.int64),
        cutoff,
        horizon_days,
        skipped,
    )


def _dp_logistic_regression(epsilon: float, c: float, max_iter: int, seed: int | None) -> Any:
    """diffprivlib's LogisticRegression, built without its constructor: diffprivlib 0.6.6 passes
    `multi_class` to scikit-learn's, which scikit-learn 1.8 no longer takes. `fit` (the private
    part: the vector mechanism in diffprivlib's own `_logistic_regression_path`) is diffprivlib's,
    untouched; only the attributes its constructor would have set are set here, to the same values."""
    from diffprivlib.accountant import BudgetAccountant
    from diffprivlib.models import LogisticRegression
    from sklearn.linear_model import LogisticRegression as Plain

    model = LogisticRegression.__new__(LogisticRegression)
    Plain.__init__(
        model, C=c, tol=1e-4, fit_intercept=True, random_state=seed, solver="lbfgs", max_iter=max_iter
    )
    model.epsilon = epsilon
    model.data_norm = DATA_NORM
    model.classes_ = None
    model.accountant = BudgetAccountant.load_default(None)
    return model


def fit_dp(x: np.ndarray, y: np.ndarray, config: PropensityConfig, epsilon: float, seed: int | None) -> Any:
    """diffprivlib's ε-DP logistic regression with the declared data_norm (features in [0, 1])."""
    import warnings

    model = _dp_logistic_regression(epsilon, config.c, config.max_iter, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the norm is guaranteed by the spec
        model.fit(x, y)
    return model


def fit_plain(x: np.ndarray, y: np.ndarray, config: PropensityConfig) -> Any:
    """The same model without privacy (evaluation and the benchmark only, never stored)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=config.c, max_iter=config.max_iter).fit(x, y)


def noisy_count(n: int, epsilon: float, seed: int | None) -> int:
    """The training size for the model card, released like every DP count (sensitivity 1)."""
    rng = np.random.RandomState(seed) if seed is not None else None
    spec = NoiseSpec(Decimal(str(epsilon)), 1)
    return int(release_counts([n], spec, _rng=rng)[0].value)


def holdout_mask(user_ids: np.ndarray, share: float) -> np.ndarray:
    """A fixed split by a hash of the id (the same users are held out on every run)."""
    h = (user_ids.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
    return (h.astype(float) / 2**32) < share


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (rank form, ties averaged); nan with one class only."""
    from sklearn.metrics import roc_auc_score

    if len(set(y.tolist())) < 2:
        return float("nan")
    return float(roc_auc_score(y, p))


def calibration(y: np.ndarray, p: np.ndarray, bins: int = 5) -> list[dict[str, Any]]:
    """Mean predicted probability against the observed rate, per probability bin."""
    out = []
    edges = np.linspace(0, 1, bins + 1)
    for lo, hi in itertools.pairwise(edges):
        m = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if m.sum():
            out.append(
                {
                    "bin": f"{lo:.1f}-{hi:.1f}",
                    "users": int(m.sum()),
                    "predicted": float(p[m].mean()),
                    "observed": float(y[m].mean()),
                }
            )
    return out


@dataclass(frozen=True)
class Trained:
    version: int
    epsilon: Decimal
    noisy_training_size: int
    cutoff: datetime
    charge_event: int
    remaining: Decimal | None


@dataclass(frozen=True)
class Refused:
    reason: str  # budget_exhausted | no_training_data | unknown_trainer
    detail: str


def default_cutoff(config: PropensityConfig, now: datetime) -> datetime:
    """The latest cut-off whose horizon has fully passed, at the start of a UTC day."""
    day = (now - timedelta(days=config.horizon_days)).astimezone(UTC)
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


async def train(
    pool: asyncpg.Pool,
    config: DomainConfig,
    actor: str,
    *,
    now: datetime | None = None,
    epsilon: float | None = None,
    request_id: str | None = None,
    seed: int | None = None,
    activate: bool = True,
) -> Trained | Refused:
    """Train on the consented users, charge the ledger and store (and activate) a new version,
    or refuse with nothing charged and nothing stored."""
    pc = config.propensity
    now = now or datetime.now(UTC)
    request_id = request_id or f"train-{uuid.uuid4()}"
    eps = float(epsilon if epsilon is not None else pc.epsilon)
    total = Decimal(str(eps)) + Decimal(str(pc.count_epsilon))
    dataset = config.dp.dataset
    left = await pool.fetchval(Q.model_budget_left, TRAINER.spender_id, dataset)
    if left is None:
        return Refused("unknown_trainer", f"no budget for {TRAINER.spender_id} on {dataset}")
    if left < total:
        return Refused("budget_exhausted", f"needs ε {total}, {left} left")
    cutoff = default_cutoff(pc, now)
    data = await load_training_set(pool, cutoff, pc.horizon_days, request_id)
    if len(data) == 0 or len(set(data.y.tolist())) < 2:
        return Refused(
            "no_training_data", f"{len(data)} consented users, labels {sorted(set(data.y.tolist()))}"
        )
    # The held-out users (a fixed hash split) never train: `gateway evaluate-model` scores them.
    train_rows = ~holdout_mask(data.user_ids, pc.holdout_share)
    x, y = data.x[train_rows], data.y[train_rows]
    if len(set(y.tolist())) < 2:
        return Refused("no_training_data", f"{len(y)} consented users outside the held-out split")
    model = fit_dp(x, y, pc, eps, seed)
    n_noisy = noisy_count(len(y), pc.count_epsilon, seed)
    card = {
        "purpose": "personalize.profiling",
        "label": f"a purchase of a non-sensitive item within {pc.horizon_days} days after the cut-off",
        "features": [
            {"name": f.name, "low": f.low, "high": f.high, "inverted": f.inverted, "means": f.words}
            for f in FEATURES
        ],
        "spec_version": SPEC_VERSION,
        "mechanism": "diffprivlib LogisticRegression (objective: vector mechanism), pure ε",
        "data_norm": DATA_NORM,
        "c": pc.c,
        "epsilon_model": eps,
        "epsilon_count": pc.count_epsilon,
        "delta": 0,
        "noisy_training_size": n_noisy,
        "cutoff": cutoff.isoformat(),
        "horizon_days": pc.horizon_days,
        "threshold": pc.likely_threshold,
        "training_set": "users whose consent allows personalize.profiling on activity, joined before the "
        "cut-off, less the held-out split",
        "holdout_share": pc.holdout_share,
        "created_by": actor,
        "created_at": now.isoformat(),
    }
    async with pool.acquire() as conn, conn.transaction():
        charge = await ledger.charge(
            conn, TRAINER, dataset, ledger.Cost(total, Decimal(0), total, Decimal(0)), request_id, [], (0, 0)
        )
        if not charge.charged:
            return Refused("budget_exhausted", f"ledger refused: {charge.outcome.value}")
        assert charge.event_id is not None
        row = await conn.fetchrow(
            *Q.store_model.bind(
                name=MODEL_NAME,
                spec_version=SPEC_VERSION,
                features=list(FEATURE_NAMES),
                coefficients=[float(c) for c in model.coef_[0]],
                intercept=float(model.intercept_[0]),
                epsilon=total,
                delta=Decimal(0),
                cutoff=cutoff,
                horizon_days=pc.horizon_days,
                noisy_training_size=n_noisy,
                charge_event=charge.event_id,
                card=card,
                created_by=actor,
            )
        )
        assert row is not None
        version = int(row["version"])
        if activate:
            await conn.fetchrow(Q.activate_model, MODEL_NAME, version, actor)
    log.info("model trained", extra={"job": "models.retrain", "version": version})
    return Trained(version, total, n_noisy, cutoff, charge.event_id, charge.remaining)


async def activate(pool: asyncpg.Pool, version: int, actor: str) -> tuple[int | None, int] | None:
    """Serve `version` (a rollback or roll-forward); (previous, version), None when unknown."""
    if await pool.fetchrow(Q.model_version, MODEL_NAME, version) is None:
        return None
    row = await pool.fetchrow(Q.activate_model, MODEL_NAME, version, actor)
    assert row is not None
    return row["previous"], row["version"]


async def rollback(pool: asyncpg.Pool, actor: str) -> tuple[int | None, int] | None:
    """Serve the version before the active one; None when there is none."""
    rows = await pool.fetch(Q.list_models, MODEL_NAME)
    active = next((r["version"] for r in rows if r["active"]), None)
    older = [r["version"] for r in rows if active is not None and r["version"] < active]
    if not older:
        return None
    return await activate(pool, max(older), actor)


async def versions(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch(Q.list_models, MODEL_NAME))


@dataclass(frozen=True)
class Evaluation:
    version: int
    train_users: int
    holdout_users: int
    holdout_positive_rate: float
    auc: float
    calibration: list[dict[str, Any]]


async def evaluate(pool: asyncpg.Pool, config: DomainConfig, version: int | None = None) -> Evaluation | None:
    """The stored model (active by default) on the held-out users (the fixed hash split that never
    trains) at its own cut-off: AUC and calibration. An operators' report, like the exact counts
    of `gateway refresh-segments`: nothing is charged and nothing reaches analysts or marketers."""
    rows = await versions(pool)
    row = next((r for r in rows if (r["version"] == version if version else r["active"])), None)
    if row is None:
        return None
    model = model_of(row)
    if model is None:
        return None
    cutoff = row["cutoff"]
    data = await load_training_set(pool, cutoff, model.horizon_days, f"evaluate-{uuid.uuid4()}")
    # The split the model was trained with (its card), so none of its training users is scored.
    share = float(row["card"].get("holdout_share", config.propensity.holdout_share))
    held = holdout_mask(data.user_ids, share)
    p = np.array([model.probability(tuple(x)) for x in data.x[held]])
    y = data.y[held]
    return Evaluation(
        model.version,
        int((~held).sum()),
        int(held.sum()),
        float(y.mean()) if len(y) else float("nan"),
        auc(y, p),
        calibration(y, p),
    )


def as_model(coef: np.ndarray, intercept: float, version: int = 0) -> PropensityModel:
    return PropensityModel(
        MODEL_NAME, version, SPEC_VERSION, tuple(float(c) for c in coef), float(intercept), 0.5, 14
    )


@dataclass(frozen=True)
class PrivacyCost:
    """The accuracy cost of privacy at one ε: held-out AUC of the DP model (mean and range over
    `runs` trainings: each run draws new noise) against the same non-private model."""

    epsilon: float
    dp_auc_mean: float
    dp_auc_min: float
    dp_auc_max: float
    plain_auc: float


def privacy_cost(
    data: TrainingSet, config: PropensityConfig, epsilons: tuple[float, ...], runs: int = 5
) -> list[PrivacyCost]:
    """For operators and the benchmark only (the non-private model is never stored or served)."""
    held = holdout_mask(data.user_ids, config.holdout_share)
    xt, yt, xh, yh = data.x[~held], data.y[~held], data.x[held], data.y[held]
    plain = auc(yh, fit_plain(xt, yt, config).predict_proba(xh)[:, 1])
    out = []
    for eps in epsilons:
        aucs = [auc(yh, fit_dp(xt, yt, config, eps, seed).predict_proba(xh)[:, 1]) for seed in range(runs)]
        out.append(PrivacyCost(eps, float(np.mean(aucs)), min(aucs), max(aucs), plain))
    return out
