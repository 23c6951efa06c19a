"""Official rounding and weighting rules of the writing band."""

from __future__ import annotations

import pytest

from ieltsprep.scoring import rules


@pytest.mark.parametrize(
    ("mean", "band"),
    [(6.25, 6.5), (6.125, 6.0), (3.875, 4.0), (6.75, 7.0), (6.6, 6.5), (5.0, 5.0), (8.9, 9.0)],
)
def test_round_half_band_rounds_quarters_up(mean: float, band: float) -> None:
    assert rules.round_half_band(mean) == band


def test_writing_band_weights_task_two_double() -> None:
    # (6 + 2*7) / 3 = 6.67 -> 6.5; (7 + 2*6) / 3 = 6.33 -> 6.5; (5 + 2*6.5)/3 = 6.0
    assert rules.writing_band({1: 6.0, 2: 7.0}) == 6.5
    assert rules.writing_band({1: 7.0, 2: 6.0}) == 6.5
    assert rules.writing_band({1: 5.0, 2: 6.5}) == 6.0
    assert rules.writing_band({1: 9.0, 2: 5.0}) == 6.5


def test_task_band_is_rounded_mean_of_whole_criteria() -> None:
    assert rules.task_band({"a": 6, "b": 6, "c": 7, "d": 6}) == 6.5  # 6.25 -> 6.5
    assert rules.task_band({"a": 7, "b": 7, "c": 8, "d": 7}) == 7.5
    assert rules.task_band({"a": 6, "b": 7, "c": 7, "d": 7}) == 7.0  # 6.75 -> 7.0


@pytest.mark.parametrize(("raw", "band"), [(-3.0, 0), (4.49, 4), (4.5, 5), (12.0, 9)])
def test_whole_band_clamps_to_zero_nine(raw: float, band: int) -> None:
    assert rules.whole_band(raw) == band
