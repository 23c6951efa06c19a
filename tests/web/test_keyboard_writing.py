"""Issue 14: the whole writing journey works with the keyboard alone (Tab, arrows, Enter, Escape), dialogs included."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from browser_helpers import axe_violations, check_screen, register

from ieltsprep.billing import ledger

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from ieltsprep.edges.gateway.server import BackgroundServer


@pytest.mark.browser
@pytest.mark.slow
def test_the_whole_writing_journey_works_with_the_keyboard_alone(page: Page, web: BackgroundServer) -> None:
    register(page, "keys@example.com", "correct horse battery")
    user = web.container.accounts.find_by_email("keys@example.com")
    assert user is not None
    ledger.grant(web.container.store, user.id, "general_writing", 1, source="operator", idempotency_key="keys")
    page.reload()
    page.get_by_role("button", name="Start General Training Writing").wait_for()

    tab_to(page, "Start General Training Writing")
    page.keyboard.press("Enter")
    page.get_by_label("Your answer to Task 1").wait_for()
    tab_to(page, "Your answer to Task 1")
    page.keyboard.type("Dear Sir or Madam, I am writing about the noise from the building site next to my flat.")
    tab_to(page, "Task 1")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-2"
    tab_to(page, "Your answer to Task 2")
    page.keyboard.type("Some people think that cities should ban cars from their centres, and I agree with them.")
    tab_to(page, "Submit paper")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Hand in your paper?")
    dialog.wait_for()
    assert "under the minimum length" in dialog.inner_text()
    assert axe_violations(page) == []
    page.keyboard.press("Escape")  # the dialog closes, the paper stays open
    dialog.wait_for(state="detached")
    tab_to(page, "Submit paper")
    page.keyboard.press("Enter")
    tab_to(page, "Submit paper", within="dialog")
    page.keyboard.press("Enter")
    page.get_by_test_id("overall-band").wait_for(timeout=120_000)
    check_screen(page, "07-keyboard-result")


def tab_to(page: Page, name: str, *, within: str = "body", limit: int = 60) -> None:
    """Press Tab until the focused element's accessible name starts with ``name`` (as a keyboard user would)."""
    for _ in range(limit):
        focused = page.evaluate(
            """(within) => {
                const el = document.activeElement;
                if (!el || !el.closest(within)) return '';
                const label = el.labels && el.labels[0] ? el.labels[0].textContent : '';
                return (el.getAttribute('aria-label') || label || el.textContent || '').trim();
            }""",
            within,
        )
        if focused.startswith(name):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {name!r}")
