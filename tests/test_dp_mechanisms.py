"""The noise itself, at the three levels of STYLE item 9: exact values (scale, interval, tau,
cost), boundary tables (caps and epsilons), and statistical tests with a stated alpha."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import numpy as np
import pytest
from scipy import stats

from privacy.dp import ledger
from privacy.dp.epsilon import EpsilonRefused, to_cap, to_epsilon
from privacy.dp.mechanisms import NoiseSpec, release_counts
from privacy.dp.partition import single_user_release_probability, tau
from tests.dp_data import register, set_dataset_cap

CAP = Decimal("1.0")


def pmf(z: int, spec: NoiseSpec) -> float:
    a = spec.alpha
    return (1 - a) / (1 + a) * a ** abs(z)


# --- exact values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epsilon", "sensitivity", "scale"),
    [("0.5", 1, 2.0), ("0.1", 1, 10.0), ("1", 5, 5.0), ("0.25", 100_000, 400_000.0)],
)
def test_noise_scale_is_sensitivity_over_epsilon(epsilon: str, sensitivity: int, scale: float) -> None:
    assert NoiseSpec(Decimal(epsilon), sensitivity).scale == scale


@pytest.mark.parametrize(("epsilon", "sensitivity"), [("0.1", 1), ("0.5", 1), ("1", 1), ("1", 3), ("2", 1)])
def test_half_width_is_the_smallest_k_with_95_percent_coverage(epsilon: str, sensitivity: int) -> None:
    spec = NoiseSpec(Decimal(epsilon), sensitivity)
    k = spec.half_width()

    def coverage(width: int) -> float:
        return sum(pmf(z, spec) for z in range(-width, width + 1))

    assert coverage(k) >= 0.95 > coverage(k - 1)


def test_half_width_known_values() -> None:
    # epsilon 0.1: alpha = e^-0.1; P(|Z| > 30) = 2 a^31 / (1 + a) = 0.0473 <= 0.05 < P(|Z| > 29)
    assert NoiseSpec(Decimal("0.1"), 1).half_width() == 30
    assert NoiseSpec(Decimal("1"), 1).half_width() == 3


def test_tau_is_the_smallest_safe_threshold() -> None:
    eps, delta, k = Decimal("1"), Decimal("1e-7"), 5
    t = tau(eps, delta, k)
    assert t == 87
    assert single_user_release_probability(eps, k, t) <= float(delta) / k
    assert single_user_release_probability(eps, k, t - 1) > float(delta) / k


def test_costs_add_exactly() -> None:
    total = sum((to_epsilon(0.1, CAP) for _ in range(10)), Decimal(0))
    assert total == Decimal("1.0")  # in floats: 0.9999999999999999
    assert to_epsilon(0.3, CAP) + to_epsilon(0.2, CAP) + to_epsilon(0.1, CAP) == Decimal("0.6")


# --- boundary tables ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        (1.0, True),
        (Decimal("1.0"), True),
        (1, True),
        (1.0000001, False),
        (Decimal("1.0000000001"), False),
        (0, False),
        (0.0, False),
        (-0.0, False),
        (-1, False),
        (float("nan"), False),
        (Decimal("NaN"), False),
        (float("inf"), False),
        (float("-inf"), False),
        (Decimal("Infinity"), False),
        ("0.5", True),
        ("abc", False),
        (True, False),
        (None, False),
        (1e-9, True),
        (1e-10, False),
    ],
)
def test_epsilon_boundary_table(raw: object, ok: bool) -> None:
    if ok:
        assert to_epsilon(raw, CAP) == Decimal(str(raw))  # exact, as given
    else:
        with pytest.raises(EpsilonRefused):
            to_epsilon(raw, CAP)


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        (0, True),
        (1.0, True),
        (100, True),
        (100.0000001, False),
        (1e308, False),
        (0.000000001, True),
        (0.0000000001, False),
        (-0.1, False),
        (float("nan"), False),
        (float("inf"), False),
    ],
)
def test_cap_boundary_table(raw: object, ok: bool) -> None:
    if ok:
        assert to_cap(raw) >= 0
    else:
        with pytest.raises(EpsilonRefused):
            to_cap(raw)


@pytest.mark.parametrize("capped", ["spender", "dataset"])
@pytest.mark.parametrize(
    ("cap", "charges", "accepted"),
    [
        ("1.0", ["1.0"], [True]),
        ("1.0", ["1.0000001"], [False]),
        ("1.0000001", ["1.0000001"], [True]),
        ("1.0", ["0.1"] * 11, [True] * 10 + [False]),
        ("1.0", ["0.7", "0.4", "0.3"], [True, False, True]),
        ("0", ["0.000000001"], [False]),
    ],
)
async def test_ledger_boundary_table(
    db_dsn: str, capped: str, cap: str, charges: list[str], accepted: list[bool]
) -> None:
    """The same boundaries hold for a spender's cap and for the dataset's cap across spenders."""
    await register(db_dsn, "ana", epsilon_cap=cap if capped == "spender" else "100")
    await set_dataset_cap(db_dsn, cap if capped == "dataset" else "100")
    pool = await asyncpg.create_pool(db_dsn, min_size=1, max_size=2)
    try:
        ana = ledger.Spender("ana", ledger.SpenderRole.ANALYST)
        refused = (
            ledger.Outcome.SPENDER_EXHAUSTED if capped == "spender" else ledger.Outcome.DATASET_EXHAUSTED
        )
        got = []
        for c in charges:
            cost = ledger.Cost(Decimal(c), Decimal(0), Decimal(c), Decimal(0))
            result = await ledger.charge(pool, ana, "audience", cost, "r", ["h"], (1, 1))
            assert result.outcome in (ledger.Outcome.CHARGED, refused)
            got.append(result.charged)
        assert got == accepted
        b = await ledger.budget(pool, ana, "audience")
        assert b is not None
        spent = sum((Decimal(c) for c, ok in zip(charges, got, strict=True) if ok), Decimal(0))
        assert b.spent == spent
        (d,) = await ledger.dataset_budgets(pool)
        assert d.spent == spent and d.spent <= d.cap and b.spent <= b.cap
        events = await pool.fetchval("SELECT count(*) FROM privacy_events WHERE kind = 'charge'")
        assert events == sum(got)
        if events:
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await pool.execute("UPDATE privacy_events SET epsilon = 0")
        nobody = ledger.Spender("nobody", ledger.SpenderRole.ANALYST)
        cost = ledger.Cost(Decimal("0.1"), Decimal(0), Decimal("0.1"), Decimal(0))
        unknown = await ledger.charge(pool, nobody, "audience", cost, "r", ["h"], (1, 1))
        assert unknown.outcome is ledger.Outcome.UNKNOWN_SPENDER  # no budget on first charge
        assert await pool.fetchval("SELECT count(*) FROM privacy_budgets WHERE analyst_id = 'nobody'") == 0
    finally:
        await pool.close()


# --- statistical (seeded only here, through the internal parameter) -------------------------

ALPHA = 0.001  # false-failure rate of each statistical assertion below


def test_released_counts_follow_the_two_sided_geometric() -> None:
    spec = NoiseSpec(Decimal("0.5"), 1)
    n, truth = 20_000, 120
    noise = (
        np.array([r.value for r in release_counts([truth] * n, spec, _rng=np.random.RandomState(7))]) - truth
    )
    support = range(-12, 13)  # pooled tails beyond |12| (expected ~0.3% each side)
    expected = [pmf(z, spec) for z in support]
    tail = sum(pmf(z, spec) for z in range(-400, -12))  # symmetric: the same on both sides
    observed = [int(np.sum(noise == z)) for z in support]
    observed += [int(np.sum(noise < -12)), int(np.sum(noise > 12))]
    expected_all = np.array([*expected, tail, tail])
    expected_all = expected_all / expected_all.sum() * n
    _, p = stats.chisquare(observed, expected_all)
    assert p > ALPHA


def test_reported_intervals_cover_the_truth_95_percent_of_the_time() -> None:
    # epsilon 0.1: exact coverage of the integer interval is 95.27% (conservative, within 1%).
    spec = NoiseSpec(Decimal("0.1"), 1)
    n, truth = 20_000, 500
    released = release_counts([truth] * n, spec, _rng=np.random.RandomState(11))
    covered = sum(r.ci_low <= truth <= r.ci_high for r in released) / n
    # |covered - 0.9527| > 0.005 has probability < 1e-3 at n = 20,000 (sd 0.0015).
    assert abs(covered - 0.95) <= 0.01
    exact = 1 - 2 * spec.alpha ** (spec.half_width() + 1) / (1 + spec.alpha)
    assert abs(covered - exact) < 0.005


def test_small_counts_are_not_clipped_at_n() -> None:
    spec = NoiseSpec(Decimal("0.1"), 1)
    values = [r.value for r in release_counts([5] * 200, spec, _rng=np.random.RandomState(3))]
    # P(no value above 5 in 200) = (1 - a/(1+a))^200 ~ 1e-56
    assert max(values) > 5
    assert min(values) >= 0  # non-negative by post-processing


def test_default_randomness_is_secure_and_not_repeatable() -> None:
    spec = NoiseSpec(Decimal("0.1"), 1)
    a = [r.value for r in release_counts([1000] * 50, spec)]
    b = [r.value for r in release_counts([1000] * 50, spec)]
    assert a != b  # P(equal) < 0.1^50


def test_sensitive_categories_cannot_be_declared_as_an_analyst_dimension() -> None:
    from pydantic import ValidationError

    from resolvers.config import DPConfig

    with pytest.raises(ValidationError, match="sensitive categories"):
        DPConfig(categories=("apparel", "pharmacy"))
