"""Compiled variable coercion (gateway/inputs.py) gives exactly graphql-core's coerced variables
whenever it answers, answers for every valid value, and leaves every invalid one to graphql-core
(which words the errors); and a trusted mutation runs through it end to end."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, parse
from graphql.execution.values import VariableValues, get_variable_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from gateway import create_app
from gateway.inputs import CompiledVariables, compile_input
from gateway.persisted import DOCUMENTS_DIR
from gateway.schema import build_schema
from gateway.settings import Environment, Settings
from privacy.principal import Role
from tests import world
from tests.conftest import _with_state, gql

SCHEMA = build_schema(Settings(environment=Environment.TEST, jwt_secret=SecretStr("t" * 64)))._schema
TRUSTED = {p.stem: p.read_text() for p in sorted(DOCUMENTS_DIR.glob("*.graphql"))}
TRACK = TRUSTED["track"]
ITEM = "101"  # tests/world.py's catalog


def _definitions(text: str) -> Any:
    operation = next(d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode))
    return operation.variable_definitions or ()


def _both(text: str, variables: dict[str, Any]) -> tuple[VariableValues | None, Any]:
    definitions = _definitions(text)
    compiled = CompiledVariables.compile(SCHEMA, definitions)
    assert compiled is not None, "the trusted documents' variables compile"
    return compiled.coerce(variables), get_variable_values(SCHEMA, definitions, variables, max_errors=50)


def _agree(text: str, variables: dict[str, Any]) -> bool:
    """True when the compiled coercion answered (and then agrees with graphql-core)."""
    fast, generic = _both(text, variables)
    if fast is None:
        return False
    assert isinstance(generic, VariableValues), generic
    assert fast.coerced == generic.coerced
    # Signatures are built from the document (type wrappers are new objects each time): compared
    # by what they say.
    assert {
        k: (v.signature.name, str(v.signature.type), v.signature.default, v.value)
        for k, v in fast.sources.items()
    } == {
        k: (v.signature.name, str(v.signature.type), v.signature.default, v.value)
        for k, v in generic.sources.items()
    }
    return True


def _event(**fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(uuid.uuid4()), "type": "VIEW", "occurredAt": "2026-11-25T10:00:00+00:00"}
    out.update(fields)
    return out


def test_valid_batches_are_coerced_as_graphql_core_does() -> None:
    batch = [
        _event(userId="42", itemId="7", platform="IOS"),
        _event(type="DWELL", userId=42, itemId=7, value=1200),  # ints for IDs, as graphql-core accepts
        _event(type="SEARCH", query="winter coat", userId=None, platform=None),
        _event(type="FEATURE_USED", feature="wishlist", offerId=None),
        _event(type="OFFER_CLICK", offerId="3", occurredAt="2026-11-25T10:00:00Z"),
    ]
    assert _agree(TRACK, {"events": batch})
    assert _agree(TRACK, {"events": batch[0]})  # a single value is a list of one
    assert _agree(TRACK, {"events": []})
    layout = {"platform": "IOS", "appVersion": "4.2.0"}
    assert _agree(TRUSTED["layout"], layout)
    assert _agree(TRUSTED["layout"], {**layout, "settings": None})
    assert _agree(TRUSTED["layout"], {**layout, "unused": 1})


@pytest.mark.parametrize(
    "variables",
    [
        {},  # a required variable missing
        {"events": None},
        {"events": [None]},
        {"events": [_event(type="NOPE")]},
        {"events": [_event(type="view")]},  # enum values by name only
        {"events": [_event(occurredAt="yesterday")]},
        {"events": [_event(occurredAt=12)]},
        {"events": [_event(extra=1)]},  # an unknown field
        {"events": [{"type": "VIEW", "occurredAt": "2026-11-25T10:00:00Z"}]},  # id is required
        {"events": [_event(value="12")]},
        {"events": [_event(value=2**40)]},  # beyond GraphQL's Int
        {"events": [_event(value=1.5)]},
        {"events": [_event(itemId=True)]},
        {"events": [_event(), "not an object"]},
        {"events": [[_event()]]},
        {"events": "a string"},
    ],
)
def test_invalid_values_are_left_to_graphql_core(variables: dict[str, Any]) -> None:
    fast, generic = _both(TRACK, variables)
    assert fast is None
    assert isinstance(generic, list) and generic  # graphql-core's errors, as before


LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**33), max_value=2**33),
    st.floats(allow_nan=False),
    st.sampled_from(["VIEW", "CLICK", "IOS", "web", "2026-11-25T10:00:00+00:00", "x", "", "12"]),
    st.text(max_size=5),
)
FIELDS = ["id", "type", "occurredAt", "userId", "itemId", "value", "query", "feature", "platform", "offerId"]
VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from([*FIELDS, "other"]), inner, max_size=6),
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.builds(_event, userId=st.sampled_from(["1", 2, None])),
            st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8).map(lambda d: {**_event(), **d}),
            VALUES,
        ),
        max_size=4,
    ),
)
def test_fuzzed_values_agree_with_graphql_core(events: list[Any]) -> None:
    _agree(TRACK, {"events": events})


def test_recursive_and_one_of_inputs_are_not_compiled() -> None:
    from graphql import GraphQLInputField, GraphQLInputObjectType, GraphQLInt

    from gateway.inputs import NotCompiled

    node = GraphQLInputObjectType(
        "Node", lambda: {"next": GraphQLInputField(node), "n": GraphQLInputField(GraphQLInt)}
    )
    with pytest.raises(NotCompiled):
        compile_input(node)
    choice = GraphQLInputObjectType("Choice", {"a": GraphQLInputField(GraphQLInt)}, is_one_of=True)
    with pytest.raises(NotCompiled):
        compile_input(choice)


@pytest.fixture
async def users(db_dsn: str) -> Any:
    conn = await world.connect(db_dsn)
    await world.add_items(conn)
    await world.add_user(conn, 1)
    await world.add_user(conn, 2, purposes=())
    try:
        yield conn
    finally:
        await conn.close()


async def test_the_trusted_batch_runs_through_the_compiled_coercion(
    settings: Settings, token: Any, users: Any
) -> None:
    """The app's trackEvents document, as the bench sends it: stored, deduplicated, consent
    applied, invalid batches refused with their field errors, as with graphql-core's coercion."""
    gateway = create_app(settings)
    route = next(r for r in gateway.routes if getattr(r, "path", "") == "/graphql")
    trusted = route.endpoint.schema.trusted  # type: ignore[attr-defined]
    async with gateway.router.lifespan_context(gateway) as state:
        transport = httpx.ASGITransport(app=_with_state(gateway, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            await _compare(client, trusted, token(Role.APP, "ios"), users)


async def _compare(client: httpx.AsyncClient, trusted: Any, app: str, users: Any) -> None:
    answers: dict[bool, list[Any]] = {}
    for compiled in (True, False):
        trusted.enabled = compiled
        before = trusted.coerced
        resent = _event(userId="1", itemId=ITEM, occurredAt=world.ev("view")["occurredAt"])
        batches = [
            [resent, _event(type="SESSION_START", userId="2", occurredAt=resent["occurredAt"])],
            [resent],  # a duplicate, told as accepted to an app
            [_event(userId="1", itemId="999999", occurredAt=resent["occurredAt"])],  # no such item
            [_event(userId="1", type="DWELL", itemId=ITEM, occurredAt=resent["occurredAt"])],  # no value
            [_event(userId="1", type="NOPE")],  # graphql-core's own error
        ]
        rid = {"x-request-id": "inputs-12345678"}
        answers[compiled] = [await gql(client, TRACK, {"events": b}, token=app, headers=rid) for b in batches]
        assert trusted.coerced - before == (4 if compiled else 0)
    trusted.enabled = True
    assert answers[True] == answers[False]
    assert answers[True][0]["data"]["trackEvents"] == {
        "__typename": "TrackEventsResult",
        "accepted": 2,
        "duplicates": 0,
        "droppedNoConsent": 0,
    }, answers[True][0]
    assert answers[True][2]["data"]["trackEvents"]["__typename"] == "InvalidInput"
    assert answers[True][4]["errors"]
    stored = await users.fetchval("SELECT count(*) FROM events WHERE user_id = 1")
    assert stored == 2  # the same event once per pass: resent ids are no-ops
