"""Servers under test, each a uvicorn subprocess on its own loopback port, same settings."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

APPS = {
    "gateway": "gateway.cli:app_from_environment",
    "strawberry": "bench.baselines:strawberry_app",
    "starlette": "bench.baselines:starlette_app",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    workers: int

    def rss_mib(self) -> float:
        """Resident memory of the server's worker processes (the supervisor excluded when >1)."""
        root = psutil.Process(self.proc.pid)
        procs = root.children(recursive=True) if self.workers > 1 else [root]
        return round(float(sum(p.memory_info().rss for p in procs)) / 2**20, 1)


@contextmanager
def serve(
    name: str, env: Mapping[str, str | None], log_dir: Path, workers: int = 1, tag: str = ""
) -> Iterator[Server]:
    """A server on a free port until the block ends; `env` adds to this process's environment
    (a None value removes the variable)."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        APPS[name],
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    log = (log_dir / f"{name}{tag}-{workers}w.log").open("wb")
    # GATEWAY_WORKERS tells each worker its share of the per-process rate limit.
    merged: dict[str, str | None] = {**os.environ, **env, "GATEWAY_WORKERS": str(workers)}
    full_env = {k: v for k, v in merged.items() if v is not None}
    proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        path = "/healthz" if name == "gateway" else "/"
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start; see {log.name}") from None
                time.sleep(0.2)
        yield Server(name, port, proc, workers)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
