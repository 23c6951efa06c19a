"""The recogniser's evaluation helper (used by tests and the speech benchmark)."""

from __future__ import annotations

from ieltsprep.adapters.speech.stt import word_error_rate


def test_word_error_rate_counts_substitutions_insertions_and_deletions_ignoring_case_and_punctuation() -> None:
    assert word_error_rate("I come from Leeds.", "i come from leeds") == 0.0
    assert word_error_rate("I come from Leeds", "I came from Leeds") == 0.25
    assert word_error_rate("I come from Leeds", "I come from Leeds today") == 0.25
    assert word_error_rate("I come from Leeds", "come from") == 0.5
    assert word_error_rate("", "anything") == 1.0
