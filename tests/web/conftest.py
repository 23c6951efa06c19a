"""Browser fixtures: Debian's Chromium driven by Playwright (no browser download), a fake microphone fed from a WAV
made with espeak-ng, the live local platform on a free port, laptop and phone viewports, and screenshots saved under
test-artifacts/."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

    from ieltsprep.edges.gateway.server import BackgroundServer

CHROMIUM = "/usr/bin/chromium"
PHONE: ViewportSize = {"width": 390, "height": 844}
LAPTOP: ViewportSize = {"width": 1280, "height": 800}

# What the candidate says in the speaking test, with pauses so the examiner's endpointing hears turns end.
SPOKEN = [
    "My name is Anna and I come from Leeds in the north of England.",
    "I work as a nurse in a big hospital and I really enjoy helping people.",
    "In my free time I like reading books and walking in the park with my dog.",
]


@pytest.fixture(scope="session")
def microphone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 16 kHz mono WAV of SPOKEN, each sentence followed by two seconds of silence (Chromium loops it)."""
    folder = tmp_path_factory.mktemp("microphone")
    parts: list[str] = []
    for index, sentence in enumerate(SPOKEN):
        raw = folder / f"{index}.wav"
        subprocess.run(["espeak-ng", "-v", "en-gb", "-s", "140", "-w", str(raw), sentence], check=True, timeout=60)
        padded = folder / f"{index}-padded.wav"
        subprocess.run(
            ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(padded), "pad", "0.3", "2.0"],
            check=True,
            timeout=60,
        )
        parts.append(str(padded))
    out = folder / "answers.wav"
    subprocess.run(["sox", *parts, str(out)], check=True, timeout=60)
    return out


@pytest.fixture(scope="session")
def browser(microphone_wav: Path) -> Iterator[Browser]:
    """Headless Debian Chromium with a fake microphone and no network beyond loopback."""
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--autoplay-policy=no-user-gesture-required",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={microphone_wav}",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def web(live_server: BackgroundServer) -> BackgroundServer:
    """The live platform on a free port (never 8000): the gateway allows its own origin, as ``ieltsprep serve`` does."""
    assert not live_server.base_url.endswith(":8000")
    return live_server


@pytest.fixture(params=[LAPTOP, PHONE], ids=["laptop", "phone"])
def viewport(request: pytest.FixtureRequest) -> ViewportSize:
    """Each browser journey runs on a laptop (1280x800) and on a phone (390x844)."""
    size: ViewportSize = request.param
    return size


@pytest.fixture
def page(browser: Browser, web: BackgroundServer, viewport: ViewportSize) -> Iterator[Page]:
    """A page on the live platform that fails the test on any uncaught script error or native dialog."""
    # CSP allows only the site's own scripts; axe-core is injected by the tests, so the test context bypasses it.
    context = browser.new_context(viewport=viewport, base_url=web.base_url, permissions=["microphone"], bypass_csp=True)
    opened = context.new_page()
    opened.viewport_name = "phone" if viewport == PHONE else "laptop"  # type: ignore[attr-defined]
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("dialog", lambda dialog: (errors.append(f"native {dialog.type}: {dialog.message}"), dialog.dismiss()))
    yield opened
    context.close()
    assert errors == [], f"uncaught errors or native dialogs in the page: {errors}"
