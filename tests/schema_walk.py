"""Walk the live GraphQL schema to build documents: minimal valid calls for the authorisation
matrix, and a hypothesis strategy for the fuzz test. Both read the schema object, so new
types and fields are picked up as soon as they are merged into gateway.schema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    is_leaf_type,
    is_required_argument,
    is_required_input_field,
)

from gateway.schema import build_schema
from gateway.settings import Environment, Settings

SCALAR_SAMPLES: dict[str, str] = {
    "Int": "1",
    "Float": "1.0",
    "String": '"x"',
    "Boolean": "true",
    "DateTime": '"2026-01-01T00:00:00+00:00"',
    "Date": '"2026-01-01"',
    "JSON": "{}",
    "UUID": '"00000000-0000-4000-8000-000000000000"',
}


def live_schema() -> GraphQLSchema:
    settings = Settings(environment=Environment.TEST, jwt_secret="s" * 40)  # type: ignore[arg-type]
    return build_schema(settings)._schema


@dataclass(frozen=True)
class RootField:
    operation: str  # "query" | "mutation"
    name: str
    field: GraphQLField


def root_fields(schema: GraphQLSchema) -> list[RootField]:
    out: list[RootField] = []
    for operation, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        if root is not None:
            out.extend(RootField(operation, name, f) for name, f in root.fields.items())
    return out


def literal(type_: GraphQLInputType, id_value: str) -> str:
    """A minimal valid GraphQL literal for an input type (ids are `id_value`)."""
    if isinstance(type_, GraphQLNonNull):
        return literal(type_.of_type, id_value)
    if isinstance(type_, GraphQLList):
        return "[" + literal(type_.of_type, id_value) + "]"
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        parts = [
            f"{name}: {literal(f.type, id_value)}"
            for name, f in type_.fields.items()
            if is_required_input_field(f)
        ]
        return "{" + ", ".join(parts) + "}"
    assert isinstance(type_, GraphQLScalarType)
    if type_.name == "ID":
        return f'"{id_value}"'
    return SCALAR_SAMPLES.get(type_.name, '"x"')


def arguments(args: dict[str, GraphQLArgument], id_value: str) -> str:
    required = [f"{n}: {literal(a.type, id_value)}" for n, a in args.items() if is_required_argument(a)]
    return f"({', '.join(required)})" if required else ""


def selection(type_: Any, id_value: str, depth: int = 3) -> str:
    """Every leaf field, and nested objects to `depth`, with inline fragments for abstract types."""
    named = get_named_type(type_)
    if is_leaf_type(named):
        return ""
    if isinstance(named, GraphQLUnionType | GraphQLInterfaceType):
        members = named.types if isinstance(named, GraphQLUnionType) else []
        inner = " ".join(f"... on {m.name} {selection(m, id_value, depth)}" for m in members if depth > 0)
        return "{ __typename " + inner + " }"
    assert isinstance(named, GraphQLObjectType)
    parts = ["__typename"]
    for name, field in named.fields.items():
        child = get_named_type(field.type)
        if is_leaf_type(child):
            parts.append(name + arguments(field.args, id_value))
        elif depth > 0:
            parts.append(name + arguments(field.args, id_value) + " " + selection(child, id_value, depth - 1))
    return "{ " + " ".join(parts) + " }"


def minimal_call(root: RootField, id_value: str) -> str:
    sel = selection(root.field.type, id_value)
    return f"{root.operation} {{ {root.name}{arguments(root.field.args, id_value)} {sel} }}"
