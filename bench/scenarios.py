"""What `make bench` measures: a list of scenarios and the ratios between them.

A Scenario is one HTTP request sent in a loop to one server ("gateway", "strawberry" for the
bare Strawberry baseline, "starlette" for the plain JSON endpoint). A Comparison is a ratio of
two scenarios' throughput with the target from DESIGN §8 / issue 6. The lead appends scenarios
as the APIs land (see PENDING at the bottom)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # "gateway" | "strawberry" | "starlette"
    query: str | None = None  # GraphQL document (POST /graphql), or
    path: str | None = None  # a plain path (the Starlette baseline, GETs)
    method: str = "POST"
    role: str | None = "user"  # token role for the gateway (user, app, analyst, ...); None = anonymous
    headers: dict[str, str] = field(default_factory=dict)
    # For a "starlette" scenario: serve the exact body the gateway returned for this scenario.
    mirror: str | None = None
    # GET with a conditional request: fetch once, then send If-None-Match with the ETag (304 path).
    if_none_match: bool = False
    # A non-HTTP baseline measured by a function (dsn, duration_s) -> {"rps", "p50_ms", "p99_ms",
    # ...}, e.g. asyncpg copy_records_to_table of the rows a trackEvents batch carries, or the
    # noiseless SQL aggregate behind a DP query. Set server="custom".
    runner: Callable[[str, float], dict[str, Any]] | None = None

    def body(self) -> str:
        return json.dumps({"query": self.query}) if self.query else ""


@dataclass(frozen=True)
class Comparison:
    label: str
    numerator: str
    denominator: str
    target: float | None = None  # numerator/denominator should be >= target
    note: str = ""  # what bounds it when the target is missed
    # Units: e.g. 100 for "requests of 100 events" against a COPY baseline in rows/s.
    numerator_scale: float = 1.0
    # For "at most" targets (DP query time <= 1.3x the noiseless aggregate): compare latency.
    lower_is_better: bool = False


WHOAMI = "query Whoami { whoami { role subject } }"
VIEWER = "query Viewer { viewer { id createdAt personalizationLevel country platform preferredChannel } }"

SCENARIOS: list[Scenario] = [
    Scenario("gateway_whoami", "gateway", WHOAMI),
    Scenario("strawberry_whoami", "strawberry", WHOAMI),
    Scenario("starlette_whoami", "starlette", path="/static/gateway_whoami", mirror="gateway_whoami"),
    Scenario("gateway_viewer", "gateway", VIEWER),
    Scenario("strawberry_viewer", "strawberry", VIEWER),
    Scenario("starlette_viewer", "starlette", path="/static/gateway_viewer", mirror="gateway_viewer"),
]

COMPARISONS: list[Comparison] = [
    Comparison("whoami: gateway / bare Strawberry", "gateway_whoami", "strawberry_whoami"),
    Comparison("whoami: gateway / plain Starlette", "gateway_whoami", "starlette_whoami"),
    Comparison(
        "viewer: gateway / bare Strawberry (same shape)",
        "gateway_viewer",
        "strawberry_viewer",
        target=0.60,
        note="DB round trips: consent snapshot, account row, audit insert",
    ),
    Comparison("viewer: gateway / plain Starlette", "gateway_viewer", "starlette_viewer"),
]

# Worker scaling: this scenario is re-run with 1, 2 and 4 gateway workers.
SCALING_SCENARIO = "gateway_viewer"

# Not measurable until the APIs are merged (the lead adds them as Scenarios + Comparisons):
PENDING = [
    "viewer with tags + layout + feed(limit: 10) { items { why } } vs bare Strawberry same shape (>= 60%)",
    "layout GET with matching If-None-Match -> 304 vs plain Starlette endpoint (>= 40%)",
    "trackEvents batches of 100 vs asyncpg copy_records_to_table of the same rows (>= 30%)",
    "DP audience query vs the same aggregate without noise at 1M users / 10M events (<= 1.3x)",
]
