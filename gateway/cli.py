"""`gateway serve | worker | jobs | migrate | seed | refresh-segments | train | models |
evaluate-model | token | export-schema`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gateway.settings import Settings
from privacy.principal import Role, parse_user_id

log = logging.getLogger("gateway")
DEFAULT_SEED_USERS = 5000
DEFAULT_SEED_EVENTS = 100_000


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The configured database, or the embedded one started for the duration."""
    if settings.database_url is not None:
        yield settings.database_url.get_secret_value()
        return
    from gateway.embedded import embedded_postgres

    with embedded_postgres(settings.data_dir) as dsn:
        yield dsn


def _migrate(dsn: str) -> None:
    from sql import migrate

    applied = asyncio.run(migrate(dsn))
    print(f"migrations applied: {applied or 'none (up to date)'}", file=sys.stderr)


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    with database(settings) as dsn:
        _migrate(dsn)
    return 0


def cmd_seed(settings: Settings, args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from demo.seed import DatabaseNotEmpty, SeedConfig, seed_database

    try:
        config = SeedConfig(users=args.users, events=args.events, seed=args.seed)
    except ValidationError as exc:
        print(f"invalid seed options: {exc}", file=sys.stderr)
        return 2
    with database(settings) as dsn:
        _migrate(dsn)
        try:
            asyncio.run(seed_database(dsn, config, progress=sys.stderr.isatty(), replace=args.replace))
        except DatabaseNotEmpty as exc:
            print(f"not seeding: {exc}", file=sys.stderr)
            return 1
    return 0


async def _user_count(dsn: str) -> int:
    import asyncpg

    from sql import load_queries

    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(load_queries().user_count))
    finally:
        await conn.close()


async def _refresh_segments(dsn: str, settings: Settings) -> str:
    import uuid

    from privacy.principal import Principal
    from resolvers.segments.members import refresh_members
    from sql.pool import create_pool

    pool = await create_pool(
        dsn, max_size=2, statement_timeout_ms=60_000, application_name="refresh-segments"
    )
    try:
        c = await refresh_members(
            pool, Principal(Role.ADMIN, "refresh-segments"), settings.domain, request_id=str(uuid.uuid4())
        )
    finally:
        await pool.close()
    return (
        f"users {c.users}, skipped (no consent) {c.skipped}, memberships {c.memberships}, changed {c.changed}"
    )


def cmd_refresh_segments(settings: Settings, args: argparse.Namespace) -> int:
    """Store who is in each live segment (the analysts' SEGMENT dimension); run it periodically
    where segments are not refreshed on save (large worlds)."""
    with database(settings) as dsn:
        _migrate(dsn)
        print(asyncio.run(_refresh_segments(dsn, settings)), file=sys.stderr)
    return 0


async def _with_pool(dsn: str, name: str, work: Any) -> Any:
    from sql.pool import create_pool

    pool = await create_pool(dsn, max_size=2, statement_timeout_ms=600_000, application_name=name)
    try:
        return await work(pool)
    finally:
        await pool.close()


def _epsilon_arg(raw: str) -> float:
    value = float(raw)
    if not 0 < value <= 10:
        raise argparse.ArgumentTypeError("epsilon must be in (0, 10]")
    return value


def cmd_train(settings: Settings, args: argparse.Namespace) -> int:
    """Train the purchase-propensity model with differential privacy on the consented users,
    charge its ε to the ledger and store (and activate) a new version."""
    from jobs import propensity

    actor = args.actor or f"cli:{os.environ.get('USER', 'operator')}"
    with database(settings) as dsn:
        _migrate(dsn)
        result = asyncio.run(
            _with_pool(
                dsn,
                "train",
                lambda pool: propensity.train(
                    pool, settings.domain, actor, epsilon=args.epsilon, activate=not args.no_activate
                ),
            )
        )
    if isinstance(result, propensity.Refused):
        print(f"not trained ({result.reason}): {result.detail}", file=sys.stderr)
        return 1
    print(
        f"model propensity version {result.version}: ε {result.epsilon} charged "
        f"(event {result.charge_event}), "
        f"noisy training size {result.noisy_training_size}, cut-off {result.cutoff.date()}, "
        f"ε left {result.remaining}",
        file=sys.stderr,
    )
    return 0


def cmd_models(settings: Settings, args: argparse.Namespace) -> int:
    """List the stored versions, roll back to the previous one, or activate one."""
    from jobs import propensity

    actor = args.actor or f"cli:{os.environ.get('USER', 'operator')}"

    async def work(pool: Any) -> tuple[int, str]:
        if args.action == "list":
            rows = await propensity.versions(pool)
            lines = [
                f"{'*' if r['active'] else ' '} v{r['version']} ε {r['epsilon']} "
                f"n≈{r['noisy_training_size']} "
                f"cut-off {r['cutoff'].date()} by {r['created_by']} at {r['created_at']:%Y-%m-%d %H:%M}"
                for r in rows
            ]
            return 0, "\n".join(lines) or "no model stored"
        done = (
            await propensity.rollback(pool, actor)
            if args.action == "rollback"
            else await propensity.activate(pool, args.version, actor)
        )
        if done is None:
            return 1, "nothing to roll back to" if args.action == "rollback" else "no such version"
        return 0, f"serving version {done[1]} (was {done[0]})"

    with database(settings) as dsn:
        _migrate(dsn)
        code, text = asyncio.run(_with_pool(dsn, "models", work))
    print(text)
    return int(code)


