"""Every element a client can see through introspection carries a description.

A frontend renders the `why` types, control kinds and enum values from the schema alone, so a
type, field, argument, input field, enum value or custom directive without a description is a
failure. The walk runs over the SDL the app publishes (`schema_sdl()`, the same root types the
app serves) and lists every missing element at once. Built-in scalars, introspection types and
the specification's own directives are skipped: their descriptions come from graphql-core."""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum

import pytest
import strawberry
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    is_introspection_type,
    is_specified_directive,
    is_specified_scalar_type,
)

from gateway.schema import schema_sdl
from resolvers.common.enums import describe_values


def _blank(description: str | None) -> bool:
    return not (description or "").strip()


def _arguments(owner: str, args: dict[str, GraphQLArgument]) -> Iterator[str]:
    for name, arg in args.items():
        if _blank(arg.description):
            yield f"argument {owner}({name})"


def missing_descriptions(schema: GraphQLSchema) -> list[str]:
    missing: list[str] = []
    for type_name, named in sorted(schema.type_map.items()):
        if is_introspection_type(named) or is_specified_scalar_type(named):
            continue
        if _blank(named.description):
            missing.append(f"type {type_name}")
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                where = f"{type_name}.{field_name}"
                if _blank(field.description):
                    missing.append(f"field {where}")
                missing.extend(_arguments(where, field.args))
        elif isinstance(named, GraphQLInputObjectType):
            for field_name, input_field in named.fields.items():
                if _blank(input_field.description):
                    missing.append(f"input field {type_name}.{field_name}")
        elif isinstance(named, GraphQLEnumType):
            for value_name, value in named.values.items():
                if _blank(value.description):
                    missing.append(f"enum value {type_name}.{value_name}")
        elif isinstance(named, GraphQLUnionType):
            pass  # members are object types, checked on their own
    for directive in schema.directives:
        if is_specified_directive(directive):
            continue
        if _blank(directive.description):
            missing.append(f"directive @{directive.name}")
        missing.extend(_arguments(f"@{directive.name}", directive.args))
    return missing


def test_every_schema_element_has_a_description() -> None:
    missing = missing_descriptions(build_schema(schema_sdl()))
    assert not missing, f"{len(missing)} schema elements lack a description:\n" + "\n".join(missing)


def test_the_walk_finds_a_missing_description() -> None:
    """The checker itself: each kind of element without a description is reported."""
    sdl = '''
    """Documented."""
    type Query {
      """Documented."""
      a(x: Int): Kind
      b: Int
    }
    """Documented."""
    enum Kind {
      """Documented."""
      ONE
      TWO
    }
    input In { y: Int }
    directive @tag(z: Int) on FIELD_DEFINITION
    '''
    assert missing_descriptions(build_schema(sdl)) == [
        "type In",
        "input field In.y",
        "enum value Kind.TWO",
        "argument Query.a(x)",
        "field Query.b",
        "directive @tag",
        "argument @tag(z)",
    ]


def test_describe_values_refuses_a_missing_or_unknown_member() -> None:
    """Enum value descriptions attached after the class cannot drift from its members."""

    class Colour(Enum):
        RED = "red"
        BLUE = "blue"

    strawberry.enum(Colour, description="A colour.")
    with pytest.raises(ValueError, match="describe exactly"):
        describe_values(Colour, {"RED": "Red."})
    with pytest.raises(ValueError, match="describe exactly"):
        describe_values(Colour, {"RED": "Red.", "BLUE": "Blue.", "GREEN": "Green."})
    describe_values(Colour, {"RED": "Red.", "BLUE": "Blue."})
    values = Colour.__strawberry_definition__.values  # type: ignore[attr-defined]
    assert {v.name: v.description for v in values} == {"RED": "Red.", "BLUE": "Blue."}
