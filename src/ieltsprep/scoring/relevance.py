"""Which paragraphs of an answer are about something else (Task Response / Task Achievement relevance).

A paragraph is off the topic when its sentence embedding (all-MiniLM-L6-v2, ``encoder.TOPIC_LAYERS``) is far from
both the question and the answer's own introduction. Measured on the essays CSV (Task 2, 80 essays, 240 body
paragraphs against 263 paragraphs of essays written for other questions): below a cosine of 0.30, 1.2 % of the
essays' own paragraphs and 85 % of the other essays' paragraphs are flagged (0.25: 0.8 % and 71 %; 0.35: 3.8 % and
93 %). Word overlap with the question alone separated far worse (6 % of own paragraphs flagged to catch 72 %).

A General Training letter's bullet point is dealt with in other words when some sentence of the letter is at least
``BULLET_COVERED_FROM`` from the bullet as written (scripts/calibrate_bullet_coverage.py measures it; the figures are
on the constant).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

OFF_TOPIC_BELOW = 0.30
MIN_PARAGRAPH_WORDS = 20
# The scored-essays files hold no General Training letters, so this was calibrated on the nearest thing they hold:
# the questions of the Task 2 prompts ("What are the benefits and drawbacks of eating insects?"), each against
# the sentences of the essays written for it (own) and of essays written for other prompts (other). On the 101
# questions that name a topic (200 own pairs, 2,205 other pairs): at 0.35, 15 % of own questions fall below and
# 76 % of other prompts' questions do; with the keyword rule as the other way in, falsely missing own questions drop
# from 23.5 % (keywords alone) to 12.0 %, while 58 % of other prompts' questions stay missing (70 % with keywords
# alone); 0.30 gives 7.5 % and 48.5 %, 0.40 13.5 % and 64 %. On all 192 questions (885 own, 2,205 other pairs),
# "To what extent do you agree?" included: 14.6 % to 6.6 % own missing, 51.6 % to 41.5 % other missing. Letter
# bullets name their topic as the first set does; on the sample letter its own content bullets reach 0.48 and 0.59
# and the platform's 36 other letter bullets at most 0.34. A request bullet names no topic (0.23 for the sample's
# own request), so features.py counts a request phrase for it instead.
BULLET_COVERED_FROM = 0.35
MIN_SENTENCE_WORDS = 3


def off_topic_parts(prompt: np.ndarray, parts: np.ndarray, words: Sequence[int]) -> list[int]:
    """Indices of the parts (paragraphs; the first is the introduction) that are about something else.

    ``prompt`` and each row of ``parts`` are unit topic vectors; parts shorter than MIN_PARAGRAPH_WORDS are not judged.
    """
    flagged = []
    # The introduction vouches for the body only when it answers the question itself.
    intro_on_topic = len(parts) > 0 and float(parts[0] @ prompt) >= OFF_TOPIC_BELOW
    for i, vector in enumerate(parts):
        if words[i] < MIN_PARAGRAPH_WORDS:
            continue
        similarity = float(vector @ prompt)
        if i > 0 and intro_on_topic:
            similarity = max(similarity, float(vector @ parts[0]))
        if similarity < OFF_TOPIC_BELOW:
            flagged.append(i)
    return flagged


def bullets_covered(bullets: np.ndarray, sentences: np.ndarray) -> list[bool]:
    """For each bullet (a row of unit topic vectors), whether some sentence of the letter deals with it."""
    if len(sentences) == 0:
        return [False] * len(bullets)
    return [bool(row.max() >= BULLET_COVERED_FROM) for row in bullets @ sentences.T]
