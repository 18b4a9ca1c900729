"""GraphiQL from pinned local assets: the page and its assets over HTTP (integrity, CSP, caching,
development only), and a headless Chromium that renders it and runs a query with every request
to anything but 127.0.0.1 blocked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from gateway import Settings
from gateway.graphiql import ASSET_PATH, CSP, STATIC_DIR, GraphiQL, sri
from gateway.settings import Environment
from tests.browser import local_only_page, save_screenshot
from tests.conftest import running_client
from tests.live import live_server
from tests.test_limits import _settings

HTML = {"accept": "text/html"}


async def test_page_loads_only_its_own_pinned_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe" not in CSP
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)  # nothing from another host
    tags = re.findall(r'(?:src|href)="([^"]+)" integrity="([^"]+)"', page.text)
    assert len(tags) == 6  # react, react-dom, graphiql js + css, the page's js + css
    for url, integrity in tags:
        assert url.startswith(ASSET_PATH + "/")
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert sri(asset.content) == integrity, url
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["x-content-type-options"] == "nosniff"
    assert (await client.get(ASSET_PATH + "/../settings.py")).status_code == 404
    assert (await client.get(ASSET_PATH + "/assets.json")).status_code == 404


def test_vendored_files_match_their_pins() -> None:
    """Each vendored file is the published one (scripts/vendor_graphiql.py --check re-downloads)."""
    manifest = json.loads((STATIC_DIR / "assets.json").read_text())
    for entry in manifest["files"]:
        assert entry["version"] in entry["file"] or entry["file"].startswith("LICENSE.")
        assert sri((STATIC_DIR / entry["file"]).read_bytes()) == entry["sha384"], entry["file"]
    GraphiQL()  # refuses to start on a file that does not match


def test_a_tampered_asset_is_refused(tmp_path: Path) -> None:
    for path in STATIC_DIR.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "react-18.3.1.production.min.js").write_bytes(b"alert(1)")
    with pytest.raises(ValueError, match="does not match its pinned hash"):
        GraphiQL(tmp_path)


async def test_production_serves_neither_page_nor_assets(db_dsn: str, tmp_path: Path) -> None:
    async with running_client(_settings(db_dsn, tmp_path, env=Environment.PRODUCTION)) as c:
        page = await c.get("/graphql", headers=HTML)
        assert page.status_code == 404 and "graphiql" not in page.text.lower()
        assert (await c.get(ASSET_PATH + "/graphiql-4.1.2.min.js")).status_code == 404


QUERY = "{ whoami { role } feed(surface: HOME, limit: 3) { item { name } why { summary } } }"


@pytest.mark.slow
def test_graphiql_runs_a_query_offline(chromium: str, demo_settings: Settings) -> None:
    with live_server(demo_settings) as base, local_only_page() as (page, log):
        page.goto(f"{base}/graphql?q={quote(QUERY)}")
        page.locator(".graphiql-query-editor").wait_for()
        # the schema arrived by standard introspection: the documentation explorer shows it
        page.get_by_role("button", name=re.compile("Documentation Explorer")).click()
        page.locator(".graphiql-doc-explorer").get_by_text("Root Types").wait_for()
        page.locator(".graphiql-execute-button").click()
        response = page.locator(".graphiql-response")
        response.get_by_text('"anonymous"').wait_for(timeout=15_000)
        text = response.inner_text()
        save_screenshot(page, "graphiql")
        assert '"whoami"' in text and '"feed"' in text and '"summary"' in text
        assert log.blocked == [], log.blocked
        assert log.csp_violations(page) == []
        assert log.errors == [], log.errors
        assert any(url.startswith(f"{base}/graphql") for url in log.local)
