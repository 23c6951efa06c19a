"""Deterministic damage to an essay, each aimed at one criterion (the validity battery of the writing scorer)."""

from __future__ import annotations

import random
import re

from ieltsprep.scoring.spelling import speller

_WORD = re.compile(r"[A-Za-z]{4,}")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _misspelt(word: str) -> str:
    """A learner-like misspelling that no dictionary accepts: a doubled, dropped or swapped inner letter."""
    sp = speller()
    for candidate in (
        word[:2] + word[3] + word[2] + word[4:],  # swapped
        word[:2] + word[3:],  # dropped
        word[:3] + word[2] + word[3:],  # doubled
        word[:-1] + "e" if not word.endswith("e") else word[:-1],
    ):
        if not sp.known(candidate):
            return candidate
    return word + "h"


def misspell(text: str, share: float = 0.04) -> str:
    """Misspell about ``share`` of all words, spread evenly over the text."""
    words = list(_WORD.finditer(text))
    total = len(re.findall(r"\S+", text))
    wanted = max(1, round(share * total))
    step = max(1, len(words) // wanted)
    chosen = words[step // 2 :: step][:wanted]
    out, last = [], 0
    for m in chosen:
        out += [text[last : m.start()], _misspelt(m.group())]
        last = m.end()
    return "".join([*out, text[last:]])


# (pattern, replacement): each plants one agreement, article/determiner or verb-form error where it matches.
_PLANTS: tuple[tuple[str, str], ...] = (
    (r"\b(people|they|we|children|governments|students) are\b", r"\1 is"),
    (r"\b(it|this|that|he|she) is\b", r"\1 are"),
    (r"\b(it|this|that|he|she) has\b", r"\1 have"),
    (r"\b(people|they|we|children|students) have\b", r"\1 has"),
    (r"\b(people|they|we|children|students) were\b", r"\1 was"),
    (r"\b(can|will|should|must|could|may|might|would) ([a-z]+e)\b", r"\1 \2s"),
    (r"\b(can|will|should|must|could|may|might|would) (be|have|make|take|help|lead|improve|become)\b", r"\1 to \2"),
    (r"\bthe ([a-z]+s)\b", r"a \1"),
    (r"\b(a|an) ([a-z]+)\b", r"\2"),
    (r"\bmany ([a-z]+)s\b", r"many \1"),
    (r"\b(has|have) been\b", r"\1 be"),
    (r"\bdoes not ([a-z]+)\b", r"does not \1s"),
)


def plant_grammar_errors(text: str, count: int = 8) -> str:
    """Plant ``count`` agreement, article and verb-form errors, each at a different place, cycling the patterns."""
    planted = 0
    used: list[tuple[int, int]] = []
    for _round in range(4):
        for pattern, replacement in _PLANTS:
            if planted >= count:
                return text
            for m in re.finditer(pattern, text):
                if any(m.start() < end + 20 and m.end() > start - 20 for start, end in used):
                    continue
                new = m.expand(replacement)
                text = text[: m.start()] + new + text[m.end() :]
                used = [(s + (len(new) - (m.end() - m.start())) if s > m.start() else s, e) for s, e in used]
                used.append((m.start(), m.start() + len(new)))
                planted += 1
                break
    return text


def flatten_and_shuffle(text: str, seed: int = 7) -> str:
    """Remove every paragraph break and shuffle the sentences."""
    sentences = [s for s in _SENTENCE.split(" ".join(text.split())) if s]
    random.Random(seed).shuffle(sentences)
    return " ".join(sentences)


def replace_half(text: str, other: str) -> str:
    """Keep the essay's paragraphs up to about half its words; fill the rest with another essay's last paragraphs."""
    paragraphs = [p for p in text.split("\n") if p.strip()]
    total = len(text.split())
    kept: list[str] = []
    while paragraphs and sum(len(p.split()) for p in kept) < total / 2:
        kept.append(paragraphs.pop(0))
    wanted = total - sum(len(p.split()) for p in kept)
    foreign: list[str] = []
    for paragraph in reversed([p for p in other.split("\n") if p.strip()]):
        if sum(len(p.split()) for p in foreign) >= wanted:
            break
        foreign.insert(0, paragraph)
    return "\n\n".join(kept + foreign)


def cut(text: str, words: int) -> str:
    """The first ``words`` words of the text, ending at the last full stop if one is near."""
    kept = " ".join(text.split()[:words])
    stop = kept.rfind(".")
    return kept[: stop + 1] if stop > len(kept) * 0.8 else kept
