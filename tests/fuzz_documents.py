"""Hypothesis strategies for GraphQL documents built from the live schema: mostly valid
operations (fields, aliases, fragments, arguments as literals or variables) with hostile values
(huge and negative numbers, unicode, wrong types, unknown names) mixed in."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    is_leaf_type,
)
from hypothesis import strategies as st

NAMES = st.from_regex(r"[a-z][A-Za-z0-9_]{0,8}", fullmatch=True)
NASTY_TEXT = st.text(min_size=0, max_size=40) | st.sampled_from(
    [
        "",
        " ",
        "'; DROP TABLE users; --",
        "\u0000",
        "a\u0000b",
        "💥" * 20,
        "\ud7ff\ue000",
        "x" * 3000,
        "../../etc/passwd",
    ]
)
# Ids that name no row: past 64 bits, non-canonical forms that int() would still read.
NASTY_ID = st.sampled_from(
    ["99999999999999999999999", "9223372036854775808", "01", "+1", " 1", "\u0661", "²", "1.0", "-0"]
)
NASTY_INT = st.integers(-(2**70), 2**70) | st.sampled_from([0, -1, 1, 2**31 - 1, 2**31, -(2**31) - 1, 10**9])


@dataclass
class Enum:
    name: str


@dataclass
class Doc:
    variables: dict[str, Any] = field(default_factory=dict)
    declarations: list[str] = field(default_factory=list)
    fragments: list[str] = field(default_factory=list)


def type_string(type_: Any) -> str:
    if isinstance(type_, GraphQLNonNull):
        return type_string(type_.of_type) + "!"
    if isinstance(type_, GraphQLList):
        return "[" + type_string(type_.of_type) + "]"
    return str(type_.name)


def to_literal(value: Any) -> str:
    if isinstance(value, Enum):
        return value.name
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON escapes are valid GraphQL string escapes
    if isinstance(value, list):
        return "[" + ", ".join(to_literal(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{k}: {to_literal(v)}" for k, v in value.items()) + "}"


def to_json(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def junk() -> st.SearchStrategy[Any]:
    return st.one_of(
        NASTY_INT,
        st.floats(allow_nan=False, allow_infinity=False),
        NASTY_TEXT,
        st.booleans(),
        st.none(),
        st.builds(Enum, NAMES),
    )


def value_for(draw: Any, type_: Any, depth: int = 0) -> Any:
    """A value for an input type: usually well-typed, sometimes junk (the server must cope)."""
    if draw(st.integers(0, 9)) == 0 or depth > 3:
        return draw(junk())
    if isinstance(type_, GraphQLNonNull):
        return value_for(draw, type_.of_type, depth)
    if isinstance(type_, GraphQLList):
        return [value_for(draw, type_.of_type, depth + 1) for _ in range(draw(st.integers(0, 3)))]
    if isinstance(type_, GraphQLEnumType):
        return Enum(draw(st.sampled_from(list(type_.values))))
    if isinstance(type_, GraphQLInputObjectType):
        return {
            name: value_for(draw, f.type, depth + 1)
            for name, f in type_.fields.items()
            if isinstance(f.type, GraphQLNonNull) or draw(st.booleans())
        }
    assert isinstance(type_, GraphQLScalarType)
    return draw(
        {
            "Int": NASTY_INT,
            "Float": st.floats(allow_nan=False, allow_infinity=False).filter(math.isfinite),
            "Boolean": st.booleans(),
            "ID": st.sampled_from(["731001", "842002", "0", "-1", "abc"]) | NASTY_ID | NASTY_TEXT,
            "DateTime": st.sampled_from(["2026-01-01T00:00:00+00:00", "1900-01-01", "not a date"]),
        }.get(type_.name, NASTY_TEXT)
    )


def arguments(draw: Any, doc: Doc, args: dict[str, Any]) -> str:
    parts = []
    for name, arg in args.items():
        required = isinstance(arg.type, GraphQLNonNull)
        if not draw(st.booleans()) and not (required and draw(st.integers(0, 9)) > 0):
            continue
        value = value_for(draw, arg.type)
        if draw(st.booleans()):
            var = f"v{len(doc.variables)}"
            doc.variables[var] = to_json(value)
            doc.declarations.append(f"${var}: {type_string(arg.type)}")
            parts.append(f"{name}: ${var}")
        else:
            parts.append(f"{name}: {to_literal(value)}")
    if draw(st.integers(0, 19)) == 0:
        parts.append(f"{draw(NAMES)}: {to_literal(draw(junk()))}")  # an argument that does not exist
    return f"({', '.join(parts)})" if parts else ""


def selection_set(draw: Any, doc: Doc, type_: Any, depth: int) -> str:
    named = get_named_type(type_)
    if isinstance(named, GraphQLUnionType):
        inner = [f"... on {m.name} {selection_set(draw, doc, m, depth - 1)}" for m in named.types]
        return "{ __typename " + " ".join(inner) + " }"
    assert isinstance(named, GraphQLObjectType | GraphQLInterfaceType)
    names = sorted(named.fields)
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=min(6, len(names)), unique=True))
    parts = []
    for name in chosen:
        field_ = named.fields[name]
        alias = f"{draw(NAMES)}_{len(parts)}: " if draw(st.integers(0, 4)) == 0 else ""
        child = get_named_type(field_.type)
        args = arguments(draw, doc, field_.args)
        if is_leaf_type(child):
            parts.append(f"{alias}{name}{args}")
        elif depth > 0:
            parts.append(f"{alias}{name}{args} {selection_set(draw, doc, child, depth - 1)}")
    if draw(st.integers(0, 19)) == 0:
        parts.append(draw(NAMES))  # a field that does not exist
    if isinstance(named, GraphQLObjectType) and draw(st.integers(0, 5)) == 0 and parts:
        frag = f"F{len(doc.fragments)}"
        doc.fragments.append(f"fragment {frag} on {named.name} {{ {' '.join(parts)} }}")
        return "{ __typename ..." + frag + " }"
    return "{ " + " ".join(parts or ["__typename"]) + " }"


@st.composite
def documents(draw: Any, schema: GraphQLSchema) -> tuple[str, dict[str, Any]]:
    roots = [("query", schema.query_type)]
    if schema.mutation_type is not None:
        roots.append(("mutation", schema.mutation_type))
    operation, root = draw(st.sampled_from(roots))
    doc = Doc()
    body = selection_set(draw, doc, root, depth=draw(st.integers(1, 4)))
    header = f"{operation} Fuzz" + (f"({', '.join(doc.declarations)})" if doc.declarations else "")
    return " ".join([header, body, *doc.fragments]), doc.variables
