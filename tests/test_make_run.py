"""`make run` on a fresh data folder: the gateway (embedded PostgreSQL, demo data) and the job
worker beside it on the same embedded server; a Ctrl-C stops both, and the embedded server too."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from gateway.embedded import dsn_for
from tests.jobs_support import until
from tests.outage import free_port

pytestmark = [pytest.mark.slow, pytest.mark.embedded_only]
ROOT = Path(__file__).resolve().parent.parent


def make_run_arguments() -> list[str]:
    """The arguments `make run` gives `gateway`, read from the Makefile (so the two cannot drift)."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    recipe = lines[lines.index(next(ln for ln in lines if ln.startswith("run:"))) + 1].strip()
    words = shlex.split(recipe)
    assert words[0] == "$(BIN)/gateway", recipe
    return words[1:]


async def _worker_connected(data: Path) -> bool:
    try:
        conn = await asyncpg.connect(dsn_for(data / "pg", "gateway"))
    except (OSError, asyncpg.PostgresError):
        return False
    try:
        return bool(
            await conn.fetchval(
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'gateway-worker'"
            )
        )
    finally:
        await conn.close()


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def test_make_run_starts_the_gateway_and_a_worker_and_ctrl_c_stops_both() -> None:
    assert make_run_arguments() == ["serve", "--seed-if-empty", "--worker"]
    data = Path(tempfile.mkdtemp(prefix="gw-run-"))  # short: the server's socket lives in it
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GATEWAY_DATABASE_URL")}
    env.update(
        {"GATEWAY_DATA_DIR": str(data), "GATEWAY_PORT": str(port), "GATEWAY_ENVIRONMENT": "development"}
    )
    log = (data.parent / f"{data.name}.log").open("wb")
    # Its own process group, as a command started from a terminal is. (Started without waiting on
    # it: nothing blocks the event loop here.)
    serve = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "gateway.cli", *make_run_arguments()],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        await until(lambda: _ready(base) or serve.poll() is not None, "the gateway did not start", 180)
        assert serve.poll() is None, (data.parent / f"{data.name}.log").read_text()
        await until(lambda: _worker_connected(data), "the worker did not connect", 60)
        (worker,) = [p for p in psutil.Process(serve.pid).children() if "worker" in p.cmdline()]
        postmaster = int((data / "pg" / "postmaster.pid").read_text().split()[0])
        # Ctrl-C: the terminal sends SIGINT to the foreground process group.
        os.killpg(serve.pid, signal.SIGINT)
        assert serve.wait(90) == 0
        assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
        assert not psutil.pid_exists(postmaster)
        assert not (data / "pg" / "postmaster.pid").exists()
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait(10)
        _stop_leftover_server(data / "pg")
        log.close()
        (data.parent / f"{data.name}.log").unlink(missing_ok=True)
        shutil.rmtree(data, ignore_errors=True)


def _stop_leftover_server(pgdata: Path) -> None:
    """A failed run must not leave a server behind (tests leave nothing)."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + 10
        while psutil.pid_exists(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    except (OSError, ValueError):
        pass
