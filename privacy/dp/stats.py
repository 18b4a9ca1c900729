"""Statistics derived from released values only (post-processing: no extra privacy cost).

Their intervals combine the released values with the public noise parameters; each input's
interval is widened (Bonferroni) so the derived 95% interval holds with probability >= 95%.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from privacy.dp.mechanisms import NoiseSpec, Released

MECHANISM_RATIO = "geometric sum / geometric count"
MECHANISM_HISTOGRAM_CDF = "geometric histogram, median of the noisy CDF"


def mean_of(total: Released, count: Released, upper: int) -> Released:
    """Mean order value (cents, rounded) = noisy sum / noisy count, clamped to [0, upper]."""
    assert total.sensitivity is not None and count.sensitivity is not None
    hs = NoiseSpec(total.epsilon, total.sensitivity).half_width(0.975)
    hc = NoiseSpec(count.epsilon, count.sensitivity).half_width(0.975)
    c = count.value
    if c <= 0:
        return Released(
            0.0,
            MECHANISM_RATIO,
            float(upper),
            0.0,
            float(upper),
            (total.epsilon + count.epsilon).normalize(),
            None,
        )
    mean = min(max(round(total.value / c), 0), upper)
    low = max(total.value - hs, 0.0) / (c + hc)
    high = (total.value + hs) / (c - hc) if c - hc > 0 else float(upper)
    return Released(
        value=float(mean),
        mechanism=MECHANISM_RATIO,
        noise_scale=total.noise_scale / c,  # first-order scale of the ratio, from released c
        ci_low=float(math.floor(max(low, 0.0))),
        ci_high=float(math.ceil(min(high, float(upper)))),
        epsilon=(total.epsilon + count.epsilon).normalize(),
        sensitivity=None,
    )


def median_of(bins: Sequence[Released], edges: Sequence[int], upper: int, epsilon: Decimal) -> Released:
    """Median of a noisy histogram (bins with lower `edges`, the last closed at `upper`).

    Point: linear interpolation inside the bin where the noisy CDF crosses half the noisy
    total. Interval: with every bin's interval at level 1 - 0.05/B, the true cumulative counts
    lie within the summed bands, which bound where the true median can fall."""
    counts = [b.value for b in bins]
    hi_edges = [*edges[1:], upper]
    total = sum(counts)
    h = NoiseSpec(epsilon, 1).half_width(1 - 0.05 / len(bins))
    scale = bins[0].noise_scale
    if total <= 0:
        return Released(0.0, MECHANISM_HISTOGRAM_CDF, scale, 0.0, float(upper), epsilon, 1)

    def crossing(cum: Sequence[float], half: float) -> int:
        return next((i for i, v in enumerate(cum) if v >= half), len(cum) - 1)

    cum = [sum(counts[: i + 1]) for i in range(len(counts))]
    j = crossing(cum, total / 2)
    before = cum[j - 1] if j else 0.0
    inside = (total / 2 - before) / counts[j] if counts[j] else 0.0
    point = edges[j] + inside * (hi_edges[j] - edges[j])
    # Lowest possible median: cumulative as high as allowed, total as low as allowed; and back.
    n = len(counts)
    upper_cum = [c + (i + 1) * h for i, c in enumerate(cum)]
    lower_cum = [max(c - (i + 1) * h, 0.0) for i, c in enumerate(cum)]
    lo = edges[crossing(upper_cum, max(total - n * h, 0.0) / 2)]
    hi = hi_edges[crossing(lower_cum, (total + n * h) / 2)]
    return Released(float(round(point)), MECHANISM_HISTOGRAM_CDF, scale, float(lo), float(hi), epsilon, 1)
