"""Which paragraphs of an answer are about something else (Task Response / Task Achievement relevance).

A paragraph is off the topic when its sentence embedding (all-MiniLM-L6-v2, ``encoder.TOPIC_LAYERS``) is far from
both the question and the answer's own introduction. Measured on the essays CSV (Task 2, 80 essays, 240 body
paragraphs against 263 paragraphs of essays written for other questions): below a cosine of 0.30, 1.2 % of the
essays' own paragraphs and 85 % of the other essays' paragraphs are flagged (0.25: 0.8 % and 71 %; 0.35: 3.8 % and
93 %). Word overlap with the question alone separated far worse (6 % of own paragraphs flagged to catch 72 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

OFF_TOPIC_BELOW = 0.30
MIN_PARAGRAPH_WORDS = 20


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
