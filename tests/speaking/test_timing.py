"""Timing from the candidate's audio: the energy voice detector, the audio timeline, and a Nova-shaped engine (words
without timings or confidence) whose answers are still timed from the audio the controller receives."""

from __future__ import annotations

import io
import json
import random
import subprocess
import wave
from typing import Any

import numpy as np
import pytest
import soxr

from ieltsprep.speaking.controller import Controller, StoreTurn
from ieltsprep.speaking.measures import measure
from ieltsprep.speaking.scoring import LocalSpeakingScorer
from ieltsprep.speaking.script import choose_parts
from ieltsprep.speaking.sessions import Turn
from ieltsprep.speaking.timing import AudioTimeline, energy_voice_activity

RATE = 16000
SENTENCES = [
    "I grew up in a small town near the coast, and I still go back there every summer to see my family.",
    "What I like most about it is the quiet, because you can walk along the beach for hours without meeting anyone.",
    "The town has changed a lot in recent years, since many young people have moved to the city to find work.",
]
WORDS = sum(len(s.split()) for s in SENTENCES)


def _tone(seconds: float, level: int = 6000) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (np.sin(2 * np.pi * 220 * t) * level).astype(np.int16)


def _quiet(seconds: float, level: int = 0) -> np.ndarray:
    noise = np.random.default_rng(1).normal(0, level, int(RATE * seconds)) if level else np.zeros(int(RATE * seconds))
    return noise.astype(np.int16)


def _espeak(text: str, speed: int) -> np.ndarray:
    """``text`` spoken by espeak-ng at 16 kHz, without its leading and trailing silence."""
    raw = subprocess.run(
        ["espeak-ng", "-v", "en-gb", "-s", str(speed), "--stdout", text], capture_output=True, check=True, timeout=60
    ).stdout
    with wave.open(io.BytesIO(raw)) as w:
        rate = w.getframerate()
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
    samples = (np.clip(soxr.resample(audio, rate, RATE), -1, 1) * 32767).astype(np.int16)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 300)
    return samples[loud[0] : loud[-1] + 1]


def _answer(speed: int, pause_seconds: float) -> tuple[bytes, float]:
    """The three sentences at espeak-ng ``speed`` with pauses between them; and their true rate (words a minute)."""
    pieces: list[np.ndarray] = []
    for i, sentence in enumerate(SENTENCES):
        if i:
            pieces.append(_quiet(pause_seconds))
        pieces.append(_espeak(sentence, speed))
    audio = np.concatenate(pieces)
    return audio.tobytes(), WORDS / (audio.size / RATE / 60)


def test_voice_is_found_by_energy_over_the_noise_floor() -> None:
    pcm = np.concatenate([_quiet(1.0, 60), _tone(0.5), _quiet(0.4, 60), _tone(1.0), _quiet(1.0, 60)]).tobytes()
    segments = energy_voice_activity(pcm)
    assert len(segments) == 2
    (s1, e1), (s2, e2) = segments
    assert abs(s1 - 1000) <= 20 and abs(e1 - 1500) <= 20
    assert abs(s2 - 1900) <= 20 and abs(e2 - 2900) <= 20
    assert energy_voice_activity(_quiet(2.0, 60).tobytes()) == []
    # A gap shorter than a stop closure is within a word; a click is not speech.
    assert len(energy_voice_activity(np.concatenate([_tone(0.3), _quiet(0.05), _tone(0.3)]).tobytes())) == 1
    assert energy_voice_activity(np.concatenate([_quiet(1.0), _tone(0.02), _quiet(1.0)]).tobytes()) == []


