"""Privacy metrics the gateway exports on /metrics; the DP budget code calls the hook.

Lives in `privacy` (not `gateway`) so the budget code can record without importing upward;
prometheus_client's default registry is process-global, and /metrics reads it."""

from __future__ import annotations

from prometheus_client import Counter

BUDGET_SPENT = Counter(
    "gateway_privacy_budget_spent_epsilon",
    "Differential-privacy budget (epsilon) spent by analyst queries, summed over analysts",
    ["dataset"],
)
BUDGET_REFUSED = Counter(
    "gateway_privacy_budget_refusals",
    "Analyst queries refused because the analyst's privacy budget was exhausted",
)


def record_budget_spent(epsilon: float, dataset: str = "default") -> None:
    """Call once per answered DP query with the epsilon it charged (never with analyst names:
    label values must stay a small fixed set)."""
    if epsilon > 0:
        BUDGET_SPENT.labels(dataset=dataset).inc(epsilon)


def record_budget_refused() -> None:
    BUDGET_REFUSED.inc()
