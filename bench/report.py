"""Writes docs/benchmarks.md from one run's figures."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import bounds
from bench.anatomy import REQUESTS as ANATOMY_REQUESTS
from bench.scenarios import Comparison, Scenario

NOTES = """\
## How to read this

Absolute numbers on a shared machine are noise; the ratios, measured in one run against the
same database and the same uvicorn/uvloop settings, are what carries over. The load generator
(`bench/loadgen.py`, raw asyncio sockets, HTTP/1.1 keep-alive) is a separate process on the
same machine, so it competes with the servers for CPU: with few cores every server is
CPU-bound and the ratios compare CPU cost per request.

- **bare Strawberry**: `bench/baselines.py`, the same query shapes answered from static
  objects, with ParserCache and ValidationCache, no auth, middleware or database. For the
  personalized query its types mirror the gateway's exactly (`bench/baseline_types.py`, checked
  by tests/test_bench_harness.py) and are filled from the gateway's own answer, so both
  serialise the same 10 feed items, layout and complete whys.
- **plain Starlette**: returns the gateway's exact response bytes from memory: the ceiling.
- **personalized viewer**: user 1 (persona "power shopper", FULL level, every purpose
  granted): `viewer { tags { ... whys } feed(surface: HOME, limit: 10) { rank item why } }`
  plus `layoutConfig(platform: IOS)`, every `Why` field selected: the trusted document
  `gateway/documents/home.graphql`, run from its compiled plan (docs/performance.md);
  `gateway_personalized_generic` sends the same text plus a comment (so not trusted), run by
  graphql-core's generic execution, in the same run.
- **DP latency view** (issue 10): a heavy user planted through trackEvents, releases timed in
  interleaved pairs with that user in and out of the audience, compared with a two-sided
  Mann-Whitney U test (`bench/dp_timing.py`; `--dp-timing-samples`, 0 skips it).
- **layout 304**: `GET /graphql/persisted/{sha256 of layout.graphql}?variables=...` with the
  ETag from a first GET in `If-None-Match`; the plain endpoint serves the 200 body.
- **trackEvents**: role app, the trusted document `gateway/documents/track.graphql`, 100
  events per request for 100 different users who consented (views, clicks, sessions, feature
  use), new event ids on every request (`--fresh-id` in the load generator). Requests rotate
  over 64 prebuilt batches (`--bodies-file`), each for its own 100 users drawn from the seeded
  population (bench/documents.py `track_event_batches`), as an app's traffic spreads over its
  users; the COPY baseline (`bench/runners.py`) writes the same batches' rows with new ids into
  `events` on as many connections, 100 rows per COPY, taking the batches in turn; its req/s
  column is rows/s. `gateway_track_events_100_same_users` (against
  `copy_events_rows_same_users`) is the earlier shape, kept to show contention: every request
  carries the same 100 users, so the 8 connections' batches queue on those users' rollup rows
  (row locks held until each commit, which waits for the WAL flush). `ingest_statement_rows`
  runs the gateway's own `ingest_events` statement for the same batches on as many connections,
  without any Python layer: the database's ceiling for trackEvents, in rows/s.
- **DP query**: `privacy.dp.templates.run` vs `run_without_noise` for usersBy(COUNTRY)
  (epsilon 1) over the same pool, one call at a time, in process: the answer cache and the
  budget ledger live above `run`, so every call runs the real aggregate over `dp_audience`.
- **rate limits across 2 gateway processes** (`bench/ratelimit.py`): two gateway processes
  (as two hosts would run them) with a limit of 60 requests and no refill during the test; one
  caller sends 240 requests alternating between them, once with both on one Redis (the local
  one, or `GATEWAY_REDIS_URL`) and once without. Met when the pair admits the limit once, not
  once per process.
- The gateway runs with every limit on (rate limits set high so one client does not trip
  them), JSON access logs, Prometheus metrics and the privacy guard's audit writes.

## How to run

- `make bench`: everything except the large database, in a few minutes: embedded PostgreSQL in
  `.data/bench` (or `DATABASE_URL`), seeded once with `gateway seed --users 5000 --events
  50000` and reused afterwards (`--users`/`--events`, or BENCH_USERS/BENCH_EVENTS).
