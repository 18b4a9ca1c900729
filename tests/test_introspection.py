"""Standard introspection works for clients no one here wrote: graphql-core's full introspection
query and build_client_schema over HTTP, gql fetching the schema from a live server, and a guard
that every default value in the schema can be rendered (introspection's `defaultValue`)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from graphql import (
    GraphQLArgument,
    GraphQLInputField,
    build_client_schema,
    get_introspection_query,
    is_input_object_type,
    is_interface_type,
    is_object_type,
    print_ast,
    print_schema,
)
from graphql.utilities import get_default_value_ast

from gateway import Settings
from tests.conftest import gql
from tests.live import live_server
from tests.schema_walk import live_schema

FULL_INTROSPECTION = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
    one_of=True,
)


def _input_values() -> list[tuple[str, GraphQLArgument | GraphQLInputField]]:
    schema = live_schema()
    out: list[tuple[str, GraphQLArgument | GraphQLInputField]] = []
    for type_ in schema.type_map.values():
        if is_input_object_type(type_):
            out += [(f"{type_.name}.{name}", field) for name, field in type_.fields.items()]  # type: ignore[union-attr]
        elif is_object_type(type_) or is_interface_type(type_):
            for fname, field in type_.fields.items():  # type: ignore[union-attr]
                out += [(f"{type_.name}.{fname}({a})", arg) for a, arg in field.args.items()]
    for directive in schema.directives:
        out += [(f"@{directive.name}({a})", arg) for a, arg in directive.args.items()]
    return out


def test_every_default_value_renders_as_introspection_does() -> None:
    """The resolver of __InputValue.defaultValue: a default it cannot print makes the whole
    standard introspection query fail (it did, for `OfferInput.params: JSON! = {}`)."""
    values = _input_values()
    assert len(values) > 50  # the walk reaches the schema
    failures = []
    for where, value in values:
        try:
            ast = get_default_value_ast(value)
            if ast is not None:
                print_ast(ast)
        except Exception as exc:
            failures.append(f"{where}: {exc}")
    assert not failures, failures


async def test_full_introspection_builds_a_client_schema(client: httpx.AsyncClient) -> None:
    body = await gql(client, FULL_INTROSPECTION)
    assert "errors" not in body, body.get("errors")
    built = build_client_schema(body["data"])
    # what a client rebuilds is the schema we serve: types, fields, arguments, defaults, descriptions
    assert print_schema(built) == print_schema(live_schema())


async def test_gql_fetches_the_schema_and_runs_a_query(settings: Settings, token: Callable[..., str]) -> None:
    from gql import Client
    from gql import gql as document
    from gql.transport.httpx import HTTPXAsyncTransport

    with live_server(settings) as base:
        transport = HTTPXAsyncTransport(
            url=f"{base}/graphql", headers={"Authorization": f"Bearer {token(sub='7')}"}
        )
        client = Client(transport=transport, fetch_schema_from_transport=True)
        async with client as session:
            result = await session.execute(document("{ whoami { role subject } }"))
            assert result == {"whoami": {"role": "user", "subject": "7"}}
            assert client.schema is not None and "OfferInput" in client.schema.type_map
            # gql validates documents against the fetched schema before sending them
            with pytest.raises(Exception, match="Cannot query field"):
                await session.execute(document("{ whoami { nope } }"))
