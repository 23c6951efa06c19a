"""Measure where a letter's bullet point counts as dealt with in other words (relevance.BULLET_COVERED_FROM).

Usage: python scripts/calibrate_bullet_coverage.py [--data FIRST.csv SECOND.csv] [--seed 0]

The scored-essays files hold no General Training letters, so the nearest thing they hold stands in for bullets: the
questions of each Task 2 prompt ("What are the benefits and drawbacks of eating insects?"). Each essay is judged,
through the production code (features.analyse for the keyword rule, local.bullet_topics for the encoder), against
its own prompt's questions (they should be covered) and three questions of other prompts (they should mostly not
be), at several thresholds. Questions of fewer than four words ("Why?") mean nothing alone and are left out; the
ones naming a topic (a content word that the questions of fewer than eight prompts use) are reported on their own,
since letter bullets name their topic. The CSVs are read at run time and never copied.
"""

from __future__ import annotations

import argparse
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ieltsprep.scoring import encoder, local, relevance
from ieltsprep.scoring import eval as writing_eval
from ieltsprep.scoring.features import analyse, content_words, tokenize
from ieltsprep.scoring.port import WritingTask

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "writing"
FILES = (DATA / "scored_essays_train.csv", DATA / "scored_essays_second_source.csv")
THRESHOLDS = (0.25, 0.30, 0.35, 0.40, 0.45)
OTHERS_PER_ESSAY = 3
DUPLICATE_FROM = 0.8  # another prompt's question this close to an own one asks the same thing
GENERIC_PROMPTS = 8
MIN_QUESTION_WORDS = 4
_QUESTION = re.compile(r"[^.?!\n]*\?")


@dataclass
class Pair:
    question: str
    own: bool
    keyword: bool  # covered by today's rule (its words, or a request phrase)
    similarity: float  # closest sentence in the encoder's topic space


def questions(prompt: str) -> list[str]:
    """The prompt's questions of at least MIN_QUESTION_WORDS words."""
    found = (q.strip() for q in _QUESTION.findall(prompt))
    return list(dict.fromkeys(q for q in found if len(q.split()) >= MIN_QUESTION_WORDS))


def normal(text: str) -> str:
    return " ".join(text.lower().split())


def topic_words(question: str) -> set[str]:
    return set(content_words(t.lower for t in tokenize(question)))


def pairs(files: tuple[Path, ...], seed: int) -> tuple[list[Pair], set[str]]:
    """Own and other-prompt (question, essay) pairs, and the questions that name a topic."""
    rows = [r for f in files for r in writing_eval.load_rows(f) if r.task.task == 2 and questions(r.task.prompt)]
    by_prompt = {r.task.prompt: questions(r.task.prompt) for r in rows}
    spread = Counter(w for qs in by_prompt.values() for w in set().union(*(topic_words(q) for q in qs)))
    generic = {w for w, n in spread.items() if n >= GENERIC_PROMPTS}
    every = sorted({q for qs in by_prompt.values() for q in qs})
    topical = {q for q in every if topic_words(q) - generic}
    vectors = dict(zip(every, encoder.shipped_encoder().encode_parts(every).topics, strict=True))
    rng = random.Random(seed)
    found: list[Pair] = []
    for row in rows:
        own = by_prompt[row.task.prompt]
        own_vectors = np.array([vectors[q] for q in own])
        candidates = [
            q
            for q in every
            if normal(q) not in {normal(o) for o in own} and float((own_vectors @ vectors[q]).max()) < DUPLICATE_FROM
        ]
        others = rng.sample(candidates, OTHERS_PER_ESSAY)
        task = WritingTask(2, row.task.prompt, row.task.text, 250, "essay", (*own, *others))
        analysis = analyse(task)
        bullets, sentences = local.bullet_topics(task, analysis, task.bullets)
        similarity = relevance.bullet_similarity(bullets, sentences)
        for i, question in enumerate(task.bullets):
            found.append(Pair(question, i < len(own), analysis.bullet_coverage[i] > 0, similarity[i]))
    return found, topical


def report(label: str, found: list[Pair]) -> None:
    own = [p for p in found if p.own]
    other = [p for p in found if not p.own]
    print(f"{label}: {len(own)} own pairs, {len(other)} other-prompt pairs")
    print(
        f"  keywords alone: own missing {np.mean([not p.keyword for p in own]):.3f}, "
        f"other missing {np.mean([not p.keyword for p in other]):.3f}"
    )
    for threshold in THRESHOLDS:

        def missing(p: Pair, with_keywords: bool, threshold: float = threshold) -> bool:
            return p.similarity < threshold and not (with_keywords and p.keyword)

        print(
            f"  {threshold:.2f}: encoder alone own missing {np.mean([missing(p, False) for p in own]):.3f}, "
            f"other missing {np.mean([missing(p, False) for p in other]):.3f}; with keywords own missing "
            f"{np.mean([missing(p, True) for p in own]):.3f}, other missing {np.mean([missing(p, True) for p in other]):.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", default=list(FILES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    found, topical = pairs(tuple(args.data), args.seed)
    report("all questions", found)
    report("questions naming a topic", [p for p in found if p.question in topical])
    print(f"shipped threshold: {relevance.BULLET_COVERED_FROM}")


if __name__ == "__main__":
    main()
