"""The architecture, checked: imports point down (gateway -> resolvers -> privacy -> sql), the
capability packages inside resolvers/ never import each other in a circle and sit above what they
share, and no module outside privacy/ reads or writes a user-scoped table except through the guard.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import asyncpg
import pytest

from sql import load_queries
from sql.queries import QUERIES_DIR, Query, fragments, parse

ROOT = Path(__file__).resolve().parents[1]
# What each top-level package may import from the project (itself included).
ALLOWED = {
    "sql": {"sql"},
    "privacy": {"privacy", "sql"},
    "resolvers": {"resolvers", "privacy", "sql"},
    "demo": {"demo", "privacy", "sql"},
    "jobs": {"jobs", "resolvers", "privacy", "sql"},
    "gateway": {"gateway", "resolvers", "privacy", "sql", "demo", "jobs"},
}
# Inside resolvers/: what every capability shares sits below the capabilities.
SHARED = {"resolvers.common", "resolvers.explain", "resolvers.model", "resolvers.context", "resolvers.config"}
# Functions that read or write user-scoped tables when a statement calls them.
USER_FUNCTIONS = (
    "apply_rollups",
    "serve_offers",
    "erase_user",
    "log_operation",
    "dp_audience",
    "dp_user_keys",
)
GUARD_CALLS = {"fetch", "fetchrow", "fetchval", "write", "write_audited"}
# Reads outside the guard that touch no person's data, each with its reason.
EXEMPT = {
    (
        "gateway/cli.py",
        "user_count",
    ): "how many users exist (make run seeds an empty database); no person's data",
    (
        "jobs/outbox.py",
        "outbox_claim_candidates",
    ): "keys of due messages only, to lock their people; what is read about a person then goes "
    "through the BatchGuard",
}


def modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def name_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """The modules `path` imports (`from package import module` names the module itself)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return found


PACKAGES = [p for p in ALLOWED if (ROOT / p).is_dir()]
MODULES = {name_of(path) for package in PACKAGES for path in modules(package)}


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_down(package: str) -> None:
    bad = []
    for path in modules(package):
        for target in imports(path):
            top = target.split(".")[0]
            if top in ALLOWED and top not in ALLOWED[package]:
                bad.append(f"{path.relative_to(ROOT)} imports {target}")
    assert not bad, "\n".join(bad)


def _capability(module: str) -> str | None:
    """The capability package a resolvers module belongs to; None for what they share."""
    if not module.startswith("resolvers.") or any(module == s or module.startswith(s + ".") for s in SHARED):
        return None
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else None


def _is_config(module: str) -> bool:
    return module.endswith(".config")


def test_capabilities_form_no_circle_and_sit_above_what_they_share() -> None:
    known = {m for m in MODULES if m.startswith("resolvers")}
    graph: dict[str, set[str]] = defaultdict(set)
    below: list[str] = []
    for path in modules("resolvers"):
        source = name_of(path)
        mine = _capability(source)
        for target in imports(path):
            if target not in known:
                continue
            theirs = _capability(target)
            if mine is None and theirs is not None and not _is_config(target):
                below.append(f"{source} (shared) imports the capability module {target}")
            if mine is not None and theirs is not None and mine != theirs:
                graph[mine].add(theirs)
    assert not below, "\n".join(below)
    # A circle among capability packages (depth-first search with colours).
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (circle := visit(node)):
            pytest.fail("capability packages import each other in a circle: " + " -> ".join(circle))
    assert len(graph) >= 5  # the check sees the real packages


@pytest.fixture
async def user_tables(db_dsn: str) -> set[str]:
    conn = await asyncpg.connect(db_dsn)
    try:
        rows = await conn.fetch(
            """SELECT DISTINCT c.table_name FROM information_schema.columns c
               WHERE c.table_schema = current_schema() AND c.column_name IN ('user_id', 'subject_user_id')"""
        )
    finally:
        await conn.close()
    return {r["table_name"] for r in rows}


