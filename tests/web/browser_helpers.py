"""Helpers of the browser tests: screenshots, and the steps several journeys share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def screenshot(page: Page, name: str) -> Path:
    """Save a 360x780 screenshot of the current screen (toasts removed) under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("document.getElementById('toasts').replaceChildren()")
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def register(page: Page, email: str, password: str) -> None:
    """Register through the form (terms and age ticked, marketing left off); lands on the dashboard."""
    page.goto("/#/register")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("I accept the").check()
    page.get_by_label("I am 16 or older.").check()
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Your dashboard").wait_for()


def buy_pack(page: Page, module_label: str, module: str) -> None:
    """Buy one pack in the local test store from the dashboard and wait until the credits show."""
    page.get_by_role("button", name=f"Buy a {module_label} pack for USD 36").click()
    page.get_by_text(f"4 {module_label} assessments added to your account.").wait_for()
    page.locator(f".credits[data-module={module}]").filter(has_text="4").wait_for()
