"""A headless Chromium (Debian's, driven by Playwright) that may reach 127.0.0.1 only.

Every request the page makes to another host is aborted and recorded, Content-Security-Policy
violations and page errors are recorded too, so a test can assert that a page works offline and
under its CSP. Used by the GraphiQL test; pages served by the gateway are tested the same way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.tools import CHROMIUM_FLAGS, chromium_or_skip, screenshot_path

LOCAL_HOSTS = {"127.0.0.1"}
# Records CSP violations from the first script on.
_CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@dataclass
class PageLog:
    blocked: list[str] = field(default_factory=list)  # requests to anything but 127.0.0.1
    errors: list[str] = field(default_factory=list)  # uncaught page errors, console errors
    local: list[str] = field(default_factory=list)  # requests that were allowed

    def csp_violations(self, page: Any) -> list[str]:
        return list(page.evaluate("window.__cspViolations"))


@contextmanager
def local_only_page(viewport: tuple[int, int] = (1280, 800)) -> Iterator[tuple[Any, PageLog]]:
    """(page, log): a fresh browser context whose network ends at 127.0.0.1."""
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    log = PageLog()

    def route(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname in LOCAL_HOSTS:
            log.local.append(url)
            route.continue_()
        else:
            log.blocked.append(url)
            route.abort("blockedbyclient")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            context.route("**/*", route)
            page = context.new_page()
            page.add_init_script(_CSP_PROBE)
            page.on("pageerror", lambda exc: log.errors.append(f"pageerror: {exc}"))
            page.on("console", lambda msg: log.errors.append(msg.text) if msg.type == "error" else None)
            yield page, log
            context.close()
        finally:
            browser.close()


def save_screenshot(page: Any, name: str) -> None:
    page.screenshot(path=str(screenshot_path(name)), full_page=True)
