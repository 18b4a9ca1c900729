"""Apollo's automatic persisted queries over the trusted documents: by hash on GET and POST
(ETag / 304 for the layout, as on /graphql/persisted/{id}), PersistedQueryNotFound and the
retry that registers, the hash checked against the text, registration only where configured;
and the real @apollo/client with its persisted-query link against a live server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from gateway import Settings
from gateway.apq import MAX_RUNTIME_DOCUMENTS, RuntimeDocuments
from gateway.media import GRAPHQL_RESPONSE_JSON
from gateway.persisted import DOCUMENTS_DIR, Registry, document_id
from gateway.schema import build_schema
from gateway.settings import Environment
from tests.conftest import running_client
from tests.live import live_server
from tests.test_limits import _settings
from tests.tools import run_node

LAYOUT = (DOCUMENTS_DIR / "layout.graphql").read_text()
LAYOUT_ID = document_id(LAYOUT)
LAYOUT_VARIABLES = json.dumps({"platform": "IOS", "appVersion": "4.2.0"})
WHOAMI = "query Who { whoami { role } }"
NOT_FOUND = {
    "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
}


def ext(sha256: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha256}}


def get_params(sha256: str, variables: str = "{}", **more: str) -> dict[str, str]:
    return {"extensions": json.dumps(ext(sha256)), "variables": variables, **more}


async def test_trusted_document_by_hash_on_get_with_etag(
    client: httpx.AsyncClient, token: Callable[..., str]
) -> None:
    auth = {"Authorization": f"Bearer {token()}"}
    first = await client.get("/graphql", params=get_params(LAYOUT_ID, LAYOUT_VARIABLES), headers=auth)
    assert first.status_code == 200, first.text
    assert first.json()["data"]["layoutConfig"]["__typename"] == "LayoutConfig"
    assert first.headers["cache-control"].startswith("private, max-age=")
    etag = first.headers["etag"]
    # the same ETag as the custom route, and a 304 on a match without running the operation
    custom = await client.get(
        f"/graphql/persisted/{LAYOUT_ID}", params={"variables": LAYOUT_VARIABLES}, headers=auth
    )
    assert custom.headers["etag"] == etag
    again = await client.get(
        "/graphql", params=get_params(LAYOUT_ID, LAYOUT_VARIABLES), headers={**auth, "If-None-Match": etag}
    )
    assert again.status_code == 304 and again.content == b""
    # graphql-response+json clients get their media type from the same path
    typed = await client.get(
        "/graphql",
        params=get_params(LAYOUT_ID, LAYOUT_VARIABLES),
        headers={**auth, "accept": GRAPHQL_RESPONSE_JSON},
    )
    assert typed.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    bad = await client.get("/graphql", params=get_params(LAYOUT_ID, "[1]"), headers=auth)
    assert bad.status_code == 400 and "variables" in bad.json()["errors"][0]["message"]


async def test_trusted_document_by_hash_on_post(client: httpx.AsyncClient) -> None:
    body = {"extensions": ext(LAYOUT_ID), "variables": json.loads(LAYOUT_VARIABLES)}
    response = await client.post("/graphql", json=body)
    assert response.status_code == 200
    assert response.json()["data"]["layoutConfig"]["__typename"] == "LayoutConfig"


async def test_unknown_hash_then_retry_registers(client: httpx.AsyncClient) -> None:
    sha = document_id(WHOAMI)
    for accept in ("application/json", GRAPHQL_RESPONSE_JSON):
        miss = await client.get("/graphql", params=get_params(sha), headers={"accept": accept})
        assert miss.status_code == 200 and miss.json() == NOT_FOUND  # 200 whatever the media type
    retry = await client.post("/graphql", json={"query": WHOAMI, "extensions": ext(sha)})
    assert retry.json() == {"data": {"whoami": {"role": "anonymous"}}}
    hit = await client.get("/graphql", params=get_params(sha))
    assert hit.json() == {"data": {"whoami": {"role": "anonymous"}}}
    # only trusted documents carry caching headers; anything else is never stored
    assert hit.headers["cache-control"] == "no-store"


async def test_hash_must_match_the_text(client: httpx.AsyncClient) -> None:
    wrong = await client.post("/graphql", json={"query": WHOAMI, "extensions": ext(LAYOUT_ID)})
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["message"] == "provided sha does not match query"
    # and nothing was registered under either hash
    assert (await client.get("/graphql", params=get_params(document_id(WHOAMI)))).json() == NOT_FOUND


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        (ext("ab" * 32, version=2), "Unsupported persisted query version"),
        (ext("not-a-hash"), "hex SHA-256"),
        ({"persistedQuery": "x"}, "must be an object"),
    ],
)
async def test_malformed_persisted_query_is_400(
    client: httpx.AsyncClient, extensions: dict[str, Any], message: str
) -> None:
    response = await client.post("/graphql", json={"query": WHOAMI, "extensions": extensions})
    assert response.status_code == 400 and message in response.json()["errors"][0]["message"]


async def test_invalid_documents_are_not_registered(client: httpx.AsyncClient) -> None:
    invalid = "{ noSuchField }"
    sha = document_id(invalid)
    response = await client.post("/graphql", json={"query": invalid, "extensions": ext(sha)})
    assert response.json()["errors"]
    assert (await client.get("/graphql", params=get_params(sha))).json() == NOT_FOUND


async def test_registered_mutation_is_not_run_by_get(client: httpx.AsyncClient) -> None:
    mutation = "mutation { __typename }"
    sha = document_id(mutation)
    assert (
        await client.post("/graphql", json={"query": mutation, "extensions": ext(sha)})
    ).status_code == 200
    assert (await client.get("/graphql", params=get_params(sha))).status_code == 405


@pytest.fixture
async def closed_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Registration off, any document accepted (as production without persisted_only)."""
    async with running_client(settings.model_copy(update={"persisted_registration": False})) as c:
        yield c


