"""Memory per worker: diffprivlib (and the scikit-learn and scipy it pulls in) load only in a
process that releases a DP answer, not in every gateway worker (issue 12, memory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import TEST_SECRET

HEAVY = ("diffprivlib", "sklearn", "scipy", "numpy")
PROBE = """
import json, resource, sys
from gateway.app import create_app
create_app()
before = [m for m in {heavy!r} if m in sys.modules]
rss_app = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
from decimal import Decimal
from privacy.dp.mechanisms import NoiseSpec, release_counts
released = release_counts([10, 20], NoiseSpec(Decimal(1), 1))
after = [m for m in {heavy!r} if m in sys.modules]
print(json.dumps({{"before": before, "after": after, "rss_app": rss_app, "n": len(released)}}))
"""


def test_gateway_worker_loads_no_dp_library_until_a_release() -> None:
    env = {**os.environ, "GATEWAY_ENVIRONMENT": "test", "GATEWAY_JWT_SECRET": TEST_SECRET}
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["before"] == []  # the app, its schema and every resolver module: none of them
    assert {"diffprivlib", "numpy"} <= set(probe["after"])  # a release loads them, and works
    assert probe["n"] == 2
