"""What a distributed PostgreSQL (Citus) needs of the schema, proved from the catalog of the migrated
database and the SQL the application runs (Citus itself cannot be installed here):

- every table is placed once in sql/citus.py: distributed by the person's id, reference (copied to
  every node) or local to the coordinator;
- every primary key and unique constraint/index of a distributed table includes its distribution
  column, which is NOT NULL; foreign keys never point from a reference table to a distributed one,
  and between distributed tables they include the distribution column on both sides;
- no advisory lock guards anything (the offer cap locks the person's own row);
- a row lock (FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE) on a distributed table is taken for
  one person (`user_id = <parameter>`), except the batch statements declared in
  sql/citus.MULTI_USER_LOCKS (docs/scaling.md), and that list holds no stale entry."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg

from sql import citus, load_queries
from sql.queries import Query

ROOT = Path(__file__).resolve().parent.parent
LOCK = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b", re.IGNORECASE)
ONE_PERSON = re.compile(
    r"\buser_id\s*=\s*(?:\$\d+|%\(\w+\)s|[a-z_][a-z0-9_]*(?![.\w(]))(?:::\w+)?", re.IGNORECASE
)
FROM = re.compile(r"\bFROM\s+([a-z_][a-z0-9_]*)", re.IGNORECASE)
ADVISORY = re.compile(r"pg_(?:try_)?advisory", re.IGNORECASE)


async def _catalog(dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn)


async def test_every_table_is_placed_once(db_dsn: str) -> None:
    conn = await _catalog(db_dsn)
    try:
        tables = {
            r["relname"]
            for r in await conn.fetch(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
            )
        }
    finally:
        await conn.close()
    placed = [*citus.DISTRIBUTED, *citus.REFERENCE, *citus.LOCAL]
    assert len(placed) == len(set(placed)), "a table is placed twice"
    assert tables == set(placed), f"unplaced: {tables - set(placed)}, unknown: {set(placed) - tables}"


async def test_distributed_keys_include_the_distribution_column(db_dsn: str) -> None:
    conn = await _catalog(db_dsn)
    try:
        problems: list[str] = []
        for table, column in citus.DISTRIBUTED.items():
            notnull = await conn.fetchval(
                "SELECT attnotnull FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2",
                table,
                column,
            )
            if notnull is not True:
                problems.append(f"{table}.{column} is missing or nullable")
            # Primary keys, unique constraints and unique indexes alike (Citus enforces each per shard).
            for r in await conn.fetch(
                """SELECT i.indexrelid::regclass::text AS name,
                          array_agg(a.attname::text) FILTER (WHERE a.attname IS NOT NULL) AS columns
                   FROM pg_index i
                   LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                   WHERE i.indrelid = $1::regclass AND i.indisunique
                   GROUP BY i.indexrelid""",
                table,
            ):
                if column not in (r["columns"] or []):
                    problems.append(f"{table}: unique index {r['name']} lacks {column}")
            has_pk = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p')",
                table,
            )
            if not has_pk:
                problems.append(f"{table} has no primary key")
        for r in await conn.fetch(
            """SELECT c.conrelid::regclass::text AS src, c.confrelid::regclass::text AS dst,
                      ARRAY(SELECT attname::text FROM pg_attribute
                            WHERE attrelid = c.conrelid AND attnum = ANY (c.conkey)) AS src_cols,
                      ARRAY(SELECT attname::text FROM pg_attribute
                            WHERE attrelid = c.confrelid AND attnum = ANY (c.confkey)) AS dst_cols
               FROM pg_constraint c
               WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
                 AND NOT c.conrelid::regclass::text LIKE '%\\_p2%'"""
        ):
            src, dst = r["src"], r["dst"]
            if src in citus.REFERENCE and dst in citus.DISTRIBUTED:
                problems.append(f"reference table {src} references distributed {dst}")
            if (
                src in citus.DISTRIBUTED
                and dst in citus.DISTRIBUTED
                and (
                    citus.DISTRIBUTED[src] not in r["src_cols"] or citus.DISTRIBUTED[dst] not in r["dst_cols"]
                )
            ):
                problems.append(f"{src} -> {dst} does not include the distribution column")
            if (src in citus.LOCAL) != (dst in citus.LOCAL):
                problems.append(f"{src} -> {dst} crosses between local and shared tables")
        assert not problems, problems
    finally:
        await conn.close()


def _sources(functions: list[asyncpg.Record]) -> dict[str, str]:
    """Every SQL text the application runs: the named queries and the bodies of our functions."""
    out: dict[str, str] = {}
    for name, q in load_queries().items():
        out[f"query {name}"] = q.text if isinstance(q, Query) else str(q)
    for f in functions:
        out[f"function {f['proname']}"] = f["prosrc"]
    return out


async def _functions(dsn: str) -> list[asyncpg.Record]:
    conn = await _catalog(dsn)
    try:
        return list(
            await conn.fetch(
                "SELECT p.proname, p.prosrc FROM pg_proc p"
                " WHERE p.pronamespace = current_schema()::regnamespace"
                " AND p.prolang IN (SELECT oid FROM pg_language WHERE lanname IN ('sql', 'plpgsql'))"
                " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
            )
        )
    finally:
        await conn.close()


def _statement_before(text: str, at: int) -> str:
    """The SELECT that carries the locking clause at `at`: back to the SELECT keyword at the same
    parenthesis depth (a subquery inside it, such as `IN (SELECT ...)`, is part of it)."""
    depth = 0
    for i in range(at - 1, -1, -1):
        ch = text[i]
        if ch == ")":
            depth += 1
        elif ch == "(":
            if depth == 0:
                return text[i + 1 : at]
            depth -= 1
        elif depth == 0 and text[i : i + 6].upper() == "SELECT" and not text[i - 1 : i].isalnum():
            return text[i:at]
    return text[:at]


async def test_no_advisory_lock_guards_anything(db_dsn: str) -> None:
    found = [name for name, text in _sources(await _functions(db_dsn)).items() if ADVISORY.search(text)]
    # Python too: only the migration runner (one process migrates at a time; the coordinator's
    # concern, not data correctness) and the pool's reset (which avoids sending an unlock).
    allowed = {"sql/migrate.py", "sql/pool.py"}
    for path in ROOT.glob("*/**/*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv/", "tests/")) or rel in allowed:
            continue
        if ADVISORY.search(path.read_text(encoding="utf-8")):
            found.append(rel)
    assert not found, found


async def test_row_locks_on_distributed_tables_are_per_person(db_dsn: str) -> None:
    multi: set[str] = set()
    for name, text in _sources(await _functions(db_dsn)).items():
        for m in LOCK.finditer(text):
            statement = _statement_before(text, m.start())
            tables = FROM.findall(statement)
            locked = tables[0] if tables else ""
            if locked not in citus.DISTRIBUTED:
                continue  # a reference table's row (a DP budget, a dataset's version)
            if not ONE_PERSON.search(statement):
                multi.add(name)
    declared = set(citus.MULTI_USER_LOCKS)
    assert multi <= declared, f"row locks across several people: {sorted(multi - declared)}"
    assert declared <= multi, f"stale MULTI_USER_LOCKS entries: {sorted(declared - multi)}"


def test_citus_statements_place_every_table() -> None:
    text = "\n".join(citus.statements())
    for table in [*citus.DISTRIBUTED, *citus.REFERENCE, *citus.LOCAL]:
        assert f"('{table}'" in text
    # users first: the other distributed tables colocate with it.
    assert citus.statements()[len(citus.REFERENCE)].startswith("SELECT create_distributed_table('users'")