- `make bench BENCH_ARGS="--big"`: the DP scenarios on a 1M users / 10M events database:
  `--big-dsn` (or BENCH_BIG_DATABASE_URL; default an embedded `gateway_bench_big`), seeded
  on first use (`--big-users`, `--big-events`; about 3 min on 2 cores) and reused after.
- `--duration`, `--rounds`, `--warmup`, `--connections`: per scenario; `--workers 1,2,4`:
  the scaling run; `--only a,b`: some scenarios (`rate_limits`: the shared-limit probe);
  `--no-anatomy`: skip the in-process replay; `--output`: where the report goes.
"""


def _each_round(c: Comparison, num: dict[str, Any], den: dict[str, Any]) -> str:
    """The ratio within each interleaved round (the two scenarios ran one after the other, so a
    neighbour's load hits both alike); the table's ratio is that of the median rounds."""
    if c.lower_is_better:
        return "-"
    pairs = zip(num.get("rps_all", []), den.get("rps_all", []), strict=False)
    return ", ".join(f"{a * c.numerator_scale / max(b, 1e-9):.0%}" for a, b in pairs) or "-"


def write_report(
    path: Path,
    machine: dict[str, str],
    command: str,
    data_note: str,
    args: argparse.Namespace,
    scenarios: list[Scenario],
    results: dict[str, dict[str, Any]],
    comparisons: list[Comparison],
    rss: dict[str, float],
    scaling: dict[int, dict[str, Any]],
    db_probes: dict[str, float],
    cpu_probes: dict[str, float],
    anatomy: dict[str, dict[str, float]] | None = None,
    sizes: dict[str, int] | None = None,
    same_answers: dict[str, bool] | None = None,
    target_rows: list[str] | None = None,
    dp_view: list[str] | None = None,
) -> None:
    out: list[str] = [
        "# Benchmarks",
        "",
        f"Generated by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
    ]
    out += ["## Machine", ""] + [f"- {k}: {v}" for k, v in machine.items()]
    out += [
        "",
        f"Data: {data_note}. Each scenario: {args.rounds} interleaved rounds of {args.duration:g} s "
        f"(after {args.warmup:g} s warm-up each), {args.connections} keep-alive connections, "
        "1 gateway worker unless stated; figures are the median round (req/s of every round in the "
        "last column).",
        "",
    ]
    out += [*(target_rows or []), ""] if target_rows else []
    out += [
        "## Ratios",
        "",
        "| comparison | ratio | target | met | each round |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for c in comparisons:
        if c.numerator not in results or c.denominator not in results:
            continue
        num, den = results[c.numerator], results[c.denominator]
        if c.lower_is_better:  # latency ratio (p50), e.g. DP query vs noiseless aggregate
            ratio = num["p50_ms"] / max(den["p50_ms"], 1e-9)
            target = f"<= {c.target:.1f}x" if c.target is not None else "-"
            ok = c.target is None or ratio <= c.target
            shown = f"{ratio:.2f}x"
        else:
            ratio = num["rps"] * c.numerator_scale / max(den["rps"], 1e-9)
            target = f">= {c.target:.0%}" if c.target is not None else "-"
            ok = c.target is None or ratio >= c.target
            shown = f"{ratio:.0%}"
        met = "-" if c.target is None else ("yes" if ok else f"no ({c.note})")
        out.append(f"| {c.label} | {shown} | {target} | {met} | {_each_round(c, num, den)} |")
    out += [
        "",
        "## Scenarios",
        "",
        "| scenario | server | req/s | p50 ms | p99 ms | not 200/304 | errors | req/s per round |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for s in scenarios:
        r = results.get(s.name)
        if r is None:
            continue
        non_200 = sum(v for k, v in r.get("statuses", {}).items() if k not in ("200", "304"))
        every = ", ".join(f"{x:.0f}" if x >= 10 else f"{x:.2f}" for x in r.get("rps_all", [r["rps"]]))
        cells = [
            s.name,
            s.server,
            f"{r['rps']:.0f}" if r["rps"] >= 10 else f"{r['rps']:.2f}",
            r["p50_ms"],
            r["p99_ms"],
            non_200,
            r.get("errors", 0),
            every,
        ]
        out.append("| " + " | ".join(str(c) for c in cells) + " |")
    if sizes:
        out += [
            "",
            "Response bodies of the gateway (bytes): " + ", ".join(f"{k} {v}" for k, v in sizes.items()),
        ]
    if same_answers:
        out += [
            "",
            "The bare Strawberry app answers with exactly the gateway's JSON: "
            + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in same_answers.items()),
        ]
    out += ["", "## Memory after the run (RSS)", ""] + [f"- {k}: {v} MiB" for k, v in rss.items()]
    if scaling:
        base = scaling.get(1, {}).get("rps") or 1
        out += [
            "",
            "## Gateway workers",
            "",
            "| workers | req/s | vs 1 worker | p50 ms | p99 ms | RSS MiB |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for workers, r in sorted(scaling.items()):
            out.append(
                f"| {workers} | {r['rps']:.0f} | {r['rps'] / base:.2f}x | {r['p50_ms']} | {r['p99_ms']} | "
                f"{r.get('rss_mib', rss.get('gateway', '-'))} |"
            )
        out += [
            "",
            f"{machine['nproc']} CPUs are shared by the workers, PostgreSQL and the load generator: "
            "workers beyond the core count add throughput only by overlapping database waits, and "
            "each adds its own memory.",
        ]
    out += [
        "",
        "## What bounds the database-backed scenarios",
        "",
        "Latency of single statements on the benchmark database, measured in the same run (ms):",
        "",
    ]
    out += [f"- {k}: {v} ms" for k, v in db_probes.items()]
    out += [
        "",
        "Every personalized operation ends with one `log_operation` call: its audit entries and",
        "decision records in one round trip, committed without waiting for the WAL flush",
        "(migration 0050; a crash of PostgreSQL itself may lose the last ~0.6 s of log rows).",
        "Event ingestion keeps full durability: each batch waits for its flush, which is part of",
        "what the trackEvents scenario measures (the COPY baseline waits for it too).",
    ]
    if anatomy:
        out += [
            "",
            "## Anatomy of one request (in process, one request at a time)",
            "",
            "Each HTTP scenario replayed through the real app over httpx's ASGI transport "
            f"(`bench/anatomy.py`, {ANATOMY_REQUESTS} requests): wall time, Python CPU of the process "
            "(the app plus the small in-process client), the rest spent waiting (the database), and "
            "database round trips (every asyncpg statement, BEGIN/COMMIT and any reset on release included).",
            "",
            "| scenario | wall ms | Python CPU ms | waiting ms | DB round trips |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for name, a in anatomy.items():
            waiting = max(a["wall_ms"] - a["cpu_ms"], 0.0)
            out.append(f"| {name} | {a['wall_ms']} | {a['cpu_ms']} | {waiting:.2f} | {a['round_trips']} |")
        out += [
            "",
            "Python CPU per request by layer (ms; cProfile self time per package, scaled to the CPU "
            "time above; 'builtins' are C calls such as JSON, hashing and socket I/O):",
            "",
        ]
        for name, a in anatomy.items():
            layers = [
                (k.removeprefix("layer:"), v) for k, v in a.items() if k.startswith("layer:") and v >= 0.05
            ]
            out.append(f"- {name}: " + ", ".join(f"{k} {v}" for k, v in layers))
    out += bounds.section(results, anatomy or {}, db_probes, machine)
    if dp_view:
        out += ["", "", *dp_view]
    out += ["", "## What the gateway's own layers cost per request (CPU, in-process, same run)", ""]
    out += [f"- {k}: {v} µs" for k, v in cpu_probes.items()]
    out += [
        "",
        "Verified tokens are cached per process (bounded, expiry re-checked on each hit), so the",
        "JWT cost above is paid once per token and worker, not per request.",
    ]
    out += ["", NOTES]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")
