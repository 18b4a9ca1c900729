"""The GraphQL-over-HTTP spec: `application/graphql-response+json` for clients that ask for it
(400 and no `data` on request errors), `application/json` unchanged for the others, on POST and
GET; and graphql-http's own server audit against the live app."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gateway import Settings
from gateway.media import GRAPHQL_RESPONSE_JSON, JSON, negotiate
from resolvers.common.limits import LimitsConfig
from resolvers.config import DomainConfig
from tests.live import live_server
from tests.tools import run_node

NEW = {"accept": GRAPHQL_RESPONSE_JSON}
OLD = {"accept": JSON}
PARSE_ERROR = "{"
VALIDATION_ERROR = "{ noSuchField }"
COERCION_ERROR = ("query($id: ID!) { __typename }", {"id": None})


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        ("text/plain", JSON),  # nothing acceptable: JSON rather than 406 (older clients)
        ("application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        ("application/json, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/json, application/graphql-response+json;q=0.5", JSON),
        ("application/graphql-response+json;q=0, application/json", JSON),
        ("application/graphql-response+json;q=0.5, */*", JSON),
        ("Application/GraphQL-Response+JSON; charset=utf-8", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json, multipart/mixed", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json;q=bogus, application/json", JSON),
    ],
)
def test_negotiation(accept: str | None, expected: str) -> None:
    assert negotiate(accept) == expected


async def _post(client: httpx.AsyncClient, headers: dict[str, str], query: str, variables: Any = None):
    return await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


@pytest.mark.parametrize(
    ("query", "variables"),
    [(PARSE_ERROR, None), (VALIDATION_ERROR, None), COERCION_ERROR],
    ids=["parse", "validation", "variable coercion"],
)
async def test_request_errors_by_media_type(client: httpx.AsyncClient, query: str, variables: Any) -> None:
    new = await _post(client, NEW, query, variables)
    assert new.status_code == 400
    assert new.headers["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert "data" not in new.json() and new.json()["errors"]

    old = await _post(client, OLD, query, variables)
    assert old.status_code == 200  # as before, for clients that ask for application/json
    assert old.headers["content-type"] == "application/json"
    assert old.json()["data"] is None and old.json()["errors"]

    get = await client.get(
        "/graphql", params={"query": query, "variables": json.dumps(variables or {})}, headers=NEW
    )
    assert get.status_code == 400 and "data" not in get.json()


async def test_success_and_field_errors_keep_data(client: httpx.AsyncClient) -> None:
    ok = await _post(client, NEW, "{ whoami { role } }")
    assert ok.status_code == 200 and ok.json() == {"data": {"whoami": {"role": "anonymous"}}}
    assert ok.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    # a field error happens during execution: the response has `data`, so it is a 200
    field_error = await _post(client, NEW, "{ whoami { role } privacyBudget { spent } }")
    body = field_error.json()
    assert field_error.status_code == 200, body
    assert "data" in body and body["errors"][0]["path"] == ["privacyBudget"]


async def test_http_errors_are_graphql_responses(client: httpx.AsyncClient) -> None:
    bad_json = await client.post(
        "/graphql", content=b'{ "not json', headers={**NEW, "content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert bad_json.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    for name in ({"obj": "ect"}, 0, False, ["array"]):
        response = await client.post("/graphql", json={"query": "{ __typename }", "operationName": name})
        assert response.status_code == 400, name
        assert "operationName" in response.json()["errors"][0]["message"]


async def test_get_mutation_is_405(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "mutation { __typename }"}, headers=NEW)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    head = await client.head("/graphql", params={"query": "{ __typename }"})
    assert head.status_code == 405 and head.headers["allow"] == "GET, POST"


@pytest.mark.slow
def test_graphql_http_server_audit(node: str, settings: Settings) -> None:
    """graphql-http's audit (pinned in tests/js) against a live server: 0 errors, 0 warnings."""
    # the audit's ~70 requests arrive at once from one anonymous client
    roomy = settings.model_copy(
        update={"domain": DomainConfig(limits=LimitsConfig(anonymous_burst=1000, anonymous_rate_per_s=1000))}
    )
    with live_server(roomy) as base:
        done = run_node("audit.mjs", f"{base}/graphql")
    assert done.returncode in (0, 1), done.stderr
    summary = json.loads(done.stdout)
    print("graphql-http audit:", {status: len(audits) for status, audits in summary.items()})
    assert summary["error"] == [] and summary["warn"] == [], json.dumps(summary, indent=1)
    assert len(summary["ok"]) >= 60
