"""Named queries: each `.sql` file under sql/queries/ holds blocks headed `-- name: <name>`,
optionally followed by `-- <one-line description>`. Optional filters are written in the SQL
itself, `($1::text IS NULL OR col = $1)`, so no statement is ever assembled at run time.

Long statements take named parameters, written `%(name)s` (procrastinate's style): the loader
turns them into `$1, $2, ...` once and such a statement is a `Query`, whose `bind(name=value, ...)`
gives the statement and its values in order (`await conn.fetch(*Q.x.bind(...))`), refusing a
missing or unknown name, so a call site reads like the SQL instead of counting positions.

What several statements must do alike is written once, in sql/fragments.sql, as a fragment that
a statement names with `@fragment(name)`; the loader expands it (with `name`, an alias or CTE of
that statement) before numbering the parameters, and an unknown fragment is an error at load
time:
- `@audit_write(cte)`, `@audit_batch_write(cte)`: a guarded write audits itself in its own
  statement, so the write and its audit rows commit together or not at all: a write about the
  request's own user (privacy.guard.Guard.write), or about every user in `cte`'s `user_id`
  column (privacy.snapshots.BatchGuard.write_audited);
- `@user_controls(u)`: a person's controls (what they hid, reminders they stopped), as the
  per-request user model and the jobs that message people read them;
- `@user_activity(s)`: the behavioural rollups of a person (`s` their `user_signals` row, `u`
  their account row), as the per-request user model and the batch jobs read them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

QUERIES_DIR = Path(__file__).parent / "queries"
_HEADER = re.compile(r"^-- name: ([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_NAMED = re.compile(r"%\(([a-z_][a-z0-9_]*)\)s")
_FRAGMENT = re.compile(r"@([a-z_]+)\(([a-z_][a-z0-9_]*)\)")

FRAGMENTS_FILE = Path(__file__).parent / "fragments.sql"
_FRAGMENT_HEADER = re.compile(r"^-- fragment: ([a-z_]+)\s*$", re.MULTILINE)


@cache
def fragments(path: Path = FRAGMENTS_FILE) -> dict[str, str]:
    """The fragments of sql/fragments.sql by name, their leading comment lines dropped."""
    parts = _FRAGMENT_HEADER.split(path.read_text())
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = body.strip().splitlines()
        while lines and lines[0].startswith("--"):
            lines.pop(0)
        found[name] = "\n".join(lines).strip()
    return found


def _expanded(name: str, statement: str) -> str:
    def fragment(match: re.Match[str]) -> str:
        known = fragments().get(match.group(1))
        if known is None:
            raise ValueError(f"query {name!r}: no fragment named @{match.group(1)}")
        return known.replace("{x}", match.group(2))

    return _FRAGMENT.sub(fragment, statement)


@dataclass(frozen=True, slots=True)
class Query:
    """A statement with named parameters: its text (numbered) and the names in order."""

    name: str
    text: str
    params: tuple[str, ...]

    def args(self, **values: Any) -> tuple[Any, ...]:
        """The values of its parameters, in order (for `executemany`)."""
        missing = [p for p in self.params if p not in values]
        unknown = sorted(set(values) - set(self.params))
        if missing or unknown:
            raise TypeError(f"query {self.name!r}: missing {missing}, unknown {unknown}")
        return tuple(values[p] for p in self.params)

    def bind(self, **values: Any) -> tuple[Any, ...]:
        """The statement followed by the values of its parameters, in order."""
        return (self.text, *self.args(**values))


class Queries(dict[str, Any]):
    """Statements by name (a plain string, or a `Query` when it takes named parameters); a missing
    name is a programming error with a clear message."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no query named {name!r} in {QUERIES_DIR}") from None


def _numbered(name: str, statement: str) -> str | Query:
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        param = match.group(1)
        if param not in order:
            order.append(param)
        return f"${order.index(param) + 1}"

    text = _NAMED.sub(number, statement)
    if not order:
        return statement
    if re.search(r"\$\d", statement):
        raise ValueError(f"query {name!r} mixes named and positional parameters")
    return Query(name, text, tuple(order))


def parse(text: str, origin: str = "<string>") -> dict[str, str | Query]:
    found: dict[str, str | Query] = {}
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
        found[name] = _numbered(name, _expanded(name, statement))
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
