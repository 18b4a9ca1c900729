"""Experiment results, differentially private per arm (privacy/PROOFS.md, "Experiments").

The privacy unit is a user. A user has at most one exposure row per experiment (primary key
(user_id, experiment_id)), so they are in exactly one arm; per arm we release the exposed count
and, per metric, the sum of a per-user value bounded in SQL: 0/1 for the binary metrics
(conversion, offer click-through, offer redemption), [0, clamp] for revenue (cents) and sessions.
Arms are disjoint (parallel composition); inside an arm the 1 + m released sums share epsilon
equally (sequential composition), each with two-sided geometric noise of sensitivity 1 or the
clamp. Everything after the noise (rates, intervals, lift, the SRM test, the refusal below a
minimum noisy count) is post-processing of the released values and public parameters.

Intervals (95%) add the sampling variance and the noise variance (delta method):
  mean m = S/N, Var(m) ~= (Var_sampling(S) + Var_noise(S) + m^2 Var_noise(N)) / N^2,
  Var_sampling(S) = N p(1-p) for a binary metric, N m(U-m) for a metric in [0, U] (the largest
  variance any distribution on [0, U] with mean m has: Bhatia-Davis), so the interval is
  conservative where the exact variance is not known; Var_noise = 2a/(1-a)^2, a = exp(-eps/Delta).
  Lift over control r = m_v/m_c - 1, Var(r) ~= (m_v/m_c)^2 (Var(m_v)/m_v^2 + Var(m_c)/m_c^2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import asyncpg

from privacy.dp.mechanisms import NoiseSpec, release_counts
from privacy.purposes import ANALYTICS
from sql import load_queries

if TYPE_CHECKING:  # numpy and scipy load on the first release only (docs/performance.md, memory)
    import numpy as np

Q = load_queries()
Z95 = 1.959963984540054
SRM_ALPHA = 0.001  # GrowthBook's default threshold for a sample-ratio mismatch
BINARY = ("CONVERSION", "OFFER_CLICK_THROUGH", "OFFER_REDEMPTION")
COLUMN = {
    "CONVERSION": "converted",
    "OFFER_CLICK_THROUGH": "clicked",
    "OFFER_REDEMPTION": "redeemed",
    "REVENUE_PER_USER": "revenue",
    "SESSIONS_PER_USER": "sessions",
}


@dataclass(frozen=True, slots=True)
class Design:
    """The public facts of an experiment a release depends on (from its definition)."""

    variants: tuple[str, ...]  # control first
    weights: tuple[int, ...]
    metrics: tuple[str, ...]  # primary first
    revenue_clamp: int
    sessions_clamp: int

    @classmethod
    def of(cls, definition: Mapping[str, Any]) -> Design:
        metrics = [definition["primary_metric"], *definition["guardrail_metrics"]]
        return cls(
            variants=tuple(v["key"] for v in definition["variants"]),
            weights=tuple(int(v["weight"]) for v in definition["variants"]),
            metrics=tuple(dict.fromkeys(metrics)),
            revenue_clamp=int(definition.get("revenue_clamp_cents") or 1),
            sessions_clamp=int(definition.get("sessions_clamp") or 1),
        )

    def bound(self, metric: str) -> int:
        if metric == "REVENUE_PER_USER":
            return self.revenue_clamp
        if metric == "SESSIONS_PER_USER":
            return self.sessions_clamp
        return 1


def noise_variance(spec: NoiseSpec) -> float:
    a = spec.alpha
    return 2 * a / (1 - a) ** 2


def _mean(total: float, n: float, var_total_noise: float, var_n_noise: float, bound: int) -> dict[str, Any]:
    m = min(max(total / n, 0.0), float(bound))
    sampling = n * m * (bound - m)  # p(1-p) when bound = 1
    var = (sampling + var_total_noise + m * m * var_n_noise) / (n * n)
    half = Z95 * math.sqrt(var)
    return {"value": m, "ci_low": max(m - half, 0.0), "ci_high": min(m + half, float(bound)), "variance": var}


def _lift(v: Mapping[str, Any], c: Mapping[str, Any]) -> dict[str, Any] | None:
    if c["value"] <= 0 or v["value"] <= 0:
        return None
    r = v["value"] / c["value"]
    var = r * r * (v["variance"] / v["value"] ** 2 + c["variance"] / c["value"] ** 2)
    half = Z95 * math.sqrt(var)
    return {"value": r - 1, "ci_low": r - 1 - half, "ci_high": r - 1 + half}


def srm_p_value(counts: Sequence[float], weights: Sequence[int]) -> float:
    """Pearson chi-square of the (noisy) exposure counts against the declared weights."""
    total = sum(counts)
    if total <= 0:
        return 1.0
    expected = [total * w / sum(weights) for w in weights]
    stat = sum((o - e) ** 2 / e for o, e in zip(counts, expected, strict=True) if e > 0)
    from scipy.stats import chi2

    return float(chi2.sf(stat, len(counts) - 1))


def release(
    sums: Mapping[str, Mapping[str, int]],
    design: Design,
    epsilon: Decimal,
    min_exposed: int,
    *,
    noise: bool = True,
    rng: np.random.RandomState | None = None,
) -> dict[str, Any]:
    """The released answer from the true per-arm sums (`sums[variant]["exposed" | metric]`).
    Split from the SQL so tests can release the same sums many times."""
    share = epsilon / (1 + len(design.metrics))
    n_spec = NoiseSpec(share, 1)
    exposed = release_counts(
        [sums.get(v, {}).get("exposed", 0) for v in design.variants], n_spec, noise=noise, _rng=rng
    )
    metric_values: dict[str, list[float]] = {}
    specs: dict[str, NoiseSpec] = {}
    for metric in design.metrics:
        specs[metric] = NoiseSpec(share, design.bound(metric))
        released = release_counts(
            [sums.get(v, {}).get(metric, 0) for v in design.variants], specs[metric], noise=noise, _rng=rng
        )
        metric_values[metric] = [r.value for r in released]
    counts = [r.value for r in exposed]
    enough = all(n >= max(min_exposed, 1) for n in counts)
    arms: list[dict[str, Any]] = []
    means: dict[str, list[dict[str, Any]]] = {m: [] for m in design.metrics}
    for i, variant in enumerate(design.variants):
        arm: dict[str, Any] = {"variant": variant, "exposed": exposed[i].to_json(), "metrics": []}
        if enough:
            for metric in design.metrics:
                var_n = noise_variance(n_spec) if noise else 0.0
                var_s = noise_variance(specs[metric]) if noise else 0.0
                mean = _mean(metric_values[metric][i], counts[i], var_s, var_n, design.bound(metric))
                means[metric].append(mean)
                lift = _lift(mean, means[metric][0]) if i > 0 else None
                arm["metrics"].append(
                    {
                        "metric": metric,
                        "total": metric_values[metric][i],
                        "mean": {k: mean[k] for k in ("value", "ci_low", "ci_high")},
                        "lift": lift,
                    }
                )
        arms.append(arm)
    p = srm_p_value(counts, design.weights)
    return {
        "arms": arms,
        "srm_p_value": p,
        "srm_flagged": p < SRM_ALPHA,
        "refused": None
        if enough
        else f"an arm has fewer than {min_exposed} exposed users (noisy count): no metrics are released",
        "min_exposed": min_exposed,
        "epsilon_per_value": str(share),
    }


async def true_sums(conn: asyncpg.Pool, experiment_id: int, design: Design) -> dict[str, dict[str, int]]:
    rows = await conn.fetch(
        Q.experiment_outcomes, experiment_id, design.revenue_clamp, design.sessions_clamp, ANALYTICS
    )
    return {
        r["variant"]: {"exposed": int(r["exposed"])} | {m: int(r[COLUMN[m]]) for m in design.metrics}
        for r in rows
    }


async def results(
    conn: asyncpg.Pool,
    experiment_key: str,
    epsilon: Decimal,
    min_exposed: int,
    *,
    sizes_only: bool = False,
    noise: bool = True,
    rng: np.random.RandomState | None = None,
) -> dict[str, Any]:
    """The release for one experiment; `sizes_only`: the noisy exposed counts alone (the
    marketers' view), all of epsilon on them."""
    row = await conn.fetchrow(Q.experiment_by_key, experiment_key)
    if row is None:
        return {"arms": [], "srm_p_value": 1.0, "srm_flagged": False, "refused": "no such experiment",
                "min_exposed": min_exposed, "epsilon_per_value": "0"}  # fmt: skip
    design = Design.of(row["definition"])
    if sizes_only:
        design = replace(design, metrics=())
    answer = release(await true_sums(conn, row["experiment_id"], design), design, epsilon, min_exposed,
                     noise=noise, rng=rng)  # fmt: skip
    answer["experiment"] = experiment_key
    answer["version"] = row["current_version"]
    return answer
