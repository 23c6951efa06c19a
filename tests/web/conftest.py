"""Browser fixtures: Debian's Chromium driven by Playwright (no browser download), a fake microphone fed from a WAV
made with espeak-ng, the live local platform, and phone-sized screenshots saved under test-artifacts/."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ieltsprep.container import Container

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

    from ieltsprep.edges.gateway.server import BackgroundServer

CHROMIUM = "/usr/bin/chromium"
PHONE: ViewportSize = {"width": 360, "height": 780}

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
def web(live_server: BackgroundServer, container: Container) -> BackgroundServer:
    """The live platform, with its own origin allowed to open the WebSocket on the session cookie (as the site is)."""
    container.settings = container.settings.model_copy(
        update={"cors_origins": [*container.settings.cors_origins, live_server.base_url]}
    )
    return live_server


@pytest.fixture
def page(browser: Browser, web: BackgroundServer) -> Iterator[Page]:
    """A phone-sized page on the live platform that fails the test on any uncaught script error."""
    context = browser.new_context(viewport=PHONE, base_url=web.base_url, permissions=["microphone"])
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("dialog", lambda dialog: dialog.accept())
    yield opened
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"
