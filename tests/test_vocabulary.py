"""One enum per concept: each SQL domain allows exactly the values of its Python enum, the
sensitive-data tables hold exactly privacy/sensitive.py's lists, and the schema publishes the
vocabulary's own classes (no second Platform or PriceTier)."""

from __future__ import annotations

import re

import asyncpg
import pytest
from graphql import GraphQLEnumType

from gateway.schema import schema_sdl
from privacy.sensitive import SENSITIVE_CATEGORIES, SENSITIVE_TERMS, names_sensitive
from privacy.vocabulary import SQL_DOMAINS, Channel, EventType, Experience, Platform, PriceTier
from resolvers.model.controls import StoredKind


@pytest.fixture
async def conn(db_dsn: str) -> asyncpg.Connection:
    c = await asyncpg.connect(db_dsn)
    yield c
    await c.close()


async def _domain_values(conn: asyncpg.Connection, name: str) -> set[str]:
    definition = await conn.fetchval(
        """SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_type t ON t.oid = c.contypid
           WHERE t.typname = $1""",
        name,
    )
    assert definition, f"no domain {name}"
    return set(re.findall(r"'([^']+)'", definition))


async def test_each_sql_domain_allows_exactly_its_enum(conn: asyncpg.Connection) -> None:
    for name, enum in (*SQL_DOMAINS, ("control_kind", StoredKind)):
        assert await _domain_values(conn, name) == {e.value for e in enum}, name
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute("SELECT 'blackberry'::platform")


async def test_the_sensitive_tables_hold_the_policy(conn: asyncpg.Connection) -> None:
    categories = {r["category"] for r in await conn.fetch("SELECT category FROM sensitive_categories")}
    terms = {r["term"] for r in await conn.fetch("SELECT term FROM sensitive_terms")}
    assert categories == SENSITIVE_CATEGORIES
    assert terms == SENSITIVE_TERMS
    for text in ("Pregnancy test", "gold bracelet", "winter coat", "Religious books", "kids' shoes"):
        assert await conn.fetchval("SELECT names_sensitive($1)", text) is names_sensitive(text), text


def test_the_schema_publishes_one_enum_per_concept() -> None:
    import strawberry

    from gateway.schema import _root_types

    query, mutation = _root_types()
    schema = strawberry.Schema(query=query, mutation=mutation)._schema
    enums = {name: t for name, t in schema.type_map.items() if isinstance(t, GraphQLEnumType)}
    for cls in (Platform, Channel, Experience, PriceTier, EventType):
        assert set(enums[cls.__name__].values) == {e.name for e in cls}, cls.__name__
    assert not {"AudiencePlatform", "AudienceExperience", "AudiencePriceTier"} & set(enums)
    assert "enum Platform" in schema_sdl()