def cmd_evaluate_model(settings: Settings, args: argparse.Namespace) -> int:
    """The stored model on the held-out users: AUC and calibration (operators' report)."""
    import json

    from jobs import propensity

    with database(settings) as dsn:
        _migrate(dsn)
        ev = asyncio.run(
            _with_pool(
                dsn, "evaluate-model", lambda pool: propensity.evaluate(pool, settings.domain, args.version)
            )
        )
    if ev is None:
        print("no such model version (or none active)", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "version": ev.version,
                "held_out_users": ev.holdout_users,
                "held_out_positive_rate": round(ev.holdout_positive_rate, 4),
                "auc": round(ev.auc, 4),
                "calibration": ev.calibration,
            },
            indent=2,
        )
    )
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    with database(settings) as dsn:
        if not args.no_migrate:
            _migrate(dsn)
        if args.seed_if_empty and asyncio.run(_user_count(dsn)) == 0:
            from demo.seed import SeedConfig, seed_database

            print("empty database: loading demo data", file=sys.stderr)
            asyncio.run(
                seed_database(
                    dsn,
                    SeedConfig(users=DEFAULT_SEED_USERS, events=DEFAULT_SEED_EVENTS, seed=1),
                    progress=sys.stderr.isatty(),
                )
            )
        # Workers (and the job worker) inherit the database through the environment, so only
        # this process owns the embedded server and it stops when serving ends.
        os.environ["DATABASE_URL"] = dsn
        # uvicorn re-raises the signal that stopped it; turn SIGTERM into SystemExit so the
        # embedded server is stopped by the context manager instead of being left running.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        worker = _start_worker() if args.worker else None
        try:
            print(f"serving on http://{settings.host}:{settings.port}/graphql", file=sys.stderr)
            uvicorn.run(
                "gateway.cli:app_from_environment",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=settings.workers if settings.workers > 1 else None,
                loop="uvloop" if sys.platform != "win32" else "asyncio",
                log_level="warning",
                access_log=False,
                proxy_headers=False,
            )
        finally:
            if worker is not None:
                _stop_worker(worker)
    return 0


