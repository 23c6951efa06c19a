"""Text analysis for the local writing scorer: descriptor-aligned features plus the evidence behind them.

Every number here is computed from the candidate's own text (and the task prompt), deterministically, so the
feedback can quote what was found ("You used 3 linking words: however, moreover, ...") and annotations can
point at character spans.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from statistics import fmean, pstdev
from typing import TYPE_CHECKING, Any

from ieltsprep.scoring import syntax
from ieltsprep.scoring.port import GRAMMAR_TYPES, WritingTask
from ieltsprep.scoring.spelling import Variety, speller
from ieltsprep.stats import percentile

if TYPE_CHECKING:
    import numpy as np

_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
_ANY_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|\n+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*")
_NUMBER = re.compile(r"\d")
_EXAMPLE = re.compile(
    r"\b(for (example|instance)|such as|e\.g\.|a case in point|to illustrate|in my country|according to|"
    r"research|studies|a recent|\d)",
    re.IGNORECASE,
)
_SEQUENCE = re.compile(
    r"\b(first(ly)?|second(ly)?|next|then|after (that|this)|afterwards|subsequently|following (this|that)|"
    r"finally|lastly|once|at the (next|final|last) stage|in the (next|final|last) stage|before|eventually)\b",
    re.IGNORECASE,
)
# A letter's bullet that asks what the writer wants done ("say what you would like the manager to do") names no
# topic, so its words rarely recur in a good answer ("I would like you to refund ..."): it is dealt with when the
# letter makes a request (lexicon "request").
_REQUEST_BULLET = re.compile(r"\bwhat (?:\w+ )?you (?:would like|want|expect)\b", re.IGNORECASE)
# A sentence longer than this is hard to control; examiners see run-ons, so we annotate them.
OVERLONG_SENTENCE_WORDS = 45
# A content word used this often per 250 words reads as repetition rather than cohesion.
REPEAT_PER_250 = 6
# pyspellchecker counts from its frequency list; below this count a known word is "less common" (rough
# equivalent of outside the 10 000 most frequent English words).
RARE_WORD_COUNT = 60_000


@dataclass(frozen=True)
class Token:
    """A word with its character span in the text."""

    start: int
    end: int
    text: str

    @property
    def lower(self) -> str:
        """The lower-cased word with a typographic apostrophe normalised."""
        return self.text.lower().replace("’", "'")


@dataclass(frozen=True)
class Hit:
    """A finding at a span, with what to write instead, and the kind of error (grammar.py's types)."""

    start: int
    end: int
    message: str
    suggestion: str
    type: str


@dataclass
class Analysis:
    """What the feature extractor found in one answer."""

    word_count: int
    tokens: list[Token]
    sentences: list[tuple[int, int, int]]  # start, end, words
    paragraphs: int
    english_share: float
    misspelled: list[Token]
    varieties: dict[Variety, list[str]]
    linking: Counter[str]
    reference_count: int
    subordinate_count: int
    repeated: list[tuple[str, int]]
    overlong: list[tuple[int, int, int]]
    grammar: list[Hit]
    overview_phrases: list[str]
    position_phrases: list[str]
    conclusion_phrases: list[str]
    trend_words: list[str]
    prompt_coverage: float
    essay_on_prompt: float
    copied_share: float
    bullet_coverage: list[float]  # per bullet: 0 means the letter never deals with it (see _bullet_coverage)
    chart_fact_coverage: float | None
    has_salutation: bool
    has_sign_off: bool
    numbers_used: int
    text: str = ""
    paragraph_spans: list[tuple[int, int]] = field(default_factory=list)
    corrections: dict[str, str] = field(default_factory=dict)
    copied_start: int | None = None
    overview_start: int | None = None
    sequence_markers: int = 0
    complex_share: float = 0.0
    complex_spans: list[tuple[int, int]] = field(default_factory=list)  # sentences with a subordinate clause
    local_coherence: float | None = None
    content_lemmas: list[str] = field(default_factory=list)  # correctly spelt nouns, verbs, adjectives, adverbs
    grammar_checked: bool = True  # False where the grammar checker is not installed (see analyse)
    # Filled by the local engine, which can tell what a paragraph is about (scoring/relevance.py).
    off_topic_paragraphs: list[tuple[int, int]] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)

    @property
    def grammar_errors(self) -> int:
        """Grammar errors found (mechanics such as capital letters and repeated words left out)."""
        return sum(1 for hit in self.grammar if hit.type in GRAMMAR_TYPES)

    @property
    def off_topic_share(self) -> float:
        """Share of the answer's words in paragraphs about something other than the question."""
        words = sum(count_words(self.text[s:e]) for s, e in self.off_topic_paragraphs)
        return words / max(self.word_count, 1)

    def text_of(self, start: int, end: int) -> str:
        """The candidate's text between two offsets."""
        return self.text[start:end]

    def has_example(self, start: int, end: int) -> bool:
        """True when the span gives an example or a concrete case."""
        return _EXAMPLE.search(self.text[start:end]) is not None

    def first_phrase_at(self, phrase: str) -> int | None:
        """Offset of the first whole-word occurrence of a phrase (any case), or None."""
        m = re.search(rf"(?<![A-Za-z]){re.escape(phrase)}(?![A-Za-z])", self.text, re.IGNORECASE)
        return m.start() if m else None

    def vector(self, names: Sequence[str]) -> np.ndarray:
        """The named features as a float vector (model input order)."""
        import numpy as np  # only the local model needs vectors; the analysis itself runs without numpy

        return np.array([self.features[name] for name in names], dtype=float)