def _touches(statement: str, tables: set[str]) -> bool:
    named = set(re.findall(r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+([a-z_]+)", statement, re.IGNORECASE))
    return bool(named & tables) or any(re.search(rf"\b{f}\s*\(", statement) for f in USER_FUNCTIONS)


async def test_user_scoped_tables_are_reached_only_through_the_guard(user_tables: set[str]) -> None:
    assert {"users", "events", "user_signals", "user_controls", "audit_log"} <= user_tables
    personal = {
        name
        for name, q in load_queries().items()
        if _touches(q.text if isinstance(q, Query) else q, user_tables)
    }
    assert {"user_account", "user_activity", "ingest_events", "serve_offers"} <= personal
    bad = []
    seen = 0
    for package in ("resolvers", "gateway", "jobs"):
        if not (ROOT / package).is_dir():
            continue
        for path in modules(package):
            tree = ast.parse(path.read_text())
            parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Attribute) and node.attr in personal):
                    continue
                if not (isinstance(node.value, ast.Name) and node.value.id in {"Q", "q"}) and not (
                    isinstance(node.value, ast.Call) and ast.unparse(node.value).endswith("load_queries()")
                ):
                    continue
                seen += 1
                rel = str(path.relative_to(ROOT))
                if (rel, node.attr) in EXEMPT:
                    continue
                if not _inside_guard_call(node, parents):
                    bad.append(f"{rel}:{node.lineno} runs {node.attr} outside the guard")
    assert seen >= 10  # the check sees the real call sites
    assert not bad, "\n".join(bad)


def _inside_guard_call(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Whether the statement is passed to a guard's read or write (`guard.fetch(Q.x, ...)`,
    `model.guard.write(Q.x, ...)`, a BatchGuard's `write_audited`)."""
    current = node
    while current in parents:
        current = parents[current]
        if isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
            receiver = ast.unparse(current.func.value)
            if current.func.attr in GUARD_CALLS and "guard" in receiver.lower():
                return True
        if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef):
            return False
    return False


# A statement with more positional parameters than this takes named ones (`%(name)s`, bound by
# name through `Query.bind`), so a call site cannot silently pass its values in the wrong order.
MAX_POSITIONAL = 7


def test_long_statements_take_named_parameters() -> None:
    too_long = {}
    for name, statement in load_queries().items():
        text = statement if isinstance(statement, str) else None
        if text is None:
            continue  # a Query: named parameters
        positions = [int(n) for n in re.findall(r"\$(\d+)", text)]
        if positions and max(positions) > MAX_POSITIONAL:
            too_long[name] = max(positions)
    assert not too_long, f"use named parameters (%(name)s) in: {too_long}"


def test_guarded_writes_audit_through_the_one_fragment() -> None:
    """The audit CTE of a guarded write is written once (sql/fragments.sql): no statement file
    spells out its own INSERT INTO audit_log, and every statement that takes a guard's audit
    context (`a_purpose`, `a_tables`, ...) has the fragment's audit rows in its text."""
    audited = {
        name: statement
        for name, statement in load_queries().items()
        if isinstance(statement, Query) and "a_purpose" in statement.params
    }
    assert len(audited) >= 15
    for name, statement in audited.items():
        if any(f"FROM {fn}(" in statement.text for fn in AUDITING_FUNCTIONS):
            continue
        assert "INSERT INTO audit_log" in statement.text, name
        assert statement.text.count("audit AS (") == 1, name


# Database functions that take the audit context and write their audit rows themselves (a loop
# the fragment cannot express: serve_offers counts caps offer by offer, migration 0070).
AUDITING_FUNCTIONS = ("serve_offers",)


# A line of each fragment that no statement file may spell out again (it names the fragment).
FRAGMENT_MARKS = {
    "INSERT INTO audit_log": "@audit_write(cte) or @audit_batch_write(cte)",
    "array_agg(kind::text ORDER BY kind, target)": "@user_controls(u)",
    "array_agg(d.day ORDER BY d.day)": "@user_activity(s)",
}


def test_statements_use_the_fragments_instead_of_copies() -> None:
    copies = {
        f"{path.name}: {mark}": use
        for path in sorted(QUERIES_DIR.glob("*.sql"))
        for mark, use in FRAGMENT_MARKS.items()
        if mark in path.read_text()
    }
    assert not copies, f"use the fragment instead: {copies}"
    assert all(mark in "\n".join(fragments().values()) for mark in FRAGMENT_MARKS)


def test_an_unknown_fragment_is_refused_when_loading() -> None:
    with pytest.raises(ValueError, match="no fragment named @audit_wirte"):
        parse("-- name: typo\nWITH u AS (SELECT 1 AS user_id), @audit_wirte(u) SELECT 1 FROM u\n")