def _start_worker() -> subprocess.Popen[bytes]:
    """`gateway worker` beside the server, on the same database (DATABASE_URL is set by now).
    In its own session, so a Ctrl-C in the terminal reaches only this process, which then stops
    the worker once (gracefully) after the server; and it exits by itself if this process dies."""
    print("starting the job worker", file=sys.stderr)
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "worker", "--no-migrate", "--exit-with-parent"],
        start_new_session=True,
    )


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    from jobs.worker import SHUTDOWN_GRACE_S

    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)  # the worker's first signal: finish running jobs, then exit
    try:
        worker.wait(SHUTDOWN_GRACE_S + 10)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        worker.send_signal(signal.SIGTERM)  # a second Ctrl-C, or too slow: stop now
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Run the background jobs (schedules, outbox delivery, retention) until SIGINT/SIGTERM."""
    from jobs.worker import run_worker

    with database(settings) as dsn:
        if not args.no_migrate:
            _migrate(dsn)
        parent = os.getppid() if args.exit_with_parent else None
        asyncio.run(run_worker(dsn, settings.jobs, settings.domain, parent_pid=parent))
    return 0


async def _jobs(dsn: str, args: argparse.Namespace) -> str:
    import asyncpg

    from jobs import status

    conn = await asyncpg.connect(dsn)
    try:
        if args.action == "run":
            from pgqueuer import AsyncpgDriver, Queries

            from jobs.queue import enqueue

            job_id = await enqueue(Queries(AsyncpgDriver(conn)), args.name)
            return (
                f"queued {args.name} as job {job_id}"
                if job_id
                else f"{args.name} is already queued or running"
            )
        if args.action == "retry":
            from pgqueuer import AsyncpgDriver, JobId, Queries

            await Queries(AsyncpgDriver(conn)).requeue_jobs([JobId(args.job_id)])
            return f"job {args.job_id} queued again (if it was held as failed)"
        runs = await status.job_runs(conn, args.status, args.name, args.limit)
        return status.table(runs, await status.schedules(conn))
    finally:
        await conn.close()


def cmd_jobs(settings: Settings, args: argparse.Namespace) -> int:
    """List the background jobs (status, last error) and schedules, or queue one now."""
    from jobs import status
    from jobs.queue import BY_NAME

    if args.action == "run" and args.name not in BY_NAME:
        print(f"no job named {args.name!r}; jobs: {', '.join(BY_NAME)}", file=sys.stderr)
        return 2
    if args.action == "list" and not 1 <= args.limit <= status.MAX_LIMIT:
        print(f"--limit must be between 1 and {status.MAX_LIMIT}", file=sys.stderr)
        return 2
    with database(settings) as dsn:
        _migrate(dsn)
        print(asyncio.run(_jobs(dsn, args)))
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def app_from_environment() -> object:
    from gateway.app import create_app
    from gateway.observability import configure_logging

    configure_logging()  # each worker process: JSON lines on stderr
    return create_app(Settings())


def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.auth import issue_token

    role = Role(args.role)
    if role is Role.ANONYMOUS:
        print("anonymous requests carry no token", file=sys.stderr)
        return 2
    if role is Role.USER and parse_user_id(args.sub) is None:
        print("--sub must be a user id (digits, no leading zero) for role user", file=sys.stderr)
        return 2
    private_key = Path(args.private_key).read_text() if args.private_key else None
    print(issue_token(settings, role, args.sub, ttl_s=args.ttl, private_key=private_key))
    return 0


def cmd_export_schema(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.schema import schema_sdl

    sdl = schema_sdl()
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gateway", description="GraphQL personalization gateway")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="migrate, optionally seed, and serve HTTP")
    s.add_argument("--seed-if-empty", action="store_true", help="load demo data when there are no users")
    s.add_argument("--no-migrate", action="store_true")
    s.add_argument("--worker", action="store_true", help="also run the job worker beside the server")
    s.set_defaults(func=cmd_serve)

    w = sub.add_parser("worker", help="run the background jobs until SIGINT/SIGTERM")
    w.add_argument("--no-migrate", action="store_true")
    w.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    w.set_defaults(func=cmd_worker)

    j = sub.add_parser("jobs", help="list background jobs and schedules, or queue a job now")
    jsub = j.add_subparsers(dest="action", required=True)
    jl = jsub.add_parser("list", help="the newest jobs with status and last error, and the schedules")
    jl.add_argument("--status", choices=["queued", "picked", "successful", "exception", "canceled", "failed"])
    jl.add_argument("--name", help="only this job")
    jl.add_argument("--limit", type=int, default=30)
    jr = jsub.add_parser("run", help="queue a job now (no-op while one is queued or running)")
    jr.add_argument("name")
    jy = jsub.add_parser("retry", help="queue a job held as failed again")
    jy.add_argument("job_id", type=int)
    j.set_defaults(func=cmd_jobs)

    m = sub.add_parser("migrate", help="apply pending migrations")
    m.set_defaults(func=cmd_migrate)

    d = sub.add_parser("seed", help="generate deterministic demo data")
    d.add_argument("--users", type=int, default=DEFAULT_SEED_USERS)
    d.add_argument("--events", type=int, default=DEFAULT_SEED_EVENTS)
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--replace", action="store_true", help="delete existing demo data first")
    d.set_defaults(func=cmd_seed)

    r = sub.add_parser("refresh-segments", help="re-evaluate segment membership for analytics")
    r.set_defaults(func=cmd_refresh_segments)

    tr = sub.add_parser("train", help="train the purchase-propensity model with differential privacy")
    tr.add_argument("--epsilon", type=_epsilon_arg, help="ε of the model (default: propensity.epsilon)")
    tr.add_argument("--no-activate", action="store_true", help="store the version without serving it")
    tr.add_argument("--actor", help="who trains (model card; default cli:$USER)")
    tr.set_defaults(func=cmd_train)

    ms = sub.add_parser("models", help="list, roll back or activate versions of the propensity model")
    msub = ms.add_subparsers(dest="action", required=True)
    msub.add_parser("list", help="stored versions, the active one starred")
    msub.add_parser("rollback", help="serve the version before the active one")
    ma = msub.add_parser("activate", help="serve this version")
    ma.add_argument("version", type=int)
    ms.add_argument("--actor", help="who changes it (recorded; default cli:$USER)")
    ms.set_defaults(func=cmd_models)

    ev = sub.add_parser("evaluate-model", help="AUC and calibration of a stored model on held-out users")
    ev.add_argument("--version", type=int, help="default: the active version")
    ev.set_defaults(func=cmd_evaluate_model)

    t = sub.add_parser("token", help="print a signed token for trying the API")
    t.add_argument("--role", required=True, choices=[r.value for r in Role if r is not Role.ANONYMOUS])
    t.add_argument("--sub", required=True, help="user id (role user) or principal name")
    t.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    t.add_argument("--private-key", help="PEM file to sign RS256 (production keys)")
    t.set_defaults(func=cmd_token)

    e = sub.add_parser("export-schema", help="print the GraphQL SDL")
    e.add_argument("--output", "-o", default="-")
    e.set_defaults(func=cmd_export_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    from gateway.observability import configure_logging

    configure_logging()
    args = parser().parse_args(argv)
    try:
        settings = Settings()
    except Exception as exc:
        print(f"invalid settings: {exc}", file=sys.stderr)
        return 2
    return int(args.func(settings, args))


if __name__ == "__main__":
    raise SystemExit(main())
