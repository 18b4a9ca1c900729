"""Trusted documents run from a compiled plan (gateway/plan.py) answer exactly what graphql-core's
generic execution answers: the same JSON (data, errors with message, locations and path, and
nulls) for every trusted document over HTTP, for fuzzed variables and several principals, and on
a schema whose resolvers fail, return null and return awaitables at random (hypothesis)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import strawberry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import create_app
from gateway.auth import issue_token
from gateway.persisted import DOCUMENTS_DIR
from gateway.plan import TrustedPlans, plan_executor
from gateway.schema import GatewaySchema
from privacy.principal import Role
from tests import pg
from tests.conftest import _with_state, make_settings

# --- 1. a schema built to fail: every resolver does what the test tells it --------------------

BEHAVIOURS = ("ok", "null", "raise", "async_ok", "async_null", "async_raise")


def _act(info: strawberry.Info, key: str, value: Any) -> Any:
    behaviour = info.context["plan"].get(key, "ok")
    if behaviour == "raise":
        raise ValueError(f"{key} failed")
    if behaviour == "null":
        return None
    if behaviour.startswith("async"):

        async def later() -> Any:
            await asyncio.sleep(0)
            if behaviour == "async_raise":
                raise ValueError(f"{key} failed later")
            return None if behaviour == "async_null" else value

        return later()
    return value


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leafy:
    n: int
    colour: Colour

    @strawberry.field
    def label(self, info: strawberry.Info) -> str:
        return _act(info, f"label{self.n}", f"leaf {self.n}")  # type: ignore[no-any-return]

    @strawberry.field
    def maybe(self, info: strawberry.Info) -> str | None:
        return _act(info, f"maybe{self.n}", "m")  # type: ignore[no-any-return]


@strawberry.type
class Problem:
    message: str


@strawberry.type
class Holder:
    @strawberry.field
    def items(self, info: strawberry.Info) -> list[Leafy]:
        return _act(
            info, "items", [Leafy(n=i, colour=Colour.RED if i % 2 else Colour.BLUE) for i in range(3)]
        )  # type: ignore[no-any-return]

    @strawberry.field
    def optional_items(self, info: strawberry.Info) -> list[Leafy | None] | None:
        return _act(info, "optional_items", [Leafy(n=i + 10, colour=Colour.BLUE) for i in range(2)])  # type: ignore[no-any-return]

    @strawberry.field
    def either(self, info: strawberry.Info, fail: bool = False) -> Leafy | Problem:
        value = Problem(message="no") if fail else Leafy(n=20, colour=Colour.RED)
        return _act(info, "either", value)  # type: ignore[no-any-return]


# Leaves the plan serialises without calling the type (a str for String, an int in 32 bits for
# Int, a member for an enum, ...) next to values it must hand to the type's own serialisation.
ODD_VALUES: tuple[Any, ...] = (
    0, 1, -1, True, False, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 1.0, 1.5, -0.0,
    float("nan"), float("inf"), "x", "", "3", "1.5", None, Colour.RED, Colour.BLUE, "red", "RED", b"x",
)  # fmt: skip


# What a field returns when the example does not pick an odd value for it: a well-formed one.
ODD_DEFAULTS: dict[str, Any] = {"i": 1, "f": 1.5, "s": "x", "id": "7", "b": True, "c": Colour.RED}


def _odd(info: strawberry.Info, key: str) -> Any:
    chosen = info.context.get("odd", {}).get(key)
    return ODD_DEFAULTS[key] if chosen is None else ODD_VALUES[chosen]


@strawberry.type
class Odd:
    @strawberry.field
    def i(self, info: strawberry.Info) -> int | None:
        return _odd(info, "i")  # type: ignore[no-any-return]

    @strawberry.field
    def f(self, info: strawberry.Info) -> float | None:
        return _odd(info, "f")  # type: ignore[no-any-return]

    @strawberry.field
    def s(self, info: strawberry.Info) -> str | None:
        return _odd(info, "s")  # type: ignore[no-any-return]

    @strawberry.field
    def id(self, info: strawberry.Info) -> strawberry.ID | None:
        return _odd(info, "id")  # type: ignore[no-any-return]

    @strawberry.field
    def b(self, info: strawberry.Info) -> bool | None:
        return _odd(info, "b")  # type: ignore[no-any-return]

    @strawberry.field
    def c(self, info: strawberry.Info) -> Colour | None:
        return _odd(info, "c")  # type: ignore[no-any-return]


@strawberry.type
class OddBasic:
    """The same values as plain attributes (fields without a resolver: read inline by the plan)."""

    i: int | None
    f: float | None
    s: str | None
    id: strawberry.ID | None
    b: bool | None
    c: Colour | None
    ni: int
    ns: str
    nc: Colour
    li: list[int] | None
    ls: list[str]
    lc: list[Colour] | None


@strawberry.type
class Query:
    @strawberry.field
    def odd(self) -> Odd | None:
        return Odd()

    @strawberry.field
    def odd_basic(self, info: strawberry.Info) -> OddBasic | None:
        keys = ("i", "f", "s", "id", "b", "c")
        values = {k: _odd(info, k) for k in keys}
        i, s, c = values["i"], values["s"], values["c"]
        # The lists: well-formed, null (an error for the non-null `ls`), a null item (an error),
        # or holding the odd values.
        shape = info.context.get("odd", {}).get("shape", 0) % 4
        lists: tuple[Any, Any, Any] = (
            ([1, 2], ["x", "y"], (Colour.RED, Colour.BLUE)),
            (None, None, None),
            ([1, None], [None, "x"], (None,)),
            ([1, i, 2], [s, "x"], (Colour.RED, c)),
        )[shape]
        li, ls, lc = lists
        return OddBasic(**values, ni=i, ns=s, nc=c, li=li, ls=ls, lc=lc)

    @strawberry.field
    def holder(self, info: strawberry.Info) -> Holder | None:
        return _act(info, "holder", Holder())  # type: ignore[no-any-return]

    @strawberry.field
    def strict(self, info: strawberry.Info) -> Holder:
        return _act(info, "strict", Holder())  # type: ignore[no-any-return]

    @strawberry.field
    def greeting(self, info: strawberry.Info, name: str = "you") -> str:
        return _act(info, "greeting", f"hello {name}")  # type: ignore[no-any-return]


SYNTHETIC = """query Synthetic($fail: Boolean!, $name: String!) {
  greeting(name: $name)
  hi: greeting
  odd { i f s id b c }
  oddBasic { i f s id b c ni ns nc li ls lc }
  holder { ...H optionalItems { n maybe label } }
  strict {
    items { n colour }
    either(fail: $fail) { __typename ... on Problem { message } ... on Leafy { n label } }
  }
}
fragment H on Holder { items { __typename n label maybe colour } }
"""
LEAVES = tuple(f"{kind}{n}" for kind in ("label", "maybe") for n in (0, 1, 2, 10, 11, 20))
KEYS = ("holder", "strict", "greeting", "items", "optional_items", "either", *LEAVES)
TRUSTED = TrustedPlans()
TRUSTED.trust(SYNTHETIC)
SCHEMA = strawberry.Schema(query=Query, execution_context_class=plan_executor(TRUSTED))


async def _execute(behaviours: dict[str, str], variables: dict[str, Any], odd: dict[str, int]) -> Any:
    context = {"plan": behaviours, "odd": odd}
    result = await SCHEMA.execute(SYNTHETIC, variable_values=variables, context_value=context)
    # Siblings of a field whose error nulled their parent are settled in the background (both
    # executors do so): let them finish before the loop closes.
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    await asyncio.gather(*others, return_exceptions=True)
    return result


def _run(
    behaviours: dict[str, str], variables: dict[str, Any], compiled: bool, odd: dict[str, int] | None = None
) -> dict[str, Any]:
    TRUSTED.enabled = compiled
    # A sibling coroutine of a nulled parent that neither executor awaits is destroyed unawaited
    # whenever the collector runs; pyproject's filterwarnings names that expected warning.
    result = asyncio.run(_execute(behaviours, variables, odd or {}))
    return {"data": result.data, "errors": [e.formatted for e in result.errors or []]}


@pytest.mark.slow  # about a minute of hypothesis cases, no database
@settings(max_examples=150, deadline=None)
@given(
    behaviours=st.dictionaries(st.sampled_from(KEYS), st.sampled_from(BEHAVIOURS)),
    fail=st.booleans(),
    name=st.text(max_size=20),
    odd=st.dictionaries(
        st.sampled_from(["i", "f", "s", "id", "b", "c", "shape"]), st.integers(0, len(ODD_VALUES) - 1)
    ),
)
def test_plan_and_graphql_core_agree_when_resolvers_fail(
    behaviours: dict[str, str], fail: bool, name: str, odd: dict[str, int]
) -> None:
    variables = {"fail": fail, "name": name}
    runs = TRUSTED.runs
    compiled = _run(behaviours, variables, compiled=True, odd=odd)
    assert TRUSTED.runs == runs + 1  # the plan ran
    generic = _run(behaviours, variables, compiled=False, odd=odd)
    assert TRUSTED.runs == runs + 1  # and then graphql-core did
    assert orjson.dumps(compiled) == orjson.dumps(generic)


def test_untrusted_documents_and_bad_variables_take_the_generic_path() -> None:
    runs = TRUSTED.runs
    TRUSTED.enabled = True
    other = asyncio.run(SCHEMA.execute("{ greeting }", context_value={"plan": {}}))
    assert other.data == {"greeting": "hello you"} and TRUSTED.runs == runs
    refused = asyncio.run(SCHEMA.execute(SYNTHETIC, variable_values={"fail": 3}, context_value={"plan": {}}))
    assert refused.errors and TRUSTED.runs == runs  # refused before execution, as always


# --- 2. every trusted document of the gateway, over HTTP on the demo world -----------------------

# Plans are for queries; the trusted mutation (track.graphql) has its variables' coercion
# compiled only, proved in tests/test_inputs.py.
TRUSTED_DOCUMENTS = {
    p.stem: p.read_text()
    for p in sorted(DOCUMENTS_DIR.glob("*.graphql"))
    if p.read_text().lstrip().startswith("query")
}
VOLATILE = {"decisionId", "generatedAt", "request_id"}  # new on every execution, whichever path


def _stable(value: Any) -> Any:
    """The answer with the per-execution values replaced by their shape (null stays null)."""
    if isinstance(value, dict):
        return {
            k: (None if v is None else "<set>") if k in VOLATILE else _stable(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


class LiveApp:
    """The real app on its own event loop, so hypothesis can drive it from a plain test."""

    def __init__(self, dsn: str, data_dir: Path) -> None:
        self.settings = make_settings(dsn, data_dir)
        self.loop = asyncio.new_event_loop()
        self.app = create_app(self.settings)
        self.lifespan = self.app.router.lifespan_context(self.app)
        state = self.loop.run_until_complete(self.lifespan.__aenter__())
        transport = httpx.ASGITransport(app=_with_state(self.app, state))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://gateway.test")
        route = next(r for r in self.app.routes if getattr(r, "path", "") == "/graphql")
        self.trusted: TrustedPlans = route.endpoint.schema.trusted  # type: ignore[attr-defined]
        assert isinstance(route.endpoint.schema, GatewaySchema)  # type: ignore[attr-defined]

    def post(self, query: str, variables: Any, token: str | None, compiled: bool) -> tuple[int, Any]:
        self.trusted.enabled = compiled
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.loop.run_until_complete(self._post(query, variables, headers))
        return response.status_code, _stable(response.json())

    async def _post(self, query: str, variables: Any, headers: dict[str, str]) -> httpx.Response:
        """The request, then what it left to settle in the background (siblings of a nulled field):
        under uvicorn the loop runs them; here the loop stops between requests, so wait for them."""
        before = asyncio.all_tasks()
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        left = asyncio.all_tasks() - before - {asyncio.current_task()}
        if left:
            await asyncio.wait(left, timeout=10)
        return response

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.run_until_complete(self.lifespan.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture(scope="module")
def live(admin_dsn: str, demo_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    name = f"gw_plan_{uuid.uuid4().hex[:10]}"
    dsn = pg.create_database(admin_dsn, name, template=demo_template)
    app = LiveApp(dsn, tmp_path_factory.mktemp("plan"))
    try:
        yield app
    finally:
        app.close()
        pg.drop_database(admin_dsn, name)


def _token(live: LiveApp, who: str) -> str | None:
    if who == "anonymous":
        return None
    role, _, sub = who.partition(":")
    return issue_token(live.settings, Role(role), sub or f"plan-{role}", ttl_s=600)


PRINCIPALS = [
    "anonymous",
    "user:1",
    "user:2",
    "user:7",
    "user:399",
    "user:999999",
    "app",
    "analyst",
    "marketer",
]
VARIABLE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=30),
    st.sampled_from(["IOS", "ANDROID", "WEB", "ios", "", "4.2.0", "1", "\x00"]),
    st.lists(st.sampled_from(["IOS", 1]), max_size=2),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    document=st.sampled_from(sorted(TRUSTED_DOCUMENTS)),
    who=st.sampled_from(PRINCIPALS),
    variables=st.dictionaries(
        st.sampled_from(["platform", "appVersion", "extra"]), VARIABLE_VALUES, max_size=3
    ),
)
def test_every_trusted_document_answers_the_same_json_on_both_paths(
    live: LiveApp, document: str, who: str, variables: dict[str, Any]
) -> None:
    query = TRUSTED_DOCUMENTS[document]
    token = _token(live, who)
    runs = live.trusted.runs
    compiled = live.post(query, variables, token, compiled=True)
    generic = live.post(query, variables, token, compiled=False)
    assert compiled == generic
    executed = compiled[1].get("data") is not None
    assert live.trusted.runs == runs + (1 if executed else 0)


def test_the_trusted_documents_run_from_their_plan_with_real_answers(live: LiveApp) -> None:
    """Not only errors: the home screen and the layout of a consenting user, every why field."""
    variables = {"platform": "IOS", "appVersion": "4.2.0"}
    for name, query in TRUSTED_DOCUMENTS.items():
        runs = live.trusted.runs
        status, body = live.post(query, variables, _token(live, "user:1"), compiled=True)
        assert status == 200 and "errors" not in body, body
        assert live.trusted.runs == runs + 1
        assert (status, body) == live.post(query, variables, _token(live, "user:1"), compiled=False)
        if name == "home":
            assert len(body["data"]["viewer"]["feed"]) == 10
            assert all(item["why"]["decisionId"] == "<set>" for item in body["data"]["viewer"]["feed"])
