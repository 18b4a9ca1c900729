"""Partition selection for keys that are not public (e.g. features used).

A key is released only when its noisy distinct-user count reaches tau. Each user contributes
to at most `max_groups` keys (bounded in SQL), so the count vector has L1 sensitivity
`max_groups` and each count gets geometric noise with alpha = exp(-eps / max_groups).

A key held by exactly one user is released only if 1 + Z >= tau, with
P(Z >= t) = alpha^t / (1 + alpha). Requiring that probability to be <= delta / max_groups for
each of the user's keys bounds the chance that the user's presence reveals any key by delta:

    tau = 1 + ceil( ln(delta * (1 + alpha) / max_groups) / ln(alpha) )

(the same shape as SmartNoise's tau = k (1 - ln(2 delta / k) / eps) for Laplace noise, but
exact for the integer mechanism). The proof note is in privacy/PROOFS.md.
"""

from __future__ import annotations

import math
from decimal import Decimal


def tau(epsilon: Decimal, delta: Decimal, max_groups: int) -> int:
    """Smallest threshold with P(a one-user key passes) <= delta / max_groups."""
    if max_groups < 1:
        raise ValueError("max_groups must be >= 1")
    if not (Decimal(0) < delta < Decimal(1)):
        raise ValueError("delta must be in (0, 1)")
    log_alpha = -float(epsilon) / max_groups
    alpha = math.exp(log_alpha)
    target = float(delta) * (1.0 + alpha) / max_groups
    return 1 + max(1, math.ceil(math.log(target) / log_alpha - 1e-12))


def single_user_release_probability(epsilon: Decimal, max_groups: int, threshold: int) -> float:
    """P(1 + Z >= threshold): the chance a key held by one user is released (for tests/docs)."""
    alpha = math.exp(-float(epsilon) / max_groups)
    t = threshold - 1
    if t <= 0:
        return 1.0
    return alpha**t / (1.0 + alpha)
