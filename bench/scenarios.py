"""What `make bench` measures: a list of scenarios and the ratios between them.

A Scenario is one HTTP request sent in a loop to one server ("gateway", "strawberry" for the
bare Strawberry baseline, "starlette" for the plain JSON endpoint), or a function measured in
process ("custom": raw COPY, the DP templates). A Comparison is a ratio of two scenarios'
throughput (or latency) with the target from DESIGN §8 / issue 6. The request documents live in
bench/documents.py; the custom runners in bench/runners.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import runners
from bench.documents import (
    LAYOUT_PATH,
    PERSONALIZED,
    TRACK_EVENTS,
    VIEWER,
    WHOAMI,
    track_events_rotating,
    track_events_variables,
)


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
    # GraphQL variables, built once the database is known: (user ids to use) -> variables.
    variables: Callable[[list[int]], dict[str, Any]] | None = None
    # Or several variables objects: requests rotate over them, one body each (bench.loadgen
    # --bodies-file), e.g. event batches each for its own users.
    variants: Callable[[list[int]], list[dict[str, Any]]] | None = None
    # Every FRESH_ID in the body is replaced by a new UUID on each request (bench.loadgen), so a
    # batch of events is new every time instead of 100 duplicates.
    fresh_ids: bool = False
    # A non-HTTP baseline measured by a function (dsn, duration_s, connections) -> {"rps",
    # "p50_ms", "p99_ms", ...}, e.g. asyncpg copy_records_to_table of the rows a trackEvents
    # batch carries, or the noiseless SQL aggregate behind a DP query. Set server="custom".
    runner: Callable[[str, float, int], dict[str, Any]] | None = None
    # Runs against the large database (--big: 1M users / 10M events) when there is one.
    big: bool = False

    def body(self, users: list[int] | None = None) -> str:
        """The request body (the first one when requests rotate over several)."""
        return self.bodies(users)[0]

    def bodies(self, users: list[int] | None = None) -> list[str]:
        """Every body the requests rotate over (one for most scenarios)."""
        if not self.query:
            return [""]
        if self.variants is not None:
            return [json.dumps({"query": self.query, "variables": v}) for v in self.variants(users or [1])]
        payload: dict[str, Any] = {"query": self.query}
        if self.variables is not None:
            payload["variables"] = self.variables(users or [1])
        return [json.dumps(payload)]


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


SCENARIOS: list[Scenario] = [
    Scenario("gateway_whoami", "gateway", WHOAMI),
    Scenario("strawberry_whoami", "strawberry", WHOAMI),
    Scenario("starlette_whoami", "starlette", path="/static/gateway_whoami", mirror="gateway_whoami"),
    Scenario("gateway_viewer", "gateway", VIEWER),
    Scenario("strawberry_viewer", "strawberry", VIEWER),
    Scenario("starlette_viewer", "starlette", path="/static/gateway_viewer", mirror="gateway_viewer"),
    # DESIGN §8: tags + layout + 10 feed items with a complete why, for persona 1 (FULL level,
    # every purpose granted).
    Scenario("gateway_personalized", "gateway", PERSONALIZED),
    # The same document sent as an untrusted one (a comment makes it another text): graphql-core's
    # generic execution instead of the compiled plan (gateway/plan.py), in the same run.
    Scenario("gateway_personalized_generic", "gateway", PERSONALIZED + "\n# not a trusted document\n"),
    Scenario("strawberry_personalized", "strawberry", PERSONALIZED),
    Scenario(
        "starlette_personalized",
        "starlette",
        path="/static/gateway_personalized",
        mirror="gateway_personalized",
    ),
    # The mobile app's persisted layout GET, revalidated with the ETag it holds: 304, no body.
    Scenario("gateway_layout_304", "gateway", path=LAYOUT_PATH, method="GET", if_none_match=True),
    Scenario(
        "starlette_layout",
        "starlette",
        path="/static/gateway_layout_304",
        method="GET",
        mirror="gateway_layout_304",
    ),
    # 100 new events per request, for 100 different users, sent by the app role; requests rotate
    # over 64 batches, each for its own 100 users drawn from the seeded population (as an app's
    # traffic spreads over its users). The COPY baseline writes the same batches' rows.
    Scenario(
        "gateway_track_events_100",
        "gateway",
        TRACK_EVENTS,
        role="app",
        variants=track_events_rotating,
        fresh_ids=True,
    ),
    Scenario("copy_events_rows", "custom", runner=runners.copy_events),
    # The gateway's ingest statement for those rows alone, on as many connections: what the
    # database allows trackEvents before any Python runs.
    Scenario("ingest_statement_rows", "custom", runner=runners.ingest_statement),
    # The contention case: every request carries the same 100 users, so the 8 connections'
    # batches queue on those users' rollup rows (row locks held until each commit).
    Scenario(
        "gateway_track_events_100_same_users",
        "gateway",
        TRACK_EVENTS,
        role="app",
        variables=track_events_variables,
        fresh_ids=True,
    ),
    Scenario("copy_events_rows_same_users", "custom", runner=runners.copy_events_same_users),
    Scenario("dp_users_by_country", "custom", runner=runners.dp_noisy, big=True),
    Scenario("dp_users_by_country_noiseless", "custom", runner=runners.dp_noiseless, big=True),
]

COMPARISONS: list[Comparison] = [
    Comparison("whoami: gateway / bare Strawberry", "gateway_whoami", "strawberry_whoami"),
    Comparison("whoami: gateway / plain Starlette", "gateway_whoami", "starlette_whoami"),
    Comparison("viewer: gateway / bare Strawberry (same shape)", "gateway_viewer", "strawberry_viewer"),
    Comparison("viewer: gateway / plain Starlette", "gateway_viewer", "starlette_viewer"),
    Comparison(
        "personalized viewer (tags + layout + 10 feed items with why): gateway / bare Strawberry",
        "gateway_personalized",
        "strawberry_personalized",
        target=1.00,
        note="see 'What bounds each path'",
    ),
    Comparison(
        "personalized viewer, generic graphql-core execution (same document, untrusted) / bare Strawberry",
        "gateway_personalized_generic",
        "strawberry_personalized",
    ),
    Comparison(
        "personalized viewer: compiled plan / generic execution",
        "gateway_personalized",
        "gateway_personalized_generic",
    ),
    Comparison(
        "personalized viewer: gateway / plain Starlette", "gateway_personalized", "starlette_personalized"
    ),
    Comparison(
        "layout GET, matching ETag (304) / plain Starlette",
        "gateway_layout_304",
        "starlette_layout",
        target=0.60,
        note="see 'What bounds each path'",
    ),
    Comparison(
        "trackEvents, batches of 100 (events/s) / raw COPY (rows/s)",
        "gateway_track_events_100",
        "copy_events_rows",
        target=0.30,
        note="see 'What bounds each path'",
        numerator_scale=100,
    ),
    Comparison(
        "the ingest statement alone, no Python (rows/s) / raw COPY (rows/s): the database's ceiling",
        "ingest_statement_rows",
        "copy_events_rows",
    ),
    Comparison(
        "trackEvents (events/s) / the ingest statement alone (rows/s)",
        "gateway_track_events_100",
        "ingest_statement_rows",
        numerator_scale=100,
    ),
    Comparison(
        "trackEvents, the same 100 users in every request (row-lock contention) / raw COPY of those rows",
        "gateway_track_events_100_same_users",
        "copy_events_rows_same_users",
        numerator_scale=100,
    ),
    Comparison(
        "DP usersBy(COUNTRY) / same aggregate without noise (p50 latency)",
        "dp_users_by_country",
        "dp_users_by_country_noiseless",
        target=1.3,
        note="see 'What bounds each path'",
        lower_is_better=True,
    ),
]

# Worker scaling: this scenario is re-run with 1, 2 and 4 gateway workers.
SCALING_SCENARIO = "gateway_personalized"
