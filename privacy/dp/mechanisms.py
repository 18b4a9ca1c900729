"""Integer noise over pre-aggregated SQL results, with diffprivlib's `Geometric` mechanism.

Counts and integerised sums (order value in cents) get two-sided geometric noise: integer in,
integer out, so no floating-point Laplace output ever reaches an analyst (dp-facts §3).
Randomness is diffprivlib's secure default (`secrets.SystemRandom`). Nothing outside tests may
choose the random source: the `_rng` parameter is internal and never reachable from the API.

Every figure reported next to a released value (scale, 95% interval) is a function of public
parameters only (epsilon, sensitivity), never of the data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy, diffprivlib, scikit-learn and scipy load on the first release only
    import numpy as np

MECHANISM_GEOMETRIC = "geometric"
CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class NoiseSpec:
    """Public description of the noise on one released value."""

    epsilon: Decimal
    sensitivity: int

    @property
    def alpha(self) -> float:
        """Ratio of the two-sided geometric pmf between neighbouring integers."""
        return math.exp(-float(self.epsilon) / self.sensitivity)

    @property
    def scale(self) -> float:
        """Laplace-equivalent scale b = sensitivity / epsilon (the figure analysts compare)."""
        return self.sensitivity / float(self.epsilon)

    def half_width(self, confidence: float = CONFIDENCE) -> int:
        """Smallest k with P(|Z| > k) <= 1 - confidence for Z two-sided geometric.

        P(|Z| > k) = 2 alpha^(k+1) / (1 + alpha), so k = ceil(ln((1-c)(1+a)/2) / ln a) - 1.
        The interval is conservative: coverage is in [confidence, confidence + one pmf step]."""
        a = self.alpha
        log_a = -float(self.epsilon) / self.sensitivity  # exact ln(alpha), no exp/log round trip
        tail = (1.0 - confidence) * (1.0 + a) / 2.0
        k = math.ceil(math.log(tail) / log_a - 1e-12) - 1
        return max(k, 0)


@dataclass(frozen=True, slots=True)
class Released:
    """One released value and the public facts about its noise."""

    value: float
    mechanism: str
    noise_scale: float
    ci_low: float
    ci_high: float
    epsilon: Decimal
    sensitivity: int | None

    def to_json(self) -> dict[str, object]:
        return {
            "value": self.value,
            "mechanism": self.mechanism,
            "noise_scale": self.noise_scale,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "epsilon": str(self.epsilon),
            "sensitivity": self.sensitivity,
        }


def geometric_noise(
    values: Sequence[int], spec: NoiseSpec, *, _rng: np.random.RandomState | None = None
) -> list[int]:
    """Noisy copies of `values`; one mechanism instance serves the whole vector.

    `_rng` is for tests only (a seeded numpy RandomState); None means diffprivlib's secure
    `secrets.SystemRandom`."""
    # Imported here: diffprivlib pulls in scikit-learn and scipy (~100 MiB per process), which
    # only a worker that answers a DP query needs (docs/benchmarks.md, memory).
    from diffprivlib.mechanisms import Geometric

    mech = Geometric(epsilon=float(spec.epsilon), sensitivity=spec.sensitivity, random_state=_rng)
    return [int(mech.randomise(int(v))) for v in values]


def release_counts(
    values: Sequence[int],
    spec: NoiseSpec,
    *,
    non_negative: bool = True,
    noise: bool = True,
    _rng: np.random.RandomState | None = None,
) -> list[Released]:
    """Release counts (or integer sums): noisy value, clamped at 0 when counts cannot be
    negative (post-processing; never clamped at the true n, see dp-facts §2)."""
    noisy = geometric_noise(values, spec, _rng=_rng) if noise else [int(v) for v in values]
    h = spec.half_width()
    out: list[Released] = []
    for v in noisy:
        value = max(v, 0) if non_negative else v
        low = value - h
        out.append(
            Released(
                value=float(value),
                mechanism=MECHANISM_GEOMETRIC,
                noise_scale=spec.scale,
                ci_low=float(max(low, 0) if non_negative else low),
                ci_high=float(value + h),
                epsilon=spec.epsilon,
                sensitivity=spec.sensitivity,
            )
        )
    return out
