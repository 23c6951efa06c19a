"""The examiner voice: synthesis, 24 kHz output, and the on-disk cache of rendered lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ieltsprep.adapters.speech import tts
from ieltsprep.adapters.speech.models import ModelUnavailable
from ieltsprep.adapters.speech.tts import (
    EspeakSynthesizer,
    ExaminerVoice,
    PiperSynthesizer,
    build_synthesizer,
    to_pcm16,
)


class Counting:
    """Wraps a synthesizer and counts its calls (to see what the cache saves)."""

    def __init__(self, inner: EspeakSynthesizer) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls = 0

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        self.calls += 1
        return self.inner.synthesize(text)


def test_lines_render_to_24khz_pcm_once_and_are_served_from_disk_after_a_restart(tmp_path: Path) -> None:
    synth = Counting(EspeakSynthesizer())
    voice = ExaminerVoice(synth, tmp_path)
    line = "Can you tell me where you're from?"
    pcm = voice.render(line)
    seconds = len(pcm) / 2 / 24000
    assert 1.0 < seconds < 4.0
    assert voice.render("Can you  tell me where you're from? ") == pcm  # whitespace does not make a new line
    assert synth.calls == 1
    restarted = ExaminerVoice(Counting(EspeakSynthesizer()), tmp_path)
    assert restarted.cached(line) == pcm
    assert [p.name for p in tmp_path.iterdir()] == [f"{voice.key(line)}.pcm"]


def test_the_cache_key_depends_on_voice_rate_and_text() -> None:
    voice = ExaminerVoice(EspeakSynthesizer(), None)
    other_voice = ExaminerVoice(EspeakSynthesizer(voice="en-gb+m3"), None)
    other_rate = ExaminerVoice(EspeakSynthesizer(), None, output_rate=16000)
    keys = {voice.key("Hello."), voice.key("Goodbye."), other_voice.key("Hello."), other_rate.key("Hello.")}
    assert len(keys) == 4


def test_prerender_synthesises_only_missing_lines(tmp_path: Path) -> None:
    synth = Counting(EspeakSynthesizer())
    voice = ExaminerVoice(synth, tmp_path)
    assert voice.prerender(["Thank you.", "Thank you.", "  ", "Good morning."]) == 2
    assert voice.prerender(["Thank you.", "Good morning."]) == 0
    assert synth.calls == 2


def test_text_that_looks_like_an_option_is_spoken_not_parsed() -> None:
    audio, rate = EspeakSynthesizer().synthesize("--help me choose")
    assert rate > 0 and audio.size > rate // 2


def test_resampling_to_24khz_keeps_the_duration() -> None:
    tone = np.sin(np.arange(22050) / 22050 * 2 * np.pi * 440).astype(np.float32)
    pcm = to_pcm16(tone, 22050)
    assert abs(len(pcm) // 2 - 24000) <= 2


def test_espeak_is_the_fallback_when_the_piper_voice_cannot_load(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(*args: object, **kwargs: object) -> None:
        raise ModelUnavailable("no voice")

    monkeypatch.setattr(tts, "PiperSynthesizer", missing)
    assert isinstance(build_synthesizer(), EspeakSynthesizer)


@pytest.mark.slow
def test_piper_speaks_with_the_bundled_voice() -> None:
    synth = PiperSynthesizer()
    audio, rate = synth.synthesize("Good morning. My name is Maya.")
    assert rate == 22050 and synth.name == "piper:en_US-joe-medium"
    assert 1.0 < audio.size / rate < 5.0 and float(np.abs(audio).max()) > 0.1
