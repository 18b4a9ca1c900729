"""persisted_only: POST /graphql runs registered documents only (by text or by id)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from gateway import Settings
from gateway.persisted import DOCUMENTS_DIR, Registry, document_id
from gateway.schema import build_schema
from tests.conftest import running_client

LAYOUT_TEXT = (DOCUMENTS_DIR / "layout.graphql").read_text()
VARIABLES = {"platform": "ANDROID", "appVersion": "1.0"}


@pytest.fixture
async def strict_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_client(settings.model_copy(update={"persisted_only": True})) as c:
        yield c


async def test_unregistered_documents_are_refused(strict_client: httpx.AsyncClient) -> None:
    response = await strict_client.post("/graphql", json={"query": "{ whoami { role } }"})
    assert response.status_code == 400
    assert "registered (persisted) documents only" in response.text


async def test_registered_documents_run_by_text_or_id(strict_client: httpx.AsyncClient) -> None:
    by_text = await strict_client.post("/graphql", json={"query": LAYOUT_TEXT, "variables": VARIABLES})
    assert (
        by_text.status_code == 200 and by_text.json()["data"]["layoutConfig"]["__typename"] == "LayoutConfig"
    )
    ext = {"persistedQuery": {"version": 1, "sha256Hash": document_id(LAYOUT_TEXT)}}
    by_id = await strict_client.post("/graphql", json={"variables": VARIABLES, "extensions": ext})
    assert by_id.status_code == 200 and by_id.json()["data"]["layoutConfig"]["offers"]["count"] == 2
    unknown = {"persistedQuery": {"version": 1, "sha256Hash": "f" * 64}}
    not_found = await strict_client.post("/graphql", json={"extensions": unknown})
    assert not_found.status_code == 200  # Apollo's protocol: the client retries with the text
    assert not_found.json() == {
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    }


async def test_open_server_still_accepts_any_document(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ whoami { role } }"})
    assert response.json()["data"]["whoami"]["role"] == "anonymous"


def test_documents_are_valid_against_the_schema(settings: Settings) -> None:
    registry = Registry.load(build_schema(settings))
    assert registry.by_name["layout"].id == document_id(LAYOUT_TEXT)
    assert registry.by_name["layout"].etag_scope == "layout"


def test_layout_etag_fingerprint_is_the_same_in_every_process() -> None:
    """Every worker (and a restarted gateway) must compute the same ETag: the layout settings
    hold a frozenset, whose order follows the per-process string hash seed."""
    import os
    import subprocess
    import sys

    code = (
        "from gateway.persisted import _config_fingerprint;"
        "from resolvers.config import DomainConfig;"
        "print(_config_fingerprint(DomainConfig()))"
    )
    prints = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(prints) == 1
