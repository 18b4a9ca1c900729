"""'What bounds each path': one paragraph per target comparison, met or not, written from the same run's
figures (scenario results, the in-process anatomy, the database probes), so the explanation
cannot drift from the numbers it explains."""

from __future__ import annotations

from typing import Any

from bench.runners import COPY_PROBE, COPY_ROLLED_BACK, INGEST_PARTS, INGEST_PROBE, PARTS_OF, ROLLED_BACK

Figures = dict[str, dict[str, Any]]


def _a(anatomy: Figures, name: str, key: str) -> float:
    return float(anatomy.get(name, {}).get(key, 0.0))


def _layer(anatomy: Figures, name: str, *layers: str) -> float:
    return round(sum(_a(anatomy, name, f"layer:{x}") for x in layers), 2)


def personalized(anatomy: Figures, nproc: str) -> list[str]:
    g, b, generic = "gateway_personalized", "strawberry_personalized", "gateway_personalized_generic"
    cpu, base = _a(anatomy, g, "cpu_ms"), _a(anatomy, b, "cpu_ms")
    if not cpu or not base:
        return []
    graphql = _layer(anatomy, g, "graphql-core", "strawberry")
    trips, waiting = _a(anatomy, g, "round_trips"), _a(anatomy, g, "wall_ms") - cpu
    generic_cpu = _a(anatomy, generic, "cpu_ms")
    via_core = (
        f" (the same document through graphql-core's generic execution: {generic_cpu} ms, of which "
        f"{_layer(anatomy, generic, 'graphql-core', 'strawberry')} ms in graphql-core + Strawberry)"
        if generic_cpu
        else ""
    )
    return [
        f"**Personalized viewer query.** The trusted document runs from its compiled plan: one "
        f"request costs the gateway {cpu} ms of Python CPU{via_core}, against {base} ms for the "
        f"bare Strawberry app returning the same response through graphql-core "
        f"({_layer(anatomy, b, 'graphql-core', 'strawberry')} ms of it in graphql-core + "
        f"Strawberry). What is left in the gateway's GraphQL layers is {graphql} ms; the rest is the "
        "personalization itself: consent snapshot, user facts, tag and feed rules, a decision "
        f"record per explained choice, the audit commit ({trips:.0f} database round trips, "
        f"{waiting:.1f} ms waiting per request when alone, and PostgreSQL's own CPU for them), and "
        f"the C-level work of building and serialising {_layer(anatomy, g, 'builtins (C calls)')} ms. "
        f"With {nproc} CPUs shared by the gateway, PostgreSQL and the load generator, throughput "
        f"follows CPU per request: baseline CPU / gateway CPU is {base / cpu:.0%} here, before "
        "PostgreSQL's CPU for those statements, which the baseline does not have. Levers left: "
        "the why records built with less Python per field (resolvers/ is the largest layer), "
        "fewer statements per operation, and the rendered why of unchanged decisions cached.",
    ]


def layout(anatomy: Figures, results: Figures) -> list[str]:
    g = "gateway_layout_304"
    cpu, trips = _a(anatomy, g, "cpu_ms"), _a(anatomy, g, "round_trips")
    plain = results.get("starlette_layout", {})
    if not cpu or not plain:
        return []
    return [
        f"**Layout 304.** A revalidation answers without executing GraphQL and, with the ETag "
        f"inputs in memory (gateway/etag_cache.py), without the database: {cpu} ms of Python CPU "
        f"and {trips:.0f} database round trip(s) per request (the in-process client included). "
        "A matching revalidation is answered by the revalidation lane (gateway/revalidate.py) in "
        "front of the middleware stack, which still does every duty in one place: request id, "
        "principal from the cached token, GPC, rate limit, the ETag from memory, the route's and "
        "the hardening headers, metrics and the JSON access line; anything else goes through the "
        "full chain. The plain endpoint writes bytes from memory (p50 "
        f"{plain.get('p50_ms')} ms under load), so the ratio compares that fixed per-request work "
        "(uvicorn's HTTP parsing is the same for both) with almost none; the access line (JSON "
        "and one write to the log stream, without a LogRecord under the process's own logging "
        "set-up) and the metrics are the largest part left.",
    ]


