"""`make bench` / `python -m bench`: the gateway and its baselines side by side, in one run, on
loopback, against the same seeded database; writes docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from bench import database, machine, probes
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
    p.add_argument("--users", type=int, default=int(os.environ.get("BENCH_USERS", 5000)))
    p.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", 50_000)))
    p.add_argument("--workers", default="1,2,4", help="gateway worker counts for the scaling run")
    p.add_argument("--data-dir", type=Path, default=Path(".data/bench"))
    p.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    p.add_argument("--only", default="", help="comma-separated scenario names")
    return p.parse_args()


def loadgen(
    server: Server, scenario: Scenario, headers: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
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
        "--body",
        scenario.body(),
        "--headers",
        json.dumps(headers),
        "--duration",
        str(args.duration),
        "--connections",
        str(args.connections),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=args.duration + 60)
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
        print(f"data: {data_note}", file=sys.stderr)
        db_probes = probes.probe(dsn)
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
        strawberry = stack.enter_context(serve("strawberry", env, log_dir))
        bodies = {}
        etags: dict[str, str] = {}
        for s in SCENARIOS:  # the plain endpoint serves exactly what the gateway answered
            if s.server != "gateway":
                continue
            url = f"http://127.0.0.1:{gateway.port}{s.path or '/graphql'}"
            if s.query:
                r = httpx.post(url, json={"query": s.query}, headers=_headers(s, tokens))
            else:
                r = httpx.request(s.method, url, headers=_headers(s, tokens))
            r.raise_for_status()
            bodies[s.name] = r.text
            if s.if_none_match:
                etags[s.name] = r.headers["etag"]
        static_file.write_text(json.dumps(bodies))
        starlette = stack.enter_context(serve("starlette", env, log_dir))
        servers = {"gateway": gateway, "strawberry": strawberry, "starlette": starlette}

        # Interleaved rounds (A B C, A B C, ...): load from other work on a shared machine then
        # hits every scenario alike, and the median round is reported.
        rounds: dict[str, list[dict[str, Any]]] = {s.name: [] for s in selected}
        for round_no in range(args.rounds):
            for s in selected:
                if s.runner is not None:
                    run = s.runner(dsn, args.duration)
                else:
                    headers = _headers(s, tokens)
                    if s.name in etags:
                        headers["If-None-Match"] = etags[s.name]
                    run = loadgen(servers[s.server], s, headers, args)
                rounds[s.name].append(run)
                print(f"round {round_no + 1} {s.name}: {run}", file=sys.stderr)
        results = {name: _median(rs) for name, rs in rounds.items()}
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
                    scaling[workers] = loadgen(many, scenario, _headers(scenario, tokens), args)
                    scaling[workers]["rss_mib"] = many.rss_mib()
                print(f"  {scaling[workers]}", file=sys.stderr)

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
    )
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


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
