"""The analyst templates: static SQL with per-user contribution bounds, then integer noise.

Each function states the L1 sensitivity of what it releases under adding or removing one user
(the privacy unit); privacy/PROOFS.md has the argument for each. `noise=False` runs the very
same SQL and post-processing without noise: the bench's baseline and the bound tests' probe,
never reachable from the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

from privacy.dp import experiments
from privacy.dp.mechanisms import NoiseSpec, Released, release_counts
from privacy.dp.partition import tau
from privacy.dp.query import (
    SINGLE_VALUED,
    WINDOW_DAYS,
    AudienceParams,
    DPQuery,
    Template,
)
from privacy.dp.stats import mean_of, median_of
from sql import load_queries

Q = load_queries()
if TYPE_CHECKING:
    import numpy as np

    Rng: TypeAlias = np.random.RandomState | None


def audience_params(q: DPQuery, p: AudienceParams) -> dict[str, Any]:
    """The audience parameters every template passes to dp_audience (sql/queries/analytics.sql)."""
    f = q.filter
    (
        power_min_sessions,
        power_min_features,
        power_min_tenure_days,
        regular_min_sessions,
        newbie_max_tenure_days,
        luxury_min_mean_level,
        budget_max_mean_level,
    ) = p.tag_thresholds
    return {
        "window_days": WINDOW_DAYS[f.window],
        "country": f.country,
        "platform": f.platform,
        "experience": f.experience,
        "price_tier": f.price_tier,
        "category": f.category,
        "power_min_sessions": power_min_sessions,
        "power_min_features": power_min_features,
        "power_min_tenure_days": power_min_tenure_days,
        "regular_min_sessions": regular_min_sessions,
        "newbie_max_tenure_days": newbie_max_tenure_days,
        "luxury_min_mean_level": luxury_min_mean_level,
        "budget_max_mean_level": budget_max_mean_level,
        "countries": list(p.countries),
    }


async def distinct_users(
    conn: asyncpg.Pool, q: DPQuery, p: AudienceParams, noise: bool, rng: Rng
) -> dict[str, Any]:
    # Sensitivity 1: one row per user in dp_audience, so a user changes the count by at most 1.
    n = await conn.fetchval(*Q.dp_distinct_users.bind(**audience_params(q, p)))
    (count,) = release_counts([int(n)], NoiseSpec(q.epsilon, 1), noise=noise, _rng=rng)
    return {"count": count.to_json()}


async def users_by_counts(
    conn: asyncpg.Pool, q: DPQuery, p: AudienceParams
) -> dict[tuple[str | None, str | None], int]:
    """True user counts per cell; single-valued dimensions take the one-pass query."""
    dims = q.dimensions
    second = dims[1] if len(dims) > 1 else None
    if all(d in SINGLE_VALUED for d in dims):
        rows = await conn.fetch(
            *Q.dp_users_by_attributes.bind(**audience_params(q, p), dimension1=dims[0], dimension2=second)
        )
    else:
        rows = await conn.fetch(
            *Q.dp_users_by.bind(
                **audience_params(q, p),
                dimension1=dims[0],
                dimension2=second,
                categories=list(p.categories),
                keys_per_user=p.max_groups,
            )
        )
    return {(r["key1"], r["key2"]): int(r["users"]) for r in rows}


def users_by_release(
    counts: dict[tuple[str | None, str | None], int],
    q: DPQuery,
    p: AudienceParams,
    noise: bool = True,
    rng: Rng = None,
) -> dict[str, Any]:
    """Release a breakdown from its true counts (split from the SQL so tests can release the
    same counts many times)."""
    # Sensitivity g1 * g2, g = keys per user of a dimension (1 single-valued, max_groups for
    # CATEGORY / FEATURE / SEGMENT, capped in dp_user_keys): a user adds 1 to at most g1 * g2 cells.
    # SEGMENT: a user may be in any number of segments; dp_user_keys keeps their max_groups lowest
    # segment ids, so the bound holds however many memberships segment_members stores.
    dims = q.dimensions
    second = dims[1] if len(dims) > 1 else None
    sensitivity = p.groups_per_user(dims[0]) * (p.groups_per_user(second) if second else 1)
    public = [p.keys(d) for d in dims]
    threshold: int | None = None
    cells: list[tuple[str | None, str | None]]
    if all(k is not None for k in public):
        # Public keys: every key is released (zeros included), so absence reveals nothing.
        first_keys = public[0] or ()
        second_keys: Sequence[str | None] = (public[1] or ()) if second else (None,)
        cells = [(a, b) for a in first_keys for b in second_keys]
    else:
        # Keys that are not public: only keys seen in the data, and only those whose noisy
        # count passes tau (partition selection), so a key held by one user never appears.
        threshold = tau(q.epsilon, p.selection_delta, sensitivity)
        cells = sorted(counts, key=lambda c: (c[0] or "", c[1] or ""))
    spec = NoiseSpec(q.epsilon, sensitivity)
    released = release_counts([counts.get(c, 0) for c in cells], spec, noise=noise, _rng=rng)
    groups = []
    for cell, value in zip(cells, released, strict=True):
        if threshold is not None and value.value < threshold:
            continue
        if p.min_group_size and value.value < p.min_group_size:
            value = replace(value, value=0.0, ci_low=0.0, ci_high=value.ci_high - value.value)
        keys = [k for k in cell if k is not None]
        groups.append({"keys": keys, "count": value.to_json()})
    return {"dimensions": list(dims), "groups": groups, "threshold": threshold}


async def users_by(
    conn: asyncpg.Pool, q: DPQuery, p: AudienceParams, noise: bool, rng: Rng
) -> dict[str, Any]:
    return users_by_release(await users_by_counts(conn, q, p), q, p, noise, rng)


async def _order_value(conn: asyncpg.Pool, q: DPQuery, p: AudienceParams) -> tuple[int, int]:
    row = await conn.fetchrow(
        *Q.dp_order_value.bind(**audience_params(q, p), order_value_max_cents=p.order_value_max_cents)
    )
    assert row is not None
    return int(row["total"]), int(row["buyers"])


async def order_value_sum(
    conn: asyncpg.Pool, q: DPQuery, p: AudienceParams, noise: bool, rng: Rng
) -> dict[str, Any]:
    # Sensitivity order_value_max_cents: each user's window spend is clamped to [0, U] in SQL
    # and a user is one row, so adding or removing a user moves the sum by at most U.
    total, _ = await _order_value(conn, q, p)
    spec = NoiseSpec(q.epsilon, p.order_value_max_cents)
    (released,) = release_counts([total], spec, noise=noise, _rng=rng)
    return {"sum": released.to_json()}


async def order_value_mean(
    conn: asyncpg.Pool, q: DPQuery, p: AudienceParams, noise: bool, rng: Rng
) -> dict[str, Any]:
    # Noisy sum (sensitivity U, epsilon/2) over noisy count of buyers (sensitivity 1,
    # epsilon/2): sequential composition charges epsilon for the pair; the ratio is
    # post-processing. No n is treated as public (dp-facts §2).
    total, buyers = await _order_value(conn, q, p)
    half = q.epsilon / 2
    (s,) = release_counts([total], NoiseSpec(half, p.order_value_max_cents), noise=noise, _rng=rng)
    (c,) = release_counts([buyers], NoiseSpec(half, 1), noise=noise, _rng=rng)
    mean = mean_of(s, c, p.order_value_max_cents)
    return {"mean": mean.to_json(), "sum": s.to_json(), "count": c.to_json()}


async def _histogram_counts(
    conn: asyncpg.Pool, q: DPQuery, p: AudienceParams, metric: str, edges: Sequence[int]
) -> list[int]:
    rows = await conn.fetch(
        *Q.dp_histogram.bind(
            **audience_params(q, p),
            metric=metric,
            edges=list(edges),
            order_value_max_cents=p.order_value_max_cents,
        )
    )
    by_bin = {int(r["bin"]): int(r["users"]) for r in rows}
    return [by_bin.get(i + 1, 0) for i in range(len(edges))]  # width_bucket numbers bins from 1


def _edges(p: AudienceParams, metric: str) -> tuple[int, ...]:
    return p.order_value_bins if metric == "ORDER_VALUE" else p.session_bins


async def histogram(
    conn: asyncpg.Pool, q: DPQuery, p: AudienceParams, noise: bool, rng: Rng
) -> dict[str, Any]:
    # Sensitivity 1: fixed public bins, each user's clamped value falls in exactly one bin.
    metric = q.metric or "ORDER_VALUE"
    edges = _edges(p, metric)
    counts = await _histogram_counts(conn, q, p, metric, edges)
    released = release_counts(counts, NoiseSpec(q.epsilon, 1), noise=noise, _rng=rng)
    bins = [
        {"lower": lo, "upper": edges[i + 1] if i + 1 < len(edges) else None, "count": r.to_json()}
        for i, (lo, r) in enumerate(zip(edges, released, strict=True))
    ]
    return {"metric": metric, "bins": bins}


async def median_order_value(
    conn: asyncpg.Pool, q: DPQuery, p: AudienceParams, noise: bool, rng: Rng
) -> dict[str, Any]:
    # Sensitivity 1 (the order value histogram above); the median is read off the noisy CDF,
    # which is post-processing.
    edges = p.order_value_bins
    counts = await _histogram_counts(conn, q, p, "ORDER_VALUE", edges)
    released = release_counts(counts, NoiseSpec(q.epsilon, 1), noise=noise, _rng=rng)
    return {"median": median_of(released, edges, p.order_value_max_cents, q.epsilon).to_json()}


async def funnel(conn: asyncpg.Pool, q: DPQuery, p: AudienceParams, noise: bool, rng: Rng) -> dict[str, Any]:
    # Sensitivity 3 * g: a user adds at most 1 to each of the 3 stages of at most g keys
    # (g = 1 for single-valued dimensions, max_groups for CATEGORY, capped in SQL).
    dim = q.dimensions[0]
    g = p.groups_per_user(dim)
    if dim == "CATEGORY":
        rows = await conn.fetch(
            *Q.dp_funnel_by_category.bind(
                **audience_params(q, p), categories=list(p.categories), keys_per_user=g
            )
        )
    else:
        rows = await conn.fetch(*Q.dp_funnel.bind(**audience_params(q, p), dimension=dim))
    found = {r["key"]: (int(r["viewed"]), int(r["carted"]), int(r["purchased"])) for r in rows}
    keys = p.keys(dim) or ()
    flat = [v for k in keys for v in found.get(k, (0, 0, 0))]
    released = release_counts(flat, NoiseSpec(q.epsilon, 3 * g), noise=noise, _rng=rng)
    groups = []
    for i, key in enumerate(keys):
        viewed, carted, bought = released[3 * i : 3 * i + 3]
        # Post-processing: a funnel never widens, so each stage is capped by the one before.
        carted = _at_most(carted, viewed.value)
        bought = _at_most(bought, carted.value)
        groups.append(
            {"key": key, "viewed": viewed.to_json(), "added_to_cart": carted.to_json(),
             "purchased": bought.to_json()}
        )  # fmt: skip
    return {"dimension": dim, "groups": groups}


def _at_most(r: Released, cap: float) -> Released:
    if r.value <= cap:
        return r
    shift = r.value - cap
    return replace(r, value=cap, ci_low=max(r.ci_low - shift, 0.0), ci_high=r.ci_high - shift)


async def experiment_results(
    conn: asyncpg.Pool, q: DPQuery, p: AudienceParams, noise: bool, rng: Rng
) -> dict[str, Any]:
    # Sensitivity per released value 1 (counts, binary metrics) or the declared clamp; arms are
    # disjoint and epsilon is split over the 1 + m values of an arm (privacy/dp/experiments.py).
    assert q.experiment is not None
    return await experiments.results(
        conn, q.experiment, q.epsilon, p.experiment_min_exposed, noise=noise, rng=rng
    )


async def experiment_sizes(
    conn: asyncpg.Pool, q: DPQuery, p: AudienceParams, noise: bool, rng: Rng
) -> dict[str, Any]:
    # Sensitivity 1: a user is exposed in at most one arm of an experiment.
    assert q.experiment is not None
    return await experiments.results(
        conn, q.experiment, q.epsilon, p.experiment_min_exposed, sizes_only=True, noise=noise, rng=rng
    )


RUNNERS = {
    Template.DISTINCT_USERS: distinct_users,
    Template.USERS_BY: users_by,
    Template.ORDER_VALUE_SUM: order_value_sum,
    Template.ORDER_VALUE_MEAN: order_value_mean,
    Template.HISTOGRAM: histogram,
    Template.FUNNEL: funnel,
    Template.MEDIAN_ORDER_VALUE: median_order_value,
    Template.EXPERIMENT_RESULTS: experiment_results,
    Template.EXPERIMENT_SIZES: experiment_sizes,
}


async def run(
    conn: asyncpg.Pool,
    q: DPQuery,
    p: AudienceParams,
    *,
    noise: bool = True,
    _rng: Rng = None,
) -> dict[str, Any]:
    """Run `q`'s SQL and release its answer (JSON-ready). Charging is the caller's job."""
    return await RUNNERS[q.template](conn, q, p, noise, _rng)


async def run_without_noise(conn: asyncpg.Pool, q: DPQuery, p: AudienceParams) -> dict[str, Any]:
    """The same SQL and post-processing with no noise: for the bench and the bound tests."""
    return await run(conn, q, p, noise=False)
