"""The last words of a turn: what they say about its end, read by Whisper fast, and how the endpointer uses them."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from speech_audio import silence, speak, trimmed
from turn_session import turn_ends

from ieltsprep.adapters.speech.last_words import (
    SECOND_LOOK_SECONDS,
    SECONDS,
    LastWords,
    Reading,
    Verdict,
    verdict,
    without_restart,
    word_probabilities,
)
from ieltsprep.adapters.speech.local import TurnModels, load_turn_models
from ieltsprep.adapters.speech.models import model_cache_dir, whisper_model_dir
from ieltsprep.adapters.speech.turn_detection import ModelEndpointer, TurnPolicy
from ieltsprep.adapters.speech.vad import SileroVad
from ieltsprep.settings import Settings
from ieltsprep.speaking.protocol import UserTurnEnded

POLICY = TurnPolicy(
    decision_ms=200, judge_ms=192, read_ms=96, complete_threshold=0.9, veto_threshold=0.2, ceiling_part1_ms=2000
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I enjoy living in my city because", Verdict.UNFINISHED),
        ("My favourite place is the", Verdict.UNFINISHED),
        ("I usually cook at home and.", Verdict.UNFINISHED),  # Whisper's full stop cannot close on "and"
        ("In my opinion, I think...", Verdict.UNFINISHED),  # the voice trailed off
        ("My favourite season is, um", Verdict.UNFINISHED),
        ("What I like most about my job is the people I work with.", Verdict.FINISHED),
        ("It was cold, though.", Verdict.FINISHED),
        ("Yes, I do!", Verdict.FINISHED),
        ("When I was a child, I think.", Verdict.OPEN),  # a hedge may close a sentence or hold the floor
        ("I went there with", Verdict.OPEN),  # a preposition can end a sentence: the audio decides
        ("", Verdict.OPEN),
    ],
)
def test_what_the_last_words_say(text: str, expected: Verdict) -> None:
    assert verdict(text) is expected


def test_a_last_word_whisper_could_not_make_out_holds_the_turn() -> None:
    assert verdict("We walk along the riverland.", 0.3) is Verdict.UNFINISHED  # "... the river and", misread
    assert verdict("We walk along the river.", 0.9) is Verdict.FINISHED
    assert verdict("We walk along the river and", 0.1) is Verdict.UNFINISHED  # a dangling word holds regardless
    assert verdict("We walk along the riverland.", 0.3, unsure_below=0.0) is Verdict.FINISHED  # the rule off
    assert not Reading("We walk along the riverland.", (0.9, 0.5, 0.7, 1.0, 0.3), unsure_below=0.0).guessed


def test_the_probability_of_a_word_is_that_of_its_pieces() -> None:
    assert word_probabilities([" We", " walk", " river", "land", "."], [0.9, 0.5, 0.8, 0.25, 0.1]) == [
        0.9,
        0.5,
        0.2,  # "riverland": 0.8 x 0.25; the full stop does not make it less sure
    ]
    reading = Reading("We walk along the riverland. We walk along", (0.9, 0.5, 0.7, 1.0, 0.2, 0.6, 0.9, 0.8))
    assert reading.last_word_probability == 0.2  # the last word kept once the restart is cut
    assert reading.guessed
    assert reading.verdict() is Verdict.UNFINISHED
    assert Reading("Yes, I do.").verdict() is Verdict.FINISHED  # probabilities not known: the text decides


class TwoLooks(LastWords):
    """``LastWords`` with its Whisper pass standing in: scripted readings, one per window read."""

    def __init__(self, *readings: Reading) -> None:
        self.readings = list(readings)
        self.windows: list[float] = []
        self.last_seconds = 0.0

    def _read(self, pcm: np.ndarray, seconds: float) -> Reading:
        self.windows.append(seconds)
        return self.readings[len(self.windows) - 1]


def test_a_guessed_last_word_is_read_again_in_a_shorter_window() -> None:
    guess = Reading("We walk along the riverland.", (0.9, 0.5, 0.7, 1.0, 0.3))
    dangling = Reading("along the river and", (0.8, 1.0, 0.9, 0.2))
    looks = TwoLooks(guess, dangling)
    assert looks.read(silence(1.0)) == dangling  # the second look heard the phrase dangle
    assert looks.windows == [SECONDS, SECOND_LOOK_SECONDS]
    name = Reading("My full name is Anna Smith.", (0.9, 0.9, 0.9, 0.9, 0.8, 0.9))
    assert TwoLooks(Reading("My full name is Ottersmith.", (0.9, 0.9, 0.9, 0.9, 0.02)), name).read(silence(1.0)) == name
    assert name.verdict() is Verdict.FINISHED  # sure the second time: the sentence closed
    looks = TwoLooks(guess, Reading("along the riverbed.", (0.8, 1.0, 0.2)))
    assert looks.read(silence(1.0)) == guess  # a guess twice: the first stands, and holds the turn
    assert guess.verdict() is Verdict.UNFINISHED
    sure = Reading("We walk along the river.", (0.9, 0.9, 0.9, 1.0, 0.95))
    looks = TwoLooks(sure)
    assert looks.read(silence(1.0)) == sure
    assert looks.windows == [SECONDS]  # a sure read is not read again
    unfinished = Reading("We walk along the river and", (0.9, 0.9, 0.9, 1.0, 0.95, 0.1))
    looks = TwoLooks(unfinished)
    assert looks.read(silence(1.0)) == unfinished
    assert looks.windows == [SECONDS]  # "and" holds the turn whatever its probability: no second look


def test_a_restarted_read_is_cut_where_whisper_starts_again() -> None:
    assert without_restart("My favourite place is the. My favourite place is") == "My favourite place is the."
    assert (
        without_restart("The government should build more schools and government should build more")
        == "The government should build more schools and"
    )
    assert without_restart("I like tea and I like coffee.") == "I like tea and I like coffee."
    # The restart misheard its first words ("I like" for "I liked"): cut where it lines up with the first word.
    assert (
        without_restart("I liked that feature because I like that feature because I") == "I liked that feature because"
    )
    assert verdict("I liked that feature because I like that feature because I") is Verdict.UNFINISHED
    assert verdict("I chose engineering because I chose engineering because I chose") is Verdict.UNFINISHED


@pytest.fixture(scope="module")
def reader(speech_settings: Settings) -> LastWords:
    return LastWords(whisper_model_dir(model_cache_dir(speech_settings)))


def test_whisper_reads_whether_a_spoken_answer_is_finished(reader: LastWords) -> None:
    fragment = trimmed(speak("I enjoy living in my city because..."))
    answer = trimmed(speak("I enjoy living in my city because there are so many parks and museums."))
    read = reader.read(np.concatenate([fragment, silence(0.1)]))
    assert read.verdict() is Verdict.UNFINISHED, read
    assert "because" in read.text.lower()
    read = reader.read(np.concatenate([answer, silence(0.1)]))
    assert read.verdict() is Verdict.FINISHED, read
    assert "museums" in read.text.lower()
    assert len(read.probabilities) == len(read.text.split())
    assert read.last_word_probability > 0.5  # "museums", clearly spoken
    assert reader.read(silence(1.0)) == reader.read(silence(1.0))  # no words: the same (empty or not) every time


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad()


def decision(vad: SileroVad, probability: float, words: Verdict) -> bool:
    """Whether a pause after a spoken answer ends the turn for this judgement and these words."""
    endpointer = ModelEndpointer(vad.stream(), POLICY)
    answer = trimmed(speak("I usually spend my weekends at home."))
    endpointer.feed(np.concatenate([silence(0.5), answer]))
    while (to_read := endpointer.take_reading()) is None:
        endpointer.feed(silence(0.032))
    assert to_read.size > answer.size  # the words are asked for first, at read_ms, with the whole answer ...
    assert endpointer.take_judgement() is None and not endpointer.decision_due  # ... before Smart Turn
    while not endpointer.decision_due:
        endpointer.feed(silence(0.032))
    assert endpointer.take_judgement() is not None
    return bool(endpointer.decide(probability, words))


def test_the_words_and_smart_turn_decide_together(vad: SileroVad) -> None:
    assert not decision(vad, 0.99, Verdict.UNFINISHED)  # "... because": held, however finished it sounds
    assert decision(vad, 0.5, Verdict.FINISHED)  # a closed sentence ends the turn ...
    assert not decision(vad, 0.1, Verdict.FINISHED)  # ... unless Smart Turn is sure it is unfinished
    assert decision(vad, 0.95, Verdict.OPEN)  # words that cannot tell: Smart Turn must be sure
    assert not decision(vad, 0.8, Verdict.OPEN)


class SureJudge:
    """Smart Turn standing in: every pause sounds finished."""

    def probability_complete(self, pcm: np.ndarray) -> float:
        return 0.99


class ScriptedReader:
    """The last-words reader standing in: the same words for every pause (an exception when ``text`` is None)."""

    def __init__(self, text: str | None) -> None:
        self.text = text
        self.calls = 0

    def read(self, pcm: np.ndarray) -> Reading:
        self.calls += 1
        if self.text is None:
            raise RuntimeError("ctranslate2 failed")
        return Reading(self.text)


def session_turns(audio: np.ndarray, reader: ScriptedReader, vad: SileroVad) -> list[UserTurnEnded]:
    """The turn ends a local session announces for ``audio`` with these last words."""
    return turn_ends(TurnModels(vad, SureJudge(), POLICY, reader), audio)  # type: ignore[arg-type]


def test_the_local_engine_waits_through_a_pause_after_an_unfinished_phrase(
    vad: SileroVad, caplog: pytest.LogCaptureFixture
) -> None:
    fragment, rest = trimmed(speak("I enjoy living in my city because")), trimmed(speak("there are many parks."))
    audio = np.concatenate([silence(0.5), fragment, silence(1.5), rest, silence(2.5)])
    dangling = ScriptedReader("I enjoy living in my city because")
    assert len(session_turns(audio, dangling, vad)) == 1  # one turn: the pause after "because" did not end it
    assert dangling.calls == 2
    closed = ScriptedReader("I enjoy living in my city.")
    assert len(session_turns(audio, closed, vad)) == 2
    with caplog.at_level(logging.ERROR):
        assert len(session_turns(audio, ScriptedReader(None), vad)) == 2  # a failed read: Smart Turn alone judges
    assert "reading the last words failed" in caplog.text


def test_the_guess_threshold_is_a_setting(speech_settings: Settings) -> None:
    models = load_turn_models(speech_settings.model_copy(update={"turn_unsure_word": 0.2}))
    assert models is not None and models.last_words is not None
    assert models.last_words.unsure_word == 0.2
    assert models.last_words.read(silence(1.0)).unsure_below == 0.2
