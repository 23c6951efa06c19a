"""Speech test fixtures: one local engine (Whisper and the examiner voice loaded once) per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ieltsprep.adapters.speech.local import LocalSpeechEngine
from ieltsprep.settings import Settings


@pytest.fixture(scope="session")
def speech_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose data and model cache live in a temporary directory for the whole test session."""
    root = tmp_path_factory.mktemp("speech")
    return Settings(stage="local", data_dir=root / "var", model_cache_dir=root / "models", cookie_secure=False)


@pytest.fixture(scope="session")
def local_engine(speech_settings: Settings) -> Iterator[LocalSpeechEngine]:
    """The local engine with Whisper and the voice loaded once for all slow tests."""
    engine = LocalSpeechEngine(speech_settings)
    engine.load()
    yield engine
    engine.close()


@pytest.fixture
def data_dir(speech_settings: Settings) -> Path:
    """Where the session-wide engine keeps its examiner line cache."""
    return speech_settings.data_dir