@lru_cache(maxsize=1)
def lexicon() -> dict[str, Any]:
    """Word lists (stop words, linking words, subordinators...) shipped as package data."""
    raw = resources.files("ieltsprep.scoring").joinpath("data/lexicon.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(raw)
    return data


def count_words(text: str) -> int:
    """Words as IELTS counts them: whitespace-separated tokens containing a letter or digit."""
    return sum(1 for part in text.split() if any(ch.isalnum() for ch in part))


def tokenize(text: str) -> list[Token]:
    """Latin-alphabet words with their spans."""
    return [Token(m.start(), m.end(), m.group(0)) for m in _WORD.finditer(text)]


def content_words(words: Iterable[str]) -> list[str]:
    """Lower-cased words that carry topic (not stop words, at least 3 letters), crudely stemmed."""
    stop = _stopwords()
    return [stem(w) for w in words if len(w) >= 3 and w not in stop]


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    return frozenset(lexicon()["stopwords"])


def stem(word: str) -> str:
    """A light suffix stripper so that 'cities'/'city' and 'increased'/'increase' meet."""
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("ly", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: len(word) - len(suffix)] + repl
    return word


@lru_cache(maxsize=32)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    # One alternation per list (longest first) instead of one search per phrase: several times faster.
    ordered = sorted(set(phrases), key=len, reverse=True)
    return re.compile(r"(?<![a-z'])(" + "|".join(re.escape(p) for p in ordered) + r")(?![a-z])")


def _phrases(lowered: str, phrases: Sequence[str]) -> Counter[str]:
    return Counter(m.group(1) for m in _phrase_pattern(tuple(phrases)).finditer(lowered))


def _sentences(text: str) -> list[tuple[int, int, int]]:
    spans: list[tuple[int, int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end() if text[m.start()] != "\n" else m.start()
        _append_sentence(text, start, end, spans)
        start = m.end()
    _append_sentence(text, start, len(text), spans)
    return spans


def _append_sentence(text: str, start: int, end: int, spans: list[tuple[int, int, int]]) -> None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if not stripped:
        return
    offset = start + (len(chunk) - len(chunk.lstrip()))
    spans.append((offset, offset + len(stripped), count_words(stripped)))


def mtld(words: Sequence[str], threshold: float = 0.72) -> float:
    """Measure of Textual Lexical Diversity (McCarthy & Jarvis 2010), mean of forward and backward passes."""
    if len(words) < 10:
        return float(len(set(words)))

    def one_pass(seq: Sequence[str]) -> float:
        factors, types, count = 0.0, set[str](), 0
        for w in seq:
            types.add(w)
            count += 1
            if len(types) / count <= threshold:
                factors += 1
                types, count = set(), 0
        if count:
            ttr = len(types) / count
            factors += (1 - ttr) / (1 - threshold) if ttr < 1 else 0.0
        return len(seq) / factors if factors else float(len(seq))

    return (one_pass(words) + one_pass(list(reversed(words)))) / 2


def analyse(task: WritingTask) -> Analysis:
    """Find the evidence the descriptors look for in one answer; fast enough for < 200 ms per essay."""
    lex = lexicon()
    text = task.text
    tokens = tokenize(text)
    lowers = [t.lower for t in tokens]
    wc = count_words(text)
    sp = speller()
    freq = sp.frequency.word_frequency.dictionary

    any_words = _ANY_WORD.findall(text)
    known = [w for w in lowers if sp.known(w)]
    stop_hits = sum(1 for w in lowers if w in _stopwords())
    english_share = 0.0
    if any_words:
        english_share = min(len(known) / len(any_words), 2.5 * stop_hits / len(any_words))

    misspelled = [
        t
        for t in tokens
        if not sp.known(t.lower)
        and not (t.text[0].isupper() and t.start > 0)  # proper nouns mid-sentence are not spelling errors
        and len(t.text) > 1
        and not sp.known(t.lower.split("'")[0])
    ]
    varieties: dict[Variety, list[str]] = {}
    for word in dict.fromkeys(lowers):
        variety = sp.variety(word)
        if variety:
            varieties.setdefault(variety, []).append(word)
    lowered = text.lower().replace("’", "'")
    linking = _phrases(lowered, lex["linking"])
    reference_words = frozenset(lex["reference"])
    reference_count = sum(1 for w in lowers if w in reference_words)
    subordinate_count = sum(_phrases(lowered, lex["subordinators"]).values())
    sentences = _sentences(text)
    paragraphs = len([p for p in _PARAGRAPH_BREAK.split(text) if count_words(p) > 0])
    overlong = [s for s in sentences if s[2] > OVERLONG_SENTENCE_WORDS]

    content = content_words(lowers)
    counts = Counter(content)
    limit = max(REPEAT_PER_250, round(REPEAT_PER_250 * wc / 250))
    prompt_tokens = [t.lower for t in tokenize(task.prompt)]
    prompt_content = set(content_words(prompt_tokens))
    repeated = [(w, n) for w, n in counts.most_common(5) if n > limit and w not in prompt_content]
    essay_content = set(content)
    prompt_coverage = coverage_of(task.prompt, essay_content)
    on_prompt = sum(n for w, n in counts.items() if w in prompt_content) / len(content) if content else 0.0
    copied = _copied_share(lowers, prompt_tokens)
    bullets = [_bullet_coverage(b, essay_content, lowered) for b in task.bullets]
    chart = _chart_coverage(task.chart_facts, lowered, essay_content) if task.chart_facts else None

    word_lengths = [len(w) for w in lowers] or [0]
    rare = [w for w in known if freq.get(w, 0) < RARE_WORD_COUNT and len(w) > 3]
    sent_lengths = [s[2] for s in sentences] or [0]
    n_words = max(len(lowers), 1)
    n_sent = max(len(sentences), 1)
    # The jobs Lambda package has no room for spaCy: there the analysis goes on without grammar and structure, and
    # says so (``grammar_checked``); the local engine refuses to load without it.
    doc = syntax.parse(text) if syntax.available() else None
    grammar = _grammar(text, doc)
    analysis = Analysis(
        word_count=wc,
        tokens=tokens,
        sentences=sentences,
        paragraphs=paragraphs,
        english_share=english_share,
        misspelled=misspelled,
        varieties=varieties,
        linking=linking,
        reference_count=reference_count,
        subordinate_count=subordinate_count,
        repeated=repeated,
        overlong=overlong,
        grammar=grammar,
        overview_phrases=sorted(_phrases(lowered, lex["overview"])),
        position_phrases=sorted(_phrases(lowered, lex["position"])),
        conclusion_phrases=sorted(_phrases(lowered, lex["conclusion"])),
        trend_words=sorted(set(lowers) & set(lex["trend"])),
        prompt_coverage=prompt_coverage,
        essay_on_prompt=on_prompt,
        copied_share=copied,
        bullet_coverage=bullets,
        chart_fact_coverage=chart,
        has_salutation=lowered.lstrip().startswith("dear"),
        has_sign_off=bool(_phrases(lowered[-120:], lex["letter_close"])),
        numbers_used=len(re.findall(r"\d+(?:[.,]\d+)?%?", text)),
        text=text,
        paragraph_spans=_paragraph_spans(text),
        corrections={t.lower: sp.suggest(t.lower) for t in misspelled[:25]},
        copied_start=_copied_start(lowered, task.prompt) if copied >= 0.15 else None,
        overview_start=_phrase_start(lowered, lex["overview"]),
        sequence_markers=len(_SEQUENCE.findall(text)),
    )
    misspelt_at = {t.start for t in misspelled}
    structure = dict(syntax.EMPTY_STRUCTURE)
    analysis.grammar_checked = doc is not None
    if doc is not None:
        structure = syntax.structure(doc)
        analysis.complex_share = structure["complex_share"]
        analysis.complex_spans = [
            (s.start_char, s.end_char) for s in doc.sents if any(t.dep_ in syntax.SUBORDINATE for t in s)
        ]
        counted = {t.i for t in doc if t.pos_ in syntax.CONTENT_POS and t.is_alpha and t.idx not in misspelt_at}
        analysis.content_lemmas = [t.lemma_.lower() for t in doc if t.i in counted]
        lemmas_by_sentence = [{t.lemma_.lower() for t in sent if t.i in counted} for sent in doc.sents]
        analysis.local_coherence = _local_coherence(lemmas_by_sentence)
    analysis.features = {
        **structure,
        "adjacent_overlap": analysis.local_coherence or 0.0,
        "log_words": math.log1p(wc),
        "length_ratio": min(wc / max(task.min_words, 1), 2.0),
        "under_length": max(0.0, 1 - wc / max(task.min_words, 1)),
        "sentences_log": math.log1p(len(sentences)),
        "mean_sentence_len": fmean(sent_lengths),
        "sd_sentence_len": pstdev(sent_lengths),
        "overlong_share": len(overlong) / n_sent,
        "paragraphs": float(min(paragraphs, 7)),
        "single_paragraph": 1.0 if paragraphs <= 1 else 0.0,
        "mtld": min(mtld(lowers), 200.0) / 100,
        "guiraud": len(set(lowers)) / math.sqrt(n_words),
        "mean_word_len": fmean(word_lengths),
        "long_word_share": sum(1 for n in word_lengths if n >= 8) / n_words,
        "rare_share": len(rare) / n_words,
        "misspelled_rate": 100 * len(misspelled) / n_words,
        "linking_per_100": 100 * sum(linking.values()) / n_words,
        "linking_distinct": float(min(len(linking), 20)),
        "reference_per_100": 100 * reference_count / n_words,
        "subordinate_per_sentence": subordinate_count / n_sent,
        "commas_per_sentence": text.count(",") / n_sent,
        **_grammar_rates(grammar, n_words),
        "repetition": float(counts.most_common(1)[0][1]) / n_words if counts else 0.0,
        "prompt_coverage": prompt_coverage,
        "on_prompt": on_prompt,
        "copied_share": copied,
        "overview": 1.0 if analysis.overview_phrases else 0.0,
        "position": 1.0 if analysis.position_phrases else 0.0,
        "conclusion": 1.0 if analysis.conclusion_phrases else 0.0,
        "trend_words": float(min(len(analysis.trend_words), 12)),
        "numbers_per_100": 100 * analysis.numbers_used / n_words,
        "task2": 1.0 if task.task == 2 else 0.0,
        **_frequency_profile(lowers, freq),
    }
    return analysis


def _frequency_profile(words: Sequence[str], freq: Any) -> dict[str, float]:
    """Lexical frequency profile of the content words (corpus counts of pyspellchecker's English list)."""
    content = [w for w in words if w in freq and len(w) > 2 and w not in _stopwords()]
    logs = [math.log10(freq[w] + 1) for w in content] if content else [7.0]
    return {
        "content_logfreq_mean": fmean(logs),
        "content_logfreq_p10": percentile(logs, 10),
        "content_below_1e4": fmean(1.0 if v < 4 else 0.0 for v in logs),
        "content_below_1e5": fmean(1.0 if v < 5 else 0.0 for v in logs),
        "content_below_1e6": fmean(1.0 if v < 6 else 0.0 for v in logs),
        "content_guiraud": len(set(content)) / math.sqrt(max(len(content), 1)),
    }


def _grammar(text: str, doc: Any) -> list[Hit]:
    if doc is None:
        return []
    from ieltsprep.scoring.grammar import find_errors

    return [Hit(e.start, e.end, e.message, e.suggestion, e.type) for e in find_errors(text, doc)]


def _grammar_rates(grammar: Sequence[Hit], n_words: int) -> dict[str, float]:
    """Errors found per 100 words: all grammar, the mechanics apart, and each grammar type."""
    counts = Counter(hit.type for hit in grammar)
    errors = sum(n for kind, n in counts.items() if kind in GRAMMAR_TYPES)
    return {
        "grammar_per_100": 100 * errors / n_words,
        "grammar_log": math.log1p(100 * errors / n_words),
        "mechanics_per_100": 100 * (counts["capitalisation"] + counts["repetition"]) / n_words,
        **{f"grammar_{kind}_per_100": 100 * counts[kind] / n_words for kind in GRAMMAR_TYPES},
    }


def _local_coherence(lemmas: Sequence[set[str]]) -> float:
    """How much more neighbouring sentences share content words than distant ones do (0 for a shuffled text)."""

    def overlap(a: set[str], b: set[str]) -> float:
        return len(a & b) / min(len(a), len(b)) if a and b else 0.0

    near = [overlap(a, b) for a, b in itertools.pairwise(lemmas)]
    far = [overlap(lemmas[i], lemmas[j]) for i in range(len(lemmas)) for j in range(i + 3, len(lemmas))]
    if not near or not far:
        return 0.0
    return fmean(near) - fmean(far)


def coverage_of(prompt: str, essay_content: set[str]) -> float:
    """Share of the prompt's content words (lightly stemmed) that the answer uses."""
    prompt_content = set(content_words(t.lower for t in tokenize(prompt)))
    return len(prompt_content & essay_content) / len(prompt_content) if prompt_content else 1.0


def essay_content(analysis: Analysis) -> set[str]:
    """The answer's content words, lightly stemmed (what prompt coverage is measured on)."""
    return set(content_words(t.lower for t in analysis.tokens))


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in re.finditer(r"\n\s*", text):
        if count_words(text[start : m.start()]) > 0:
            spans.append((start, m.start()))
        start = m.end()
    if count_words(text[start:]) > 0:
        spans.append((start, len(text)))
    return spans


def _phrase_start(lowered: str, phrases: Sequence[str]) -> int | None:
    m = _phrase_pattern(tuple(phrases)).search(lowered)
    return m.start() if m else None


def _copied_start(lowered: str, prompt: str, n: int = 6) -> int | None:
    """Offset of the first 6-word run of the answer lifted from the prompt."""
    words = [(m.start(), m.group(0).lower().replace("’", "'")) for m in _WORD.finditer(lowered)]
    prompt_words = [t.lower for t in tokenize(prompt)]
    grams = {tuple(prompt_words[i : i + n]) for i in range(len(prompt_words) - n + 1)}
    for i in range(len(words) - n + 1):
        if tuple(w for _, w in words[i : i + n]) in grams:
            return words[i][0]
    return None


def _coverage(phrase: str, essay_content: set[str]) -> float:
    words = set(content_words(t.lower for t in tokenize(phrase)))
    return len(words & essay_content) / len(words) if words else 1.0


def _bullet_coverage(bullet: str, essay_content: set[str], lowered: str) -> float:
    """Share of the bullet's content words the letter uses; 1.0 for a request bullet when the letter asks for
    something. The local engine also counts a bullet some sentence deals with in other words (``encode_answer``)."""
    share = _coverage(bullet, essay_content)
    if share == 0 and _REQUEST_BULLET.search(bullet) and _phrases(lowered, lexicon()["request"]):
        return 1.0
    return share


def _chart_coverage(facts: Sequence[str], lowered: str, essay_content: set[str]) -> float:
    covered = 0
    for fact in facts:
        if _NUMBER.search(fact):
            # Figures must match whole ("182" is not found inside "1820").
            covered += re.search(r"(?<![\d.])" + re.escape(fact.lower()) + r"(?![\d])", lowered) is not None
        else:
            covered += _coverage(fact, essay_content) >= 0.5
    return covered / len(facts)


def _copied_share(words: Sequence[str], prompt_words: Sequence[str], n: int = 6) -> float:
    """Share of the answer's words inside 6-word runs lifted from the prompt (descriptor: 'copied rubric')."""
    if len(words) < n or len(prompt_words) < n:
        return 0.0
    grams = {tuple(prompt_words[i : i + n]) for i in range(len(prompt_words) - n + 1)}
    inside = [False] * len(words)
    for i in range(len(words) - n + 1):
        if tuple(words[i : i + n]) in grams:
            for j in range(i, i + n):
                inside[j] = True
    return sum(inside) / len(words)


def hashed_ngrams(text: str, dim: int) -> dict[int, float]:
    """Hashed word 1-2 grams and character 3-5 grams, sublinear tf, L2-normalised (model input)."""
    import numpy as np  # the local model's input only: the analysis (and the Bedrock engine) runs without numpy

    prime, mix = np.uint64(_PRIME), np.uint64(_MIX)
    lowered = " ".join(w.lower() for w in _WORD.findall(text))
    words = lowered.split()
    counts = np.zeros(dim, dtype=np.float64)
    for i, w in enumerate(words):
        counts[zlib.crc32(b"w" + w.encode()) % dim] += 1
        if i:
            counts[zlib.crc32(f"b{words[i - 1]} {w}".encode()) % dim] += 1
    raw = np.frombuffer(f" {lowered} ".encode(), dtype=np.uint8).astype(np.uint64)
    with np.errstate(over="ignore"):
        for n in (3, 4, 5):
            if len(raw) < n:
                continue
            h = np.full(len(raw) - n + 1, n, dtype=np.uint64)
            for j in range(n):
                h = h * prime + raw[j : len(raw) - n + 1 + j]
            index = ((h * mix) >> np.uint64(32)) % np.uint64(dim)
            counts += np.bincount(index.astype(np.int64), minlength=dim)
    nonzero = np.flatnonzero(counts)
    if not len(nonzero):
        return {}
    values = 1.0 + np.log(counts[nonzero])
    values /= np.sqrt((values * values).sum())
    return dict(zip(nonzero.tolist(), values.tolist(), strict=True))


# Polynomial rolling hash for character n-grams (vectorised; wraps modulo 2**64), then a Fibonacci mix.
_PRIME = 1_000_003
_MIX = 0x9E3779B97F4A7C15
