"""Endpointing on 16 kHz audio: where speech starts, pauses and ends, in audio sample time."""

from __future__ import annotations

import numpy as np
from speech_audio import RATE, silence, speak, trimmed, voiced_span

from ieltsprep.adapters.speech.endpointing import EnergyVad, PauseStarted, SpeechEnded, SpeechStarted, VadConfig


def run(vad: EnergyVad, audio: np.ndarray, chunk: int = 512) -> list[object]:
    events: list[object] = []
    for start in range(0, audio.size, chunk):
        events += vad.feed(audio[start : start + chunk])
    return events


def test_silence_alone_never_starts_a_turn() -> None:
    assert run(EnergyVad(), silence(5)) == []


def test_a_spoken_answer_starts_and_ends_one_turn_near_the_true_boundaries() -> None:
    answer = speak("I live in a small town near the coast, and I really enjoy it.")
    audio = np.concatenate([silence(1.0), answer, silence(1.5)])
    first, last = voiced_span(audio)
    config = VadConfig()
    events = run(EnergyVad(config), audio)
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(starts) == 1 and len(ends) == 1
    assert first - RATE * 0.3 <= starts[0].start <= first  # pre-roll keeps the first phoneme
    assert abs(ends[0].end - last) <= RATE * 0.15  # espeak fades out its last consonant
    assert ends[0].is_speech(config.min_speech_ms)


def test_the_turn_ends_only_after_the_hangover_of_silence() -> None:
    config = VadConfig.for_sensitivity("MEDIUM")
    vad = EnergyVad(config)
    answer = trimmed(speak("Yes, I do."))
    run(vad, np.concatenate([silence(0.5), answer]))
    tail = config.hangover_ms * RATE // 1000
    assert not any(isinstance(e, SpeechEnded) for e in run(vad, silence(0.9 * tail / RATE)))
    assert any(isinstance(e, SpeechEnded) for e in run(vad, silence(0.3 * tail / RATE)))


def test_a_short_pause_inside_an_answer_is_reported_but_does_not_end_the_turn() -> None:
    audio = np.concatenate(
        [silence(0.5), trimmed(speak("I like reading.")), silence(0.35), trimmed(speak("Mostly novels.")), silence(1.2)]
    )
    events = run(EnergyVad(), audio)
    assert sum(isinstance(e, SpeechEnded) for e in events) == 1
    assert any(
        isinstance(e, PauseStarted)
        for e in events[: events.index(next(e for e in events if isinstance(e, SpeechEnded)))]
    )


def test_higher_sensitivity_ends_turns_sooner() -> None:
    assert VadConfig.for_sensitivity("HIGH").hangover_ms < VadConfig.for_sensitivity("LOW").hangover_ms


def test_a_click_is_not_an_answer() -> None:
    click = (np.sin(np.arange(int(0.08 * RATE)) * 0.3) * 12000).astype(np.int16)
    config = VadConfig()
    events = run(EnergyVad(config), np.concatenate([silence(0.5), click, silence(1.0)]))
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    assert all(not e.is_speech(config.min_speech_ms) for e in ends)


def test_steady_room_noise_is_learnt_as_the_floor_and_speech_over_it_is_still_found() -> None:
    rng = np.random.default_rng(7)
    noise = (rng.normal(0, 300, int(6.0 * RATE))).astype(np.int16)  # about -40 dBFS: above the absolute minimum
    answer = speak("The weather here is usually mild.")
    audio = noise.copy()
    at = int(3.0 * RATE)
    audio[at : at + answer.size] = np.clip(audio[at : at + answer.size].astype(np.int32) + answer, -32768, 32767)
    vad = EnergyVad()
    events = run(vad, audio)
    starts = [e for e in events if isinstance(e, SpeechStarted)]
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    real = [e for e in starts if e.start >= RATE * 1.0]
    assert len(real) == 1 and abs(real[0].start - at) < RATE * 0.4
    assert any(e.end > at for e in ends)
    assert vad.floor_db > -50  # the floor moved up to the noise


def test_chunk_size_does_not_change_the_result() -> None:
    audio = np.concatenate([silence(0.4), speak("Good morning."), silence(1.0)])
    assert run(EnergyVad(), audio, chunk=160) == run(EnergyVad(), audio, chunk=4096)


def test_a_mid_answer_pause_shorter_than_the_hangover_does_not_end_the_turn() -> None:
    config = VadConfig.for_sensitivity("MEDIUM")
    assert config.hangover_ms == 500  # what live voice systems use: the floor of Maya's response time
    pause = 0.9 * config.hangover_ms / 1000
    audio = np.concatenate(
        [
            silence(0.5),
            trimmed(speak("I usually get up early and go for a run.")),
            silence(pause),
            trimmed(speak("Then I have breakfast with my family.")),
            silence(1.0),
        ]
    )
    ends = [e for e in run(EnergyVad(config), audio) if isinstance(e, SpeechEnded)]
    assert len(ends) == 1 and ends[0].end > audio.size - RATE * 1.2  # the one end is after the second sentence


def test_after_only_a_word_or_a_hesitation_a_thinking_pause_does_not_end_the_turn() -> None:
    config = VadConfig.for_sensitivity("MEDIUM")
    thinking = (config.hangover_ms + config.short_turn_hangover_ms) / 2 / 1000
    audio = np.concatenate(
        [silence(0.5), trimmed(speak("Well")), silence(thinking), trimmed(speak("I think it depends.")), silence(1.5)]
    )
    ends = [e for e in run(EnergyVad(config), audio) if isinstance(e, SpeechEnded)]
    assert len(ends) == 1 and ends[0].voiced_ms > config.short_turn_ms
    # Once the answer has some substance, the same pause does end it.
    answer = np.concatenate([silence(0.5), trimmed(speak("I think it depends on the person.")), silence(thinking)])
    assert any(isinstance(e, SpeechEnded) for e in run(EnergyVad(config), answer))