def test_the_timeline_answers_in_test_time_and_forgets_old_audio() -> None:
    timeline = AudioTimeline(start_ms=10_000, keep_seconds=5)
    for piece in (_quiet(2.0), _tone(1.0), _quiet(1.0), _tone(0.5), _quiet(1.0)):
        timeline.feed(piece.tobytes())
    assert timeline.end_ms == 15_500
    assert timeline.voiced(10_000, 15_500) == [(12_000, 13_000), (14_000, 14_500)]
    assert timeline.voiced(12_500, 14_200) == [(12_500, 13_000), (14_000, 14_200)]
    timeline.feed(_quiet(2.0).tobytes())  # the first 2.5 s are dropped
    assert timeline.voiced(10_000, 17_500) == [(12_500, 13_000), (14_000, 14_500)]


def _nova_final(text: str, content_id: str) -> list[dict[str, Any]]:
    """A Nova Sonic USER transcript: FINAL text, no word timings, no confidence, no turn times."""
    fields = json.dumps({"generationStage": "FINAL"})
    return [
        {
            "event": {
                "contentStart": {
                    "contentId": content_id,
                    "type": "TEXT",
                    "role": "USER",
                    "additionalModelFields": fields,
                }
            }
        },
        {"event": {"textOutput": {"contentId": content_id, "role": "USER", "content": text}}},
        {"event": {"contentEnd": {"contentId": content_id, "type": "TEXT", "stopReason": "END_TURN"}}},
    ]


def _run_on_a_nova_shaped_engine(pcm: bytes) -> list[Turn]:
    """The controller hears the answer's audio (in the client's 100 ms chunks) and then Nova's words for it."""
    controller = Controller("a1", choose_parts(set(), random.Random(3)))
    actions = controller.begin()
    audio = _quiet(1.5).tobytes() + pcm + _quiet(0.8).tobytes()
    for start in range(0, len(audio), 3200):
        actions += controller.on_audio(audio[start : start + 3200])
    for event in _nova_final(" ".join(SENTENCES), "n1"):
        actions += controller.on_engine_event(event)
    return [a.turn for a in sorted((a for a in actions if isinstance(a, StoreTurn)), key=lambda a: a.index)]


@pytest.fixture(scope="module")
def answers() -> dict[str, tuple[bytes, float]]:
    """The same answer at about 160 words a minute, and at about 110 with longer pauses between sentences."""
    return {"fast": _answer(120, 0.3), "slow": _answer(80, 1.0)}


def test_speech_rate_comes_from_the_audio_on_an_engine_that_sends_no_timings(
    answers: dict[str, tuple[bytes, float]],
) -> None:
    figures = {}
    for name, (pcm, true_rate) in answers.items():
        turns = _run_on_a_nova_shaped_engine(pcm)
        candidate = [t for t in turns if t.role == "candidate"]
        assert len(candidate) == 1 and candidate[0].words == () and candidate[0].confidence is None
        turn = candidate[0]
        assert turn.voiced, "the turn's voice was measured in its audio"
        # The turn lasts as long as the answer, not 0 ms.
        assert turn.end_ms - turn.start_ms == pytest.approx(len(pcm) / 32, rel=0.05)
        m = measure(turns)
        assert m.timing == "audio"
        assert m.speech_rate_wpm == pytest.approx(true_rate, rel=0.15), name
        figures[name] = (true_rate, m)
    assert 100 <= figures["slow"][0] <= 120 and 150 <= figures["fast"][0] <= 170
    slow, fast = figures["slow"][1], figures["fast"][1]
    assert slow.pause_ratio is not None and fast.pause_ratio is not None and slow.pause_ratio > fast.pause_ratio


def test_the_slower_pausing_answer_scores_lower_on_fluency(answers: dict[str, tuple[bytes, float]]) -> None:
    scorer = LocalSpeakingScorer()
    bands = {}
    for name, (pcm, _) in answers.items():
        result = scorer.score(_run_on_a_nova_shaped_engine(pcm), complete=False)
        bands[name] = result.criteria["fluency_coherence"].band
        assert not result.criteria["pronunciation"].measured  # Nova gives no recogniser confidence
    assert bands["slow"] is not None and bands["fast"] is not None
    assert bands["slow"] < bands["fast"], bands
