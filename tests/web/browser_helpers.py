"""Helpers of the browser tests: screenshots, axe-core, the sideways-scroll check, and the steps journeys share."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot of the current screen under test-artifacts/, named after the viewport."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{getattr(page, 'viewport_name', 'page')}-{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the current screen (WCAG 2.1 A and AA rules)."""
    assert AXE.exists(), f"{AXE} is missing: run `make node-deps` (npm package axe-core)"
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
            return result.violations
                .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
        }"""
    )
    return found


def sideways_overflow(page: Page) -> int:
    """How many CSS pixels the page can scroll sideways (0 when nothing sticks out)."""
    return int(page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def check_screen(page: Page, name: str, *, full_page: bool = False) -> Path:
    """The checks every screen gets: axe-core clean, no sideways scrolling; then a screenshot (the whole page when
    ``full_page``, for long pages such as results)."""
    violations = axe_violations(page)
    assert violations == [], f"{name}: {violations}"
    assert sideways_overflow(page) == 0, f"{name} scrolls sideways"
    return screenshot(page, name, full_page=full_page)


def register(page: Page, email: str, password: str) -> None:
    """Register through the form (terms and age ticked, marketing left off); lands on the dashboard."""
    page.goto("/#/register")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("I accept the").check()
    page.get_by_label("I am 16 or older.").check()
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Your dashboard").wait_for()


def buy_pack(page: Page, module_label: str, module: str, *, check: bool = False) -> None:
    """Buy one pack from the dashboard: the confirmation names the pack and price, then the credits show."""
    page.get_by_role("button", name=re.compile(f"^Buy 4 · USD 36\\W+{module_label} pack$")).click()
    dialog = page.get_by_role("dialog", name="Confirm your purchase")
    dialog.wait_for()
    assert f"{module_label}: 4 assessments" in dialog.inner_text()
    assert "USD 36" in dialog.inner_text() and "no money is charged" in dialog.inner_text()
    if check:
        check_screen(page, "03a-purchase-confirmation")
    dialog.get_by_role("button", name="Buy in the test store (USD 36)").click()
    page.get_by_text(f"Test store purchase: 4 {module_label} assessments added to your account.").wait_for()
    page.locator(f".credits[data-module={module}]").filter(has_text="4").wait_for()
