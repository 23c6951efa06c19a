"""Which paragraphs of an answer are about something else, and which letter bullets it deals with in other words
(Task Response / Task Achievement relevance).

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
# The scored-essays files hold no General Training letters, so this was calibrated on the nearest thing they hold
# (scripts/calibrate_bullet_coverage.py): the questions of the Task 2 prompts, each against the sentences of an
# essay written for it (own) and of essays written for other prompts (other, three per essay). On the questions
# that name a topic, as letter bullets do ("What are the benefits and drawbacks of eating insects?"; 236 own and
# 1,353 other pairs), keywords alone leave 22.0 % of own questions missing and 71.7 % of other prompts' questions;
# with this encoder test as a second way in, 0.35 leaves 10.6 % and 58.0 % (0.30: 6.8 % and 46.9 %; 0.40: 11.9 %
# and 64.8 %). On all 192 questions (885 own, 2,205 other pairs, "To what extent do you agree?" included): 14.6 %
# to 6.6 % own missing, 52.4 % to 42.5 % other missing; what stays missing of one's own is mostly a question that
# names no topic ("Why does this happen?") answered without its words. In letters the gap is wider: the sample
# letter's two content bullets reach 0.48 and 0.59, the platform's 36 other letter bullets at most 0.34 against it.
# A request bullet names no topic either (the sample's own request reaches 0.23), so features.py counts a request
# phrase for it instead.
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


def bullet_similarity(bullets: np.ndarray, sentences: np.ndarray) -> list[float]:
    """For each bullet (a row of unit topic vectors), the cosine of the letter's sentence closest to it (-1: none)."""
    if len(sentences) == 0:
        return [-1.0] * len(bullets)
    return [float(row.max()) for row in bullets @ sentences.T]


def bullets_covered(bullets: np.ndarray, sentences: np.ndarray) -> list[bool]:
    """For each bullet, whether some sentence of the letter deals with it."""
    return [s >= BULLET_COVERED_FROM for s in bullet_similarity(bullets, sentences)]
