"""The benchmark harness runs end to end (tiny durations) and writes its report: proves the
servers start side by side, the separate-process load generator reports figures, and the
ratio table is filled. Numbers are not asserted (they are noise at this size)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_runs_and_writes_the_report(db_dsn: str, tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    cmd = [
        sys.executable,
        "-m",
        "bench",
        "--duration",
        "0.5",
        "--rounds",
        "1",
        "--workers",
        "1",
        "--users",
        "50",
        "--events",
        "500",
        "--connections",
        "2",
        "--only",
        "gateway_whoami,strawberry_whoami,starlette_whoami,gateway_viewer,strawberry_viewer",
        "--data-dir",
        str(tmp_path / "data"),
        "--output",
        str(output),
    ]
    done = subprocess.run(
        cmd, cwd=ROOT, env={**os.environ, "DATABASE_URL": db_dsn}, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = output.read_text()
    assert "| whoami: gateway / bare Strawberry |" in report
    assert "| viewer: gateway / bare Strawberry (same shape) |" in report
    assert "| gateway_whoami | gateway |" in report
    assert "## Machine" in report and "nproc" in report
    assert "## Not yet measured" in report
