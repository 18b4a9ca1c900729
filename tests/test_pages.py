"""The two pages, as people use them: in headless Chromium against the live app, with the network
ending at 127.0.0.1, every action through the public API, checked for accessibility with axe-core
and by keyboard, and a screenshot of each (.artifacts/screenshots)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway import Settings
from gateway.pages import CSP, PAGES
from privacy.principal import Role
from tests.browser import local_only_page, save_screenshot
from tests.dp_data import register
from tests.live import live_server
from tests.tools import JS_DIR

AXE = JS_DIR / "node_modules" / "axe-core" / "axe.min.js"


def accessibility_problems(page: Any) -> list[str]:
    """axe-core's serious and critical findings (WCAG 2 A/AA rules), run in the page."""
    page.evaluate(AXE.read_text())  # evaluate is not subject to the page's CSP; a script tag would be
    result = page.evaluate(
        "() => axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } })"
    )
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def test_pages_are_served_with_their_policy(client: httpx.AsyncClient) -> None:
    for path in PAGES:
        page = await client.get(path)
        assert page.status_code == 200 and page.headers["content-security-policy"] == CSP
        assert page.headers["cache-control"] == "no-store"
        assets = re.findall(r'(?:src|href)="(/static/pages/[^"]+)"', page.text)
        assert assets and "<script>" not in page.text  # no inline script: the CSP allows none
        for url in assets:
            asset = await client.get(url)
            assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    assert (await client.get("/static/pages/nothing.js")).status_code == 404


@pytest.mark.slow
def test_the_privacy_center_lets_a_person_withdraw_consent_and_see_the_why_change(
    chromium: str, node: str, demo_settings: Settings, demo_token: Callable[..., str]
) -> None:
    token = demo_token(Role.USER, 1)  # the power-shopper persona: everything personalized
    with live_server(demo_settings) as base, local_only_page() as (page, log):
        page.goto(f"{base}/privacy#token={token}")
        first = page.locator("#feed li").first
        first.wait_for()
        assert page.url == f"{base}/privacy"  # the token left the address bar at once
        assert first.get_attribute("data-mode") == "PERSONALIZED"
        before = first.locator(".why").inner_text()
        assert accessibility_problems(page) == []
        # By keyboard: focus the switch of "personalize.content" and turn it off with Space.
        switch = page.locator("#consent-personalize-content")
        switch.focus()
        page.keyboard.press("Space")
        page.locator("#status").get_by_text("not allowed").wait_for()
        page.wait_for_function("() => document.querySelector('#feed li').dataset.mode !== 'PERSONALIZED'")
        after = page.locator("#feed li").first.locator(".why").inner_text()
        assert after != before and not switch.is_checked()
        # Hide an inference, then undo it from "What you have hidden".
        page.get_by_role("button", name=re.compile("^Hide: ")).first.click()
        page.locator("#status").get_by_text("is hidden").wait_for()
        undo = page.locator("#controls").get_by_role("button", name=re.compile("^Undo "))
        undo.first.click()
        page.locator("#status").get_by_text("Undone").wait_for()
        assert page.locator("#controls").get_by_role("button", name=re.compile("^Undo ")).count() == 0
        # Allow it again: the why is personal again.
        switch.check()
        page.wait_for_function("() => document.querySelector('#feed li').dataset.mode === 'PERSONALIZED'")
        # Their own settings: the simple layout in dark colours; the app's layout says "you chose this".
        page.get_by_label("Colours").select_option("DARK")
        page.get_by_label("Layout").select_option("SIMPLE")
        page.get_by_role("button", name="Save my settings").click()
        page.locator("#status").get_by_text("settings are saved").wait_for()
        layout = _layout(base, token)
        assert layout["appearance"]["theme"] == "DARK" and layout["appearance"]["layoutChoice"] == "SIMPLE"
        assert layout["appearance"]["why"]["reasons"][0]["code"] == "YOUR_CHOICE"
        assert page.get_by_label("Layout").input_value() == "SIMPLE"  # the page shows what was stored
        save_screenshot(page, "privacy-center")
        page.get_by_role("button", name="Back to the standard").click()
        page.locator("#status").get_by_text("back to the standard").wait_for()
        assert _layout(base, token)["appearance"]["layoutChoice"] is None
        assert log.blocked == [] and log.csp_violations(page) == [] and log.errors == [], log


def _layout(base: str, token: str) -> dict[str, Any]:
    query = (
        '{ layoutConfig(platform: IOS, appVersion: "4.2.0") { ... on LayoutConfig {'
        " appearance { theme layoutChoice why { reasons { code } } } } } }"
    )
    auth = {"Authorization": f"Bearer {token}"}
    answer = httpx.post(f"{base}/graphql", json={"query": query}, headers=auth)
    return answer.json()["data"]["layoutConfig"]


@pytest.mark.slow
def test_the_analyst_console_prices_a_question_runs_it_and_charts_intervals(
    chromium: str, node: str, demo_settings: Settings, demo_token: Callable[..., str], demo_dsn: str
) -> None:
    token = demo_token(Role.ANALYST, "console-analyst")
    asyncio.run(register(demo_dsn, "console-analyst"))  # an admin registered this analyst
    with live_server(demo_settings) as base, local_only_page() as (page, log):
        page.goto(f"{base}/analytics#token={token}")
        page.locator("#budget meter").wait_for()
        assert page.get_by_role("button", name="Run").is_disabled()
        page.get_by_label("Statistic").select_option("usersBy")
        page.get_by_label("Dimension").select_option("EXPERIENCE")
        page.get_by_label("Epsilon to spend").fill("0.5")
        page.get_by_role("button", name="Estimate the cost").click()
        page.locator("#cost").get_by_text("costs 0.5 epsilon").wait_for()
        page.get_by_role("button", name="Run").click()
        page.locator("#result svg").wait_for()
        bars = page.locator("#result svg rect.bar")
        assert bars.count() == 3  # NEWBIE, POWER, REGULAR: public keys, all released
        assert page.locator("#result svg line.interval").count() == 3 * 3  # a bar and two ends each
        rows = page.locator("#result table tbody tr")
        assert rows.count() == 3 and "\N{EN DASH}" in rows.first.inner_text()
        page.locator("#ledger table tbody tr").first.get_by_text("charge").wait_for()
        assert float(page.locator("#budget meter").get_attribute("value")) == pytest.approx(0.5)
        assert accessibility_problems(page) == []
        save_screenshot(page, "analyst-console")
        assert log.blocked == [] and log.csp_violations(page) == [] and log.errors == [], log