def ingest(anatomy: Figures, probes: dict[str, float], results: Figures | None = None) -> list[str]:
    g = "gateway_track_events_100"
    copy, stmt = probes.get(COPY_PROBE, 0.0), probes.get(INGEST_PROBE, 0.0)
    if not copy or not stmt:
        return []
    cpu = _a(anatomy, g, "cpu_ms")
    layers = (
        f"{cpu} ms of Python CPU per batch (GraphQL and Strawberry "
        f"{_layer(anatomy, g, 'graphql-core', 'strawberry')} ms, the variables' coercion compiled "
        "once for the trusted document (gateway/inputs.py); then validation, consent snapshots and "
        f"checks) over {_a(anatomy, g, 'round_trips'):.0f} round trips"
        if cpu
        else "its Python layers (run with the anatomy for their CPU per batch)"
    )
    contention = ""
    figures = results or {}
    same, same_copy = figures.get(g + "_same_users"), figures.get("copy_events_rows_same_users")
    if same and same_copy:
        ratio = float(same["rps"]) * 100 / max(float(same_copy["rps"]), 1e-9)
        contention = (
            f" When every request carries the same 100 users (the earlier shape of this scenario) "
            f"the ratio is {ratio:.0%}: the 8 connections' batches wait for each other's row locks "
            "on those users' rollup rows, each held until its commit has waited for the WAL flush."
        )
    parts = ""
    whole = probes.get(ROLLED_BACK, 0.0)
    saved = {
        part: whole - probes[f"{PARTS_OF} {part}"] for part in INGEST_PARTS if f"{PARTS_OF} {part}" in probes
    }
    if whole and saved:
        parts = (
            " Where the statement's time goes (one batch at a time, each part left out in turn, "
            f"rolled back so no commit is timed; the whole: {whole} ms): "
            + ", ".join(f"{part} {ms:.2f} ms" for part, ms in saved.items())
            + f"; the rows themselves with their deduplication about {whole - sum(saved.values()):.2f} ms"
            + (
                f" (a COPY of them, rolled back too: {probes[COPY_ROLLED_BACK]} ms)."
                if COPY_ROLLED_BACK in probes
                else "."
            )
        )
    # The ceiling from throughput on the same connections (commits shared by group commit, as
    # under load); single-call latencies on a shared machine are mostly scheduling noise.
    alone = figures.get("ingest_statement_rows")
    copy_rows = figures.get("copy_events_rows")
    gateway = figures.get(g)
    if alone and copy_rows:
        ceiling = float(alone["rps"]) / max(float(copy_rows["rps"]), 1e-9)
        reached = (
            f"; trackEvents reaches {float(gateway['rps']) * 100 / max(float(alone['rps']), 1e-9):.0%} "
            "of the statement alone"
            if gateway
            else ""
        )
        bound = (
            "on the same connections over the same batches, the statement alone "
            f"writes {float(alone['rps']):,.0f} rows/s against COPY's {float(copy_rows['rps']):,.0f}: "
            f"{ceiling:.0%} of COPY's rate before any Python runs{reached}"
        )
    else:
        bound = (
            f"one batch at a time, {stmt} ms against {copy} ms with their commits "
            f"(at most {copy / stmt:.0%} before any Python runs)"
        )
    return [
        "**trackEvents vs COPY.** The database alone, for batches of 100: the gateway's statement "
        f"(`ingest_events`) against a COPY of the same rows: {bound}. The statement also "
        "deduplicates (ON CONFLICT on the client's event ids), takes KEY SHARE locks on the "
        "accounts (erasure safety), updates the per-user and per-category rollups in the same "
        f"commit and writes the audit entries.{parts} The gateway adds {layers}; with 2 CPUs shared by "
        "the gateway, PostgreSQL and the load generator, throughput follows the CPU of both per "
        f"batch.{contention} Levers left: larger batches (the per-request cost is fixed), the "
        "catalog check from the per-worker reference cache (one round trip less), the account "
        "locks replaced by the lock the rollup upsert already takes on each user's `user_signals` "
        "row (only if erasure deleted that row before the events: a change to the erasure "
        "protocol, not taken), and moving the rollup maintenance off the request path (which the "
        "design rejects: a feed read right after a batch must see it).",
    ]


def dp(results: Figures) -> list[str]:
    noisy, plain = results.get("dp_users_by_country"), results.get("dp_users_by_country_noiseless")
    if not noisy or not plain:
        return []
    return [
        f"**DP query.** Noise is added to a handful of counts after the aggregate (well under a "
        f"millisecond); the p50s ({noisy['p50_ms']} ms with noise, {plain['p50_ms']} ms without) are "
        "the same SQL over `dp_audience`, so their ratio is the run-to-run variance of that scan "
        "on a shared machine, not the mechanism.",
    ]


def section(
    results: Figures, anatomy: Figures, probes: dict[str, float], machine: dict[str, str]
) -> list[str]:
    paragraphs = [
        personalized(anatomy, machine.get("nproc", "?")),
        layout(anatomy, results),
        ingest(anatomy, probes, results),
        dp(results),
    ]
    out = ["", "## What bounds each path", ""]
    for p in paragraphs:
        if p:
            out += [*p, ""]
    return out if len(out) > 3 else []
