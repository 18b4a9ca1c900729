"""Two pages served by the gateway, with no CDN and no build step: the privacy center for a
signed-in person (`/privacy`) and the analyst console (`/analytics`).

They are plain HTML, CSS and JavaScript modules from gateway/static/pages/, and every action
goes through the public GraphQL API with the caller's own token: the pages hold no privilege of
their own. The token arrives in the URL's fragment (`/privacy#token=...`, never sent to a
server: the app that embeds the page passes it) and is kept in the tab's sessionStorage. Assets
are cached for long with a content hash in their URL; the pages carry a Content-Security-Policy
that allows only this origin."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from string import Template

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

STATIC_DIR = Path(__file__).parent / "static" / "pages"
ASSET_PATH = "/static/pages"
CACHE_FOREVER = "public, max-age=31536000, immutable"
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
# URL path -> page template.
PAGES = {"/privacy": "privacy.html", "/analytics": "analyst.html"}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    version: str  # a content hash, in the asset's URL


class Pages:
    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self.assets: dict[str, Asset] = {}
        for path in sorted(directory.iterdir()):
            if path.suffix in MEDIA_TYPES:
                body = path.read_bytes()
                self.assets[path.name] = Asset(
                    body, MEDIA_TYPES[path.suffix], hashlib.sha256(body).hexdigest()[:16]
                )
        urls = {name.replace(".", "_").replace("-", "_"): self.url(name) for name in self.assets}
        self.html = {
            route: Template((directory / template).read_text()).substitute(urls)
            for route, template in PAGES.items()
        }

    def url(self, name: str) -> str:
        return f"{ASSET_PATH}/{name}?v={self.assets[name].version}"

    async def page(self, request: Request) -> Response:
        return HTMLResponse(self.html[request.url.path], headers=PAGE_HEADERS)

    async def asset(self, request: Request) -> Response:
        asset = self.assets.get(request.path_params["name"])
        if asset is None:
            return Response("not found", status_code=404, media_type="text/plain")
        headers = {"Cache-Control": CACHE_FOREVER, "X-Content-Type-Options": "nosniff"}
        return Response(asset.body, media_type=asset.media_type, headers=headers)