async def test_without_registration_the_text_runs_but_is_not_kept(closed_client: httpx.AsyncClient) -> None:
    sha = document_id(WHOAMI)
    retry = await closed_client.post("/graphql", json={"query": WHOAMI, "extensions": ext(sha)})
    assert retry.json() == {"data": {"whoami": {"role": "anonymous"}}}
    assert (await closed_client.get("/graphql", params=get_params(sha))).json() == NOT_FOUND


async def test_persisted_only_accepts_trusted_documents_only(settings: Settings) -> None:
    async with running_client(settings.model_copy(update={"persisted_only": True})) as strict:
        sha = document_id(WHOAMI)
        assert (await strict.get("/graphql", params=get_params(sha))).json() == NOT_FOUND
        refused = await strict.post("/graphql", json={"query": WHOAMI, "extensions": ext(sha)})
        assert refused.status_code == 400 and "registered (persisted) documents only" in refused.text
        assert (await strict.get("/graphql", params=get_params(sha))).json() == NOT_FOUND
        trusted = await strict.post("/graphql", json={"query": LAYOUT, "extensions": ext(LAYOUT_ID)})
        # it ran (and asks for the variables the layout needs)
        assert trusted.json()["errors"][0]["message"].startswith("Variable '$platform'")


def test_registration_is_never_on_in_production(settings: Settings, tmp_path: Path) -> None:
    production = _settings("postgresql://unused", tmp_path, env=Environment.PRODUCTION)
    assert not production.persisted_registration_enabled
    assert settings.persisted_registration_enabled  # test/development: on by default
    with pytest.raises(ValidationError, match="only trusted documents"):
        production.model_validate({**production.model_dump(), "persisted_registration": True})
    with pytest.raises(ValidationError, match="only trusted documents"):
        Settings.model_validate(
            {**settings.model_dump(), "persisted_only": True, "persisted_registration": True}
        )
    assert not settings.model_copy(update={"persisted_only": True}).persisted_registration_enabled


def test_runtime_documents_are_bounded() -> None:
    store = RuntimeDocuments(max_documents=3)
    for n in range(5):
        store.add(f"h{n}", f"text {n}")
    assert len(store) == 3 and store.get("h0") is None and store.get("h4") == "text 4"
    store.get("h2")  # used: kept over h3
    store.add("h5", "text 5")
    assert store.get("h2") == "text 2" and store.get("h3") is None
    assert MAX_RUNTIME_DOCUMENTS == 1000


def test_extra_documents_directory(settings: Settings, tmp_path: Path) -> None:
    schema = build_schema(settings)
    (tmp_path / "who.graphql").write_text(WHOAMI)
    registry = Registry.load(schema, extra=tmp_path)
    assert registry.get(document_id(WHOAMI)) is not None and registry.by_name["who"].etag_scope is None
    (tmp_path / "layout.graphql").write_text(WHOAMI + " ")  # an ETag scope is ours to grant only
    with pytest.raises(ValueError, match="same name"):
        Registry.load(schema, extra=tmp_path)
    (tmp_path / "layout.graphql").unlink()
    (tmp_path / "bad.graphql").write_text("{ noSuchField }")
    with pytest.raises(ValueError, match="does not match the schema"):
        Registry.load(schema, extra=tmp_path)


@pytest.mark.slow
def test_apollo_client_persisted_queries(node: str, settings: Settings, tmp_path: Path) -> None:
    """@apollo/client (pinned in tests/js) with its persisted-query link, GET for hashed queries:
    a document from the app's manifest is served by hash at once; another one is refused with
    PersistedQueryNotFound, the link retries with the text (POST), and the next time the hash
    alone is enough."""
    manifest = run_node("apollo.mjs", "manifest")
    assert manifest.returncode == 0, manifest.stderr
    trusted = tmp_path / "manifest"
    trusted.mkdir()
    for name, text in json.loads(manifest.stdout).items():
        (trusted / f"{name}.graphql").write_text(text, encoding="utf-8")
    with live_server(settings.model_copy(update={"documents_dir": trusted})) as base:
        done = run_node("apollo.mjs", "run", f"{base}/graphql")
    assert done.returncode == 0, done.stdout + done.stderr
    log = json.loads(done.stdout)
    # [method, sent the text?, status, PersistedQueryNotFound?] for each request the client made
    assert log["trusted"] == [["GET", False, 200, False]]
    assert log["first"] == [["GET", False, 200, True], ["POST", True, 200, False]]
    assert log["second"] == [["GET", False, 200, False]]
