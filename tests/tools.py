"""Tools a fresh machine may lack (Node with tests/js's packages, Chromium): tests that need them
skip with the reason, unless an environment variable says this run must have them (CI sets
GATEWAY_REQUIRE_NODE=1 and GATEWAY_REQUIRE_BROWSER=1), and then they fail instead."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
JS_DIR = ROOT / "tests" / "js"
# Screenshots from browser tests (git-ignored).
ARTIFACTS = ROOT / ".artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # containers often give /dev/shm 64 MB, too little for Chromium's shared memory
    "--disable-dev-shm-usage",
]


def _unavailable(variable: str, reason: str) -> None:
    if os.environ.get(variable) == "1":
        pytest.fail(f"{reason} ({variable}=1 makes this a failure)")
    pytest.skip(reason)


def node_or_skip() -> str:
    """The node executable, with tests/js's pinned packages installed."""
    node = shutil.which("node")
    if node is None:
        _unavailable("GATEWAY_REQUIRE_NODE", "node is not installed (.ci/run installs it)")
    elif not (JS_DIR / "node_modules").is_dir():
        _unavailable(
            "GATEWAY_REQUIRE_NODE", "tests/js has no node_modules: run `npm ci --prefix tests/js` first"
        )
    assert node is not None
    return node


def run_node(script: str, *args: str, env: dict[str, str] | None = None, timeout_s: float = 120) -> Any:
    """Run tests/js/<script> with node; returns the completed process (stdout, stderr as text)."""
    node = node_or_skip()
    return subprocess.run(
        [node, str(JS_DIR / script), *args],
        cwd=JS_DIR,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def chromium_or_skip() -> str:
    """Debian's Chromium (or GATEWAY_CHROMIUM), driven through Playwright's Python package."""
    path = os.environ.get("GATEWAY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if importlib.util.find_spec("playwright") is None:
        _unavailable("GATEWAY_REQUIRE_BROWSER", "the playwright package is not installed (make install)")
    if not Path(path).is_file():
        _unavailable("GATEWAY_REQUIRE_BROWSER", f"no Chromium at {path} (apt-get install chromium)")
    return path


def screenshot_path(name: str) -> Path:
    directory = ARTIFACTS / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{name}.png"
