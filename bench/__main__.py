"""`make bench` / `python -m bench`: the gateway and its baselines side by side, in one run, on
loopback, against the same seeded database; writes docs/benchmarks.md."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from bench import database, dp_timing, machine, probes, ratelimit, runners, targets
from bench.documents import FRESH_ID
from bench.loadgen import request_maker
from bench.report import write_report
from bench.scenarios import COMPARISONS, SCALING_SCENARIO, SCENARIOS, Scenario
from bench.servers import Server, serve


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--duration", type=float, default=3.0, help="seconds per scenario and round")
    p.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; the report shows the median round"
    )
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of uncounted load before each scenario")
    p.add_argument("--users", type=int, default=int(os.environ.get("BENCH_USERS", 5000)))
    p.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", 50_000)))
    p.add_argument("--workers", default="1,2,4", help="gateway worker counts for the scaling run")
    p.add_argument("--data-dir", type=Path, default=Path(".data/bench"))
    p.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    p.add_argument(
        "--only", default="", help="comma-separated scenario names (rate_limits: the shared-limit row)"
    )
    p.add_argument(
        "--big",
        action="store_true",
        help="run the DP scenarios on a large database (seeded once with --big-users/--big-events when "
        "empty, reused afterwards); without it they run on the default bench database",
    )
    p.add_argument(
        "--big-dsn",
        default=os.environ.get("BENCH_BIG_DATABASE_URL"),
        help="the large database (default: BENCH_BIG_DATABASE_URL, else an embedded 'gateway_bench_big')",
    )
    p.add_argument(
        "--no-anatomy",
        dest="anatomy",
        action="store_false",
        help="skip replaying each scenario in process (CPU and database round trips per request)",
    )
    p.add_argument(
        "--dp-timing-samples",
        type=int,
        default=30,
        help="interleaved pairs per DP template for the heavy-user latency view (0: skip it)",
    )
    p.add_argument("--big-users", type=int, default=1_000_000)
    p.add_argument("--big-events", type=int, default=10_000_000)
    return p.parse_args()


def loadgen(
    server: Server, scenario: Scenario, headers: dict[str, str], args: argparse.Namespace, users: list[int]
) -> dict[str, Any]:
    bodies = scenario.bodies(users)
    if len(bodies) > 1:  # too long for one command line: in a file the load generator reads
        listed = Path(tempfile.mkdtemp(prefix="bench-bodies-")) / f"{scenario.name}.json"
        listed.write_text(json.dumps(bodies))
        body_args = ["--bodies-file", str(listed)]
    else:
        body_args = ["--body", bodies[0]]
    cmd = [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--port",
        str(server.port),
        "--method",
        scenario.method,
        "--path",
        scenario.path or "/graphql",
        *body_args,
        "--headers",
        json.dumps(headers),
        "--duration",
        str(args.duration),
        "--connections",
        str(args.connections),
        "--warmup",
        str(args.warmup),
        "--fresh-id",
        FRESH_ID if scenario.fresh_ids else "",
    ]
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=args.duration + 60)
    finally:
        if len(bodies) > 1:
            shutil.rmtree(listed.parent, ignore_errors=True)
    return dict(json.loads(out.stdout))


def main() -> int:
    args = parse()
    from gateway.auth import issue_token
    from gateway.settings import Environment, Settings
    from privacy.principal import Role

    secret = secrets.token_urlsafe(48)
    token_settings = Settings(environment=Environment.TEST, jwt_secret=secret)
    tokens = {
        role.value: issue_token(
            token_settings, role, "1" if role is Role.USER else f"bench-{role.value}", ttl_s=7200
        )
        for role in Role
        if role is not Role.ANONYMOUS
    }
    args.data_dir.mkdir(parents=True, exist_ok=True)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    selected = [s for s in SCENARIOS if not args.only or s.name in args.only.split(",")]

    with ExitStack() as stack:
        dsn = os.environ.get("DATABASE_URL")
        if dsn is None:
            from gateway.embedded import embedded_postgres

            dsn = stack.enter_context(embedded_postgres(args.data_dir, database="gateway_bench"))
        data_note = database.prepare(dsn, args.users, args.events)
        users = database.event_owners(dsn)
        big_dsn = dsn
        if args.big and any(s.big for s in selected):
            if args.big_dsn is None and os.environ.get("DATABASE_URL"):
                raise SystemExit("--big with DATABASE_URL needs --big-dsn (or BENCH_BIG_DATABASE_URL)")
            big_dsn = args.big_dsn or database.big_sibling(dsn, args.data_dir)
            big_note = database.prepare(big_dsn, args.big_users, args.big_events)
            data_note += f"; DP scenarios on the large database: {big_note}"
        else:
            data_note += "; DP scenarios on the same database (run with --big for 1M users / 10M events)"
        print(f"data: {data_note}", file=sys.stderr)
        db_probes = probes.probe(dsn) | runners.ingest_probe(dsn)
        cpu_probes = probes.cpu()
        print(f"database probes (ms): {db_probes}; gateway layers (us): {cpu_probes}", file=sys.stderr)
        env = {
            "DATABASE_URL": dsn,
            "GATEWAY_ENVIRONMENT": "test",
            "GATEWAY_JWT_SECRET": secret,
            "GATEWAY_DATA_DIR": str(args.data_dir),
            # The limits stay on (their checks run) but must not bind a load test from one client.
            "GATEWAY_DOMAIN__LIMITS__RATE_PER_S": "1000000",
            "GATEWAY_DOMAIN__LIMITS__RATE_BURST": "1000000",
        }
        static_file = log_dir / "static.json"
        env["BENCH_STATIC_FILE"] = str(static_file)
        results: dict[str, dict[str, Any]] = {}
        rss: dict[str, float] = {}

        gateway = stack.enter_context(serve("gateway", env, log_dir))
        bodies = {}
        etags: dict[str, str] = {}
        for s in SCENARIOS:  # the baselines serve exactly what the gateway answered
            if s.server != "gateway":
                continue
            url = f"http://127.0.0.1:{gateway.port}{s.path or '/graphql'}"
            body = request_maker(s.body(users).encode(), FRESH_ID if s.fresh_ids else "")()
            headers = {**_headers(s, tokens), "Content-Type": "application/json"}
            r = httpx.request(s.method, url, content=body or None, headers=headers, timeout=30)
            r.raise_for_status()
            if "errors" in r.text[:20] or '"InvalidInput"' in r.text:
                raise RuntimeError(f"{s.name}: the gateway did not answer as expected: {r.text[:2000]}")
            bodies[s.name] = r.text
            print(f"{s.name} answers {len(r.content)} bytes: {r.text[:160]}", file=sys.stderr)
            if s.if_none_match:
                etags[s.name] = r.headers["etag"]
        static_file.write_text(json.dumps(bodies))
        strawberry = stack.enter_context(serve("strawberry", env, log_dir))
        starlette = stack.enter_context(serve("starlette", env, log_dir))
        servers = {"gateway": gateway, "strawberry": strawberry, "starlette": starlette}
        shapes = _same_answers(strawberry, bodies)

        # Interleaved rounds (A B C, A B C, ...): load from other work on a shared machine then
        # hits every scenario alike, and the median round is reported.
        rounds: dict[str, list[dict[str, Any]]] = {s.name: [] for s in selected}
        for round_no in range(args.rounds):
            for s in selected:
                if s.runner is not None:
                    run = s.runner(big_dsn if s.big else dsn, args.duration, args.connections)
                else:
                    headers = _headers(s, tokens)
                    if s.name in etags:
                        headers["If-None-Match"] = etags[s.name]
                    run = loadgen(servers[s.server], s, headers, args, users)
                rounds[s.name].append(run)
                print(f"round {round_no + 1} {s.name}: {run}", file=sys.stderr)
        results = {name: _median(rs) for name, rs in rounds.items()}
        dp_view: list[dict[str, Any]] = []
        planted = ""
        if args.dp_timing_samples > 0 and any(s.big for s in selected):
            # Through the gateway (the attacker's path), into the database the DP scenarios use.
            if big_dsn != dsn:
                print("heavy user: planted in the large database through a gateway on it", file=sys.stderr)
                with serve("gateway", {**env, "DATABASE_URL": big_dsn}, log_dir) as on_big:
                    planted = asyncio.run(dp_timing.plant(big_dsn, on_big.port, tokens["app"]))
            else:
                planted = asyncio.run(dp_timing.plant(dsn, gateway.port, tokens["app"]))
            print(f"heavy user: {planted}", file=sys.stderr)
            try:
                dp_view = dp_timing.measure(big_dsn, args.dp_timing_samples)
            finally:
                dp_timing.remove(big_dsn)  # the reused database stays as seeded
            print(f"DP latency view: {[(r['template'], r['p']) for r in dp_view]}", file=sys.stderr)
        anatomy = _anatomy(selected, env, tokens, etags, users) if args.anatomy else {}
        for name, server in servers.items():
            rss[name] = server.rss_mib()

        scaling: dict[int, dict[str, Any]] = {}
        scenario = next((s for s in SCENARIOS if s.name == SCALING_SCENARIO), None)
        if scenario is not None and scenario in selected:
            for workers in [int(w) for w in args.workers.split(",")]:
                if workers == 1:
                    scaling[1] = results[scenario.name]
                    continue
                print(f"running {scenario.name} with {workers} workers ...", file=sys.stderr)
                with serve("gateway", env, log_dir, workers=workers) as many:
                    scaling[workers] = loadgen(many, scenario, _headers(scenario, tokens), args, users)
                    scaling[workers]["rss_mib"] = many.rss_mib()
                print(f"  {scaling[workers]}", file=sys.stderr)
        limits = None
        if not args.only or "rate_limits" in args.only.split(","):
            limits = ratelimit.measure(env, log_dir, tokens["app"])
            print(f"rate limits over two processes: {limits}", file=sys.stderr)

    command = "make bench  (python -m bench " + " ".join(sys.argv[1:]) + ")"
    write_report(
        args.output,
        machine.describe(),
        command,
        data_note,
        args,
        selected,
        results,
        COMPARISONS,
        rss,
        scaling,
        db_probes,
        cpu_probes,
        anatomy,
        {name: len(body.encode()) for name, body in bodies.items()},
        shapes,
        targets.rows(results, rss, args.big, args.big_users, args.big_events, limits),
        dp_timing.section(dp_view, planted, args.dp_timing_samples, data_note.split("; ")[-1]),
    )
    print(f"wrote {args.output}", file=sys.stderr)
    shutil.rmtree(log_dir, ignore_errors=True)  # kept only when the run failed, for its logs
    return 0


def _same_answers(strawberry: Server, bodies: dict[str, str]) -> dict[str, bool]:
    """Whether the bare Strawberry app answers each shared query with exactly the gateway's JSON
    (the 'same shape' the ratio assumes; the personalized answer is built from the gateway's)."""
    out: dict[str, bool] = {}
    for s in SCENARIOS:
        twin = f"gateway_{s.name.removeprefix('strawberry_')}"
        if s.server != "strawberry" or twin not in bodies or not s.query:
            continue
        r = httpx.post(f"http://127.0.0.1:{strawberry.port}/graphql", json={"query": s.query}, timeout=30)
        out[s.name] = r.json() == json.loads(bodies[twin])
    return out


def _anatomy(
    selected: list[Scenario],
    env: dict[str, str],
    tokens: dict[str, str],
    etags: dict[str, str],
    users: list[int],
) -> dict[str, dict[str, float]]:
    """One request at a time, in process: wall, CPU, database round trips (bench.anatomy)."""
    requests: dict[str, dict[str, tuple[str, str, bytes, dict[str, str]]]] = {"gateway": {}, "strawberry": {}}
    for s in selected:
        if s.server not in requests:
            continue
        headers = _headers(s, tokens)
        if s.query:
            headers["Content-Type"] = "application/json"
        if s.name in etags:
            headers["If-None-Match"] = etags[s.name]
        requests[s.server][s.name] = (s.method, s.path or "/graphql", s.body(users).encode(), headers)
    # In a child process each: the gateway's settings come from the environment at import.
    out: dict[str, dict[str, float]] = {}
    for server, reqs in requests.items():
        if reqs:
            payload = {"env": env, "requests": {k: (m, p, b.decode(), h) for k, (m, p, b, h) in reqs.items()}}
            done = subprocess.run(
                [sys.executable, "-m", "bench.anatomy", server],
                input=json.dumps(payload),
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0:
                print(f"anatomy of {server} failed: {done.stderr[-2000:]}", file=sys.stderr)
                continue
            out.update(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"anatomy: {out}", file=sys.stderr)
    return out


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["rps"])
    median = dict(ordered[len(ordered) // 2])
    median["rps_all"] = [r["rps"] for r in runs]
    return median


def _headers(s: Scenario, tokens: dict[str, str]) -> dict[str, str]:
    headers = dict(s.headers)
    if s.server == "gateway" and s.role is not None:
        headers["Authorization"] = f"Bearer {tokens[s.role]}"
    return headers


if __name__ == "__main__":
    raise SystemExit(main())
