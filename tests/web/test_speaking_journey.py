"""Done means (issue 6): in a real browser with the microphone fed from a WAV (espeak-ng), a candidate takes a
speaking test with Maya on the local speech engine, sees their own words in the live transcript, and reads a result."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from browser_helpers import buy_pack, register, screenshot

from ieltsprep.settings import Settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

# Words of tests/web/conftest.py SPOKEN that a recogniser cannot get from anything Maya says.
CANDIDATE_WORDS = re.compile(r"\b(anna|leeds|nurse|hospital|dog|reading)\b", re.IGNORECASE)


@pytest.fixture
def settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The shared local settings with the speaking time limits shortened twenty times (IELTSPREP_SPEAKING_TIME_SCALE)."""
    return settings.model_copy(
        update={"speaking_time_scale": 0.05, "model_cache_dir": tmp_path_factory.getbasetemp() / "models"}
    )


@pytest.mark.browser
@pytest.mark.slow
def test_candidate_speaks_with_maya_sees_their_words_and_reads_the_result(page: Page) -> None:
    register(page, "speaker@example.com", "correct horse battery")
    buy_pack(page, "Academic Speaking", "academic_speaking")
    page.get_by_role("button", name="Start Academic Speaking").click()

    page.get_by_role("button", name="Check microphone").click()
    page.get_by_text("Your microphone works.").wait_for(timeout=15_000)

    page.get_by_role("button", name="Start the test").click()
    transcript = page.get_by_test_id("transcript")
    transcript.locator("li.examiner").first.wait_for(timeout=90_000)
    assert page.get_by_test_id("phase").inner_text().startswith("Part 1")
    # A final line (not an interim one): what the worker stored and will score.
    transcript.locator("li.candidate:not(.interim)", has_text=CANDIDATE_WORDS).first.wait_for(timeout=120_000)
    assert int(page.get_by_test_id("voice").get_attribute("data-chunks") or 0) > 0, "Maya's voice reached the player"
    screenshot(page, "07-speaking-exam")

    page.get_by_role("button", name="Stop the test").click()
    band = page.get_by_test_id("overall-band")
    band.wait_for(timeout=120_000)
    # Stopped in Part 1: a provisional band at most (none for a few words), and the page says what was missing.
    shown = band.inner_text()
    assert shown == "–" or (0 <= float(shown) <= 9 and (float(shown) * 2).is_integer()), shown
    assert "Part 2 and Part 3 were not taken" in page.get_by_test_id("evidence-note").inner_text()
    screenshot(page, "08-speaking-result")
    candidate_lines = page.get_by_test_id("result-transcript").locator("li.candidate").all_inner_texts()
    assert CANDIDATE_WORDS.search(" ".join(candidate_lines)), candidate_lines
    assert page.get_by_text("Speech rate").count() == 1
