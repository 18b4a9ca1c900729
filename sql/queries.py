"""Named queries: each `.sql` file under sql/queries/ holds blocks headed `-- name: <name>`,
optionally followed by `-- <one-line description>`. Optional filters are written in the SQL
itself, `($1::text IS NULL OR col = $1)`, so no statement is ever assembled at run time."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

QUERIES_DIR = Path(__file__).parent / "queries"
_HEADER = re.compile(r"^-- name: ([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


class Queries(dict[str, str]):
    """Query text by name; a missing name is a programming error with a clear message."""

    def __getattr__(self, name: str) -> str:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no query named {name!r} in {QUERIES_DIR}") from None


def parse(text: str, origin: str = "<string>") -> dict[str, str]:
    found: dict[str, str] = {}
    parts = _HEADER.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = [ln for ln in body.strip().splitlines()]
        while lines and lines[0].startswith("--"):
            lines.pop(0)  # the description
        statement = "\n".join(lines).strip().rstrip(";")
        if not statement:
            raise ValueError(f"query {name!r} in {origin} is empty")
        if name in found:
            raise ValueError(f"query {name!r} defined twice in {origin}")
        found[name] = statement
    return found


@cache
def load_queries(directory: Path = QUERIES_DIR) -> Queries:
    queries = Queries()
    for path in sorted(directory.glob("*.sql")):
        for name, statement in parse(path.read_text(), path.name).items():
            if name in queries:
                raise ValueError(f"query {name!r} defined in more than one file ({path.name})")
            queries[name] = statement
    return queries
