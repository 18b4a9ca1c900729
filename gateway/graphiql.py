"""GraphiQL in development, served from pinned local copies: no request leaves the host.

gateway/static/graphiql/ holds React, ReactDOM and GraphiQL exactly as published on npm
(assets.json records each file's package, version, path and SRI hash;
scripts/vendor_graphiql.py re-fetches and verifies them), plus the page's own small script and
style sheet. The page loads every file with an `integrity=` attribute under a
Content-Security-Policy that allows only this origin (and `data:` for the fonts and icons that
GraphiQL's style sheet embeds). Assets are served with long cache lifetimes: vendored file names
carry their version, the page's own files a content hash in their URL.

Production never serves any of this (Settings refuses GraphiQL there)."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from string import Template

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

STATIC_DIR = Path(__file__).parent / "static" / "graphiql"
MANIFEST = "assets.json"
ASSET_PATH = "/static/graphiql"
CACHE_FOREVER = "public, max-age=31536000, immutable"
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
# The page's own files (not vendored): their hash is computed at start.
OWN_FILES = {"gateway-graphiql.js": "text/javascript", "gateway-graphiql.css": "text/css"}
# Template slot -> vendored file.
VENDORED = {
    "react": "react-18.3.1.production.min.js",
    "react_dom": "react-dom-18.3.1.production.min.js",
    "graphiql": "graphiql-4.1.2.min.js",
    "graphiql_css": "graphiql-4.1.2.min.css",
}


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    integrity: str
    query: str  # appended to the URL: a content hash for files whose name has no version


class GraphiQL:
    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self.assets: dict[str, Asset] = {}
        for entry in json.loads((directory / MANIFEST).read_text())["files"]:
            body = (directory / entry["file"]).read_bytes()
            if sri(body) != entry["sha384"]:
                raise ValueError(f"{entry['file']} does not match its pinned hash in {MANIFEST}")
            self.assets[entry["file"]] = Asset(body, entry["media_type"], entry["sha384"], "")
        for name, media_type in OWN_FILES.items():
            body = (directory / name).read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:16]
            self.assets[name] = Asset(body, media_type, sri(body), f"?v={digest}")
        self.template = Template((directory / "graphiql.html").read_text(encoding="utf-8"))

    def page(self, request: Request) -> Response:
        base = request.scope.get("root_path", "") + ASSET_PATH
        slots = {**VENDORED, "page_js": "gateway-graphiql.js", "page_css": "gateway-graphiql.css"}
        values: dict[str, str] = {}
        for slot, name in slots.items():
            asset = self.assets[name]
            values[slot] = f"{base}/{name}{asset.query}"
            values[f"{slot}_sri"] = asset.integrity
        return HTMLResponse(self.template.substitute(values), headers=PAGE_HEADERS)

    async def asset(self, request: Request) -> Response:
        asset = self.assets.get(request.path_params["name"])
        if asset is None:
            return Response("not found", status_code=404, media_type="text/plain")
        headers = {"Cache-Control": CACHE_FOREVER, "X-Content-Type-Options": "nosniff"}
        return Response(asset.body, media_type=asset.media_type, headers=headers)
