"""Feedback that teaches: per criterion, two or three ranked points quoting the candidate's own sentences, and what
the next band up needs in the words of the public band descriptors.

Shared by both engines: every point comes from evidence measured in the text (``Analysis``), never from a count
shown for its own sake, and no point ever advises reusing the question's words (examiners discount copied rubric).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ieltsprep.scoring.features import OVERLONG_SENTENCE_WORDS, Analysis, Token, lexicon
from ieltsprep.scoring.port import FeedbackPoint, WritingTask, criterion_keys

MAX_POINTS = 3
# A body paragraph shorter than this rarely holds an idea, its reason and an example.
UNDEVELOPED_WORDS = 30
# A body paragraph this long has room for its own support, named or not ("A student can practise vocabulary on a
# phone ..." is an example without "for example"): it is not told to add one.
DEVELOPED_WORDS = 60
QUOTE_WORDS = 22
GRAMMAR_NAMES = {
    "agreement": "subject-verb agreement",
    "article": "articles and determiners",
    "verb_form": "verb forms",
    "preposition": "prepositions",
    "noun_number": "plural and uncountable nouns",
    "word_form": "word forms",
    "capitalisation": "capital letters",
    "repetition": "repeated words",
}
# Everyday words with a more precise academic alternative (Lexical Resource: "less common lexical items").
# Only words whose better choice does not depend on the sense ("good" or "get" would need the context).
PLAIN_WORDS: dict[str, str] = {
    "thing": "aspect, factor or issue",
    "things": "aspects, factors or issues",
    "a lot of": "a great deal of, numerous or considerable",
    "lots of": "a great deal of, numerous or considerable",
    "very important": "crucial, vital or essential",
    "kids": "children (more formal)",
    "stuff": "material, items or belongings",
}
# General words that say little on their own, with the more exact words to choose between by what is meant
# (Lexical Resource: "precision"); "get" in fixed phrases ("get rid of", "get used to") is left alone.
GENERAL_WORDS: dict[str, str] = {
    "get": "obtain, receive, become or reach",
    "gets": "obtains, receives, becomes or reaches",
    "got": "received, obtained, became or reached",
    "good": "effective, reliable, enjoyable or beneficial",
    "bad": "harmful, poor, unpleasant or serious",
    "nice": "pleasant, friendly, attractive or comfortable",
    "big": "large, significant, substantial or major",
}
_FIXED_AFTER_GET = frozenset(["rid", "used", "along", "married", "together", "involved", "better", "worse"])
# Less common words (wordfreq's Zipf frequency under this, "refund", "lifeguard", "membership") that the question
# does not use: what the higher bands call "less common lexical items".
LESS_COMMON_ZIPF = 3.8
RAREST_ZIPF = 1.5  # below this a "word" is more likely a name or a coinage than vocabulary
# Kinds of complex structure ("a variety of complex structures"), each found by its marker words.
STRUCTURES: dict[str, str] = {
    "a 'which' or 'who' clause ('..., which means that ...')": r"\b(?:which|who|whom|whose)\b",
    "an 'if' or 'unless' clause ('If this continues, ...')": r"\b(?:if|unless)\b",
    "an 'although' or 'whereas' clause ('Although this is true, ...')": r"\b(?:although|though|whereas)\b",
}
# A letter that says what it is for ("I am writing to complain ...").
_PURPOSE = re.compile(
    r"\b(?:I am|I'm|I\u2019m) writing\b|\bI (?:would like|want) to (?:complain|apply|ask|thank|"
    r"invite|inform|request|apologi[sz]e)\b",
    re.IGNORECASE,
)
SUBORDINATORS = frozenset(lexicon()["subordinators"])
# A sentence that announces the essay ("In this essay, I am going to ... explain why I believe ...") states no
# position yet.
_ANNOUNCEMENT = re.compile(r"\b(?:this essay|I am going to|I will (?:discuss|examine|explain|argue))\b", re.IGNORECASE)
_VISUAL_UNITS = {
    "process": ("stages", "the number of stages and where the process begins and ends"),
    "map": ("changes", "the most significant changes between the maps"),
}


@dataclass(frozen=True)
class _Candidate:
    priority: float
    start: int
    end: int
    advice: str


@lru_cache(maxsize=1)
def descriptors() -> dict[str, dict[str, str]]:
    """What each band needs, per criterion (package data from the public band descriptors)."""
    raw = resources.files("ieltsprep.scoring").joinpath("data/descriptors.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(raw)
    return {k: v for k, v in data.items() if not k.startswith("_")}


def descriptor_key(task: WritingTask, criterion: str) -> str:
    """The descriptor table of a criterion: Task 1 has separate Academic and General task tables."""
    if criterion == "task_achievement":
        return "task_achievement_general" if task.kind == "general_letter" else "task_achievement_academic"
    return criterion


def next_band_text(task: WritingTask, criterion: str, band: int) -> str:
    """'For band N, a script ...' from the descriptors, or "" at band 9."""
    table = descriptors()[descriptor_key(task, criterion)]
    target = max(band + 1, min(int(k) for k in table))
    if str(target) not in table:
        return ""
    return f"For band {target}, a script {table[str(target)]}."


def quote(text: str, start: int, end: int) -> str:
    """The sentence span as the candidate wrote it, shortened to about QUOTE_WORDS words."""
    words = " ".join(text[start:end].split()).split(" ")
    shown = " ".join(words[:QUOTE_WORDS])
    return shown + (" …" if len(words) > QUOTE_WORDS else "")


def _sentence_at(analysis: Analysis, offset: int) -> tuple[int, int]:
    for start, end, _ in analysis.sentences:
        if start <= offset < end:
            return start, end
    return (analysis.sentences[-1][0], analysis.sentences[-1][1]) if analysis.sentences else (0, 0)


def _first_sentence(analysis: Analysis) -> tuple[int, int]:
    return (analysis.sentences[0][0], analysis.sentences[0][1]) if analysis.sentences else (0, 0)


def _last_sentence(analysis: Analysis) -> tuple[int, int]:
    """The last sentence of four words or more (not a sign-off or a name)."""
    full = [s for s in analysis.sentences if s[2] >= 4] or analysis.sentences
    return (full[-1][0], full[-1][1]) if full else (0, 0)


def _task_points(task: WritingTask, a: Analysis, flags: Iterable[str]) -> list[_Candidate]:
    flagged = set(flags)
    points: list[_Candidate] = []
    first = _first_sentence(a)
    last = _last_sentence(a)
    if "under_length" in flagged:
        points.append(
            _Candidate(
                10,
                *last,
                f"Your answer stops here, short of the {task.min_words} words the task needs: an under-length answer "
                "cannot show that it covers every part of the task.",
            )
        )
    for start, _end in a.off_topic_paragraphs[:1]:
        s = _sentence_at(a, start)
        points.append(
            _Candidate(
                9,
                *s,
                "This part of the answer is about something other than the question; every paragraph must answer "
                "the question that was set.",
            )
        )
    if a.copied_share >= 0.15:
        s = _sentence_at(a, a.copied_start) if a.copied_start is not None else first
        points.append(
            _Candidate(
                6,
                *s,
                "Much of this is copied from the question; copied words do not count, so restate the task in your "
                "own words.",
            )
        )
    if task.kind == "academic_chart":
        points += _chart_points(task, a, first)
    elif task.kind == "general_letter":
        points += _letter_points(task, a, first, last)
    else:
        points += _essay_points(a, first, last)
    return points


def _chart_points(task: WritingTask, a: Analysis, first: tuple[int, int]) -> list[_Candidate]:
    points: list[_Candidate] = []
    unit, overview_of = _VISUAL_UNITS.get(task.visual, ("figures", "the main trends, differences or extremes"))
    if not a.overview_phrases:
        points.append(
            _Candidate(
                8,
                *first,
                f"Add an overview, a sentence beginning 'Overall, ...' that sums up {overview_of}; without one the "
                "task band stays at 6 or below.",
            )
        )
    if task.visual == "process":
        if a.sequence_markers < 3:
            body = a.sentences[1] if len(a.sentences) > 1 else a.sentences[0] if a.sentences else (0, 0, 0)
            points.append(
                _Candidate(
                    7,
                    body[0],
                    body[1],
                    "Take the reader through the stages in order, marking each step ('First, ...', 'Next, ...', "
                    "'After this, ...', 'Finally, ...') and using the passive where the actor does not matter.",
                )
            )
    elif task.visual == "map":
        if not a.trend_words:
            points.append(
                _Candidate(
                    7,
                    *first,
                    "Describe what changed and where: 'was replaced by', 'was extended', 'was demolished', "
                    "'to the north of'.",
                )
            )
    elif a.numbers_used == 0 or (a.chart_fact_coverage is not None and a.chart_fact_coverage < 0.3):
        body = a.sentences[1] if len(a.sentences) > 1 else (first[0], first[1], 0)
        points.append(
            _Candidate(
                7,
                body[0],
                body[1],
                "Support each key feature with figures from the chart: the highest and lowest values, and where the "
                "lines or bars start and end.",
            )
        )
    if a.overview_phrases and not points:
        s = _sentence_at(a, a.overview_start) if a.overview_start is not None else first
        points.append(
            _Candidate(
                2,
                *s,
                "Your overview is the heart of the report: make sure it names the two or three most striking "
                f"{unit} rather than a detail.",
            )
        )
    return points


def _letter_points(task: WritingTask, a: Analysis, first: tuple[int, int], last: tuple[int, int]) -> list[_Candidate]:
    points: list[_Candidate] = []
    missing = [f"'{b}'" for b, covered in zip(task.bullets, a.bullet_coverage, strict=False) if covered == 0]
    if missing:
        each = "each a paragraph of its own" if len(missing) > 1 else "a paragraph of its own"
        points.append(
            _Candidate(
                9,
                *last,
                f"The letter never deals with {' or '.join(missing)}: give {'them' if len(missing) > 1 else 'it'} "
                f"{each} before you close the letter. Every bullet point must be covered, or the task band is held "
                "at 4.",
            )
        )
    purpose = next((m for m in _PURPOSE.finditer(a.text) if _error_free(a, *_sentence_at(a, m.start()))), None)
    if purpose is not None:
        points.append(
            _Candidate(
                1,
                *_sentence_at(a, purpose.start()),
                "The purpose of the letter is clear from this sentence: the higher bands ask for 'a clear purpose', "
                "so state it this plainly at the start of every letter.",
            )
        )
    if not a.has_salutation:
        points.append(_Candidate(5, *first, "Open the letter with a greeting that suits the reader ('Dear ...,')."))
    if not a.has_sign_off:
        points.append(
            _Candidate(5, *last, "Close with a sign-off that suits the reader ('Yours faithfully', 'Best wishes').")
        )
    return points


def _essay_points(a: Analysis, first: tuple[int, int], last: tuple[int, int]) -> list[_Candidate]:
    points: list[_Candidate] = []
    stated = next(
        (
            (start, end)
            for start, end, _ in a.sentences
            if any(re.search(rf"\b{re.escape(p)}\b", a.text[start:end], re.IGNORECASE) for p in a.position_phrases)
            and not _ANNOUNCEMENT.search(a.text[start:end])
            and _error_free(a, start, end)
        ),
        None,
    )
    if stated is not None:
        points.append(
            _Candidate(
                1,
                *stated,
                "Your position is clear here: the higher bands ask for 'a clear position throughout the response', "
                "so make every body paragraph argue for it.",
            )
        )
    intro_end = a.paragraph_spans[0][1] if a.paragraph_spans else first[1]
    if not a.position_phrases:
        s = _sentence_at(a, max(intro_end - 2, 0))
        points.append(
            _Candidate(
                8,
                *s,
                "State your own position clearly here, in the introduction ('I firmly believe that ...'), and keep "
                "to it until the conclusion.",
            )
        )
    if not a.conclusion_phrases:
        points.append(
            _Candidate(
                6,
                *last,
                "The essay ends without a conclusion: finish with a short paragraph that sums up your position.",
            )
        )
    bodies = a.paragraph_spans[1:-1] if len(a.paragraph_spans) >= 3 else []
    undeveloped = [(s, e) for s, e in bodies if len(a.text_of(s, e).split()) < UNDEVELOPED_WORDS]
    unsupported = [
        (s, e) for s, e in bodies if not a.has_example(s, e) and len(a.text_of(s, e).split()) < DEVELOPED_WORDS
    ]
    if undeveloped:
        s = _sentence_at(a, undeveloped[0][0])
        points.append(
            _Candidate(
                7,
                *s,
                "This paragraph states an idea but does not develop it: add the reason behind it and a specific "
                "example.",
            )
        )
    elif unsupported:
        s = _sentence_at(a, unsupported[0][0])
        points.append(
            _Candidate(
                4,
                *s,
                "Support this main idea with a specific example or consequence ('For instance, ...'), so it is "
                "extended rather than asserted.",
            )
        )
    return points


def _coherence_points(task: WritingTask, a: Analysis) -> list[_Candidate]:
    points: list[_Candidate] = []
    first = _first_sentence(a)
    if a.paragraphs <= 1 and a.word_count >= 150:
        points.append(
            _Candidate(
                9,
                *first,
                "The whole answer is one block of text: give each main idea its own paragraph"
                + (" (introduction, two or three body paragraphs, conclusion)." if task.task == 2 else "."),
            )
        )
    overused = [w for w, n in a.linking.most_common() if n >= 3 and a.word_count / n < 90]
    for word in overused[:1]:
        at = a.first_phrase_at(word)
        if at is not None:
            points.append(
                _Candidate(
                    6,
                    *_sentence_at(a, at),
                    f"'{word.capitalize()}' links several of your sentences; vary the links, or let the ideas "
                    "follow on without one: over-used linking words read as mechanical.",
                )
            )
    # A link that opens a sentence ("As a result, ...", "On the other hand, ...") joins it to the one before; inside
    # a sentence the same words may not link anything ("still necessary"), and an opening "Since" or "Because"
    # starts a clause of its own sentence.
    linked = next(
        (
            (start, end, w)
            for start, end, _ in a.sentences[1:]
            for w in a.linking
            if w not in overused
            and w not in SUBORDINATORS
            and _error_free(a, start, end)
            and re.match(rf"{re.escape(w)}\b", a.text[start:end], re.IGNORECASE)
        ),
        None,
    )
    if linked is not None:
        start, end, word = linked
        points.append(
            _Candidate(
                1,
                start,
                end,
                f"'{a.text[start : start + len(word)]}' shows how this idea follows from the one before: the higher "
                "bands ask for 'a range of cohesive devices' used appropriately, so make each of your links this clear.",
            )
        )
    if not a.linking and len(a.sentences) >= 5:
        points.append(
            _Candidate(
                7,
                *(a.sentences[1][0], a.sentences[1][1]),
                "Show how each idea connects to the last ('However, ...', 'As a result, ...', 'This means ...').",
            )
        )
    return points


def _lexical_points(task: WritingTask, a: Analysis) -> list[_Candidate]:
    text = task.text
    points: list[_Candidate] = []
    if a.misspelled:
        by_sentence: dict[tuple[int, int], list[Token]] = {}
        for token in a.misspelled:
            by_sentence.setdefault(_sentence_at(a, token.start), []).append(token)
        (s, tokens) = max(by_sentence.items(), key=lambda item: len(item[1]))
        fixes = ", ".join(f"'{t.text}' → '{a.corrections.get(t.lower, '?')}'" for t in tokens[:3])
        many = len(a.misspelled) >= 4
        points.append(
            _Candidate(
                9 if many else 6,
                *s,
                f"Spelling: {fixes}."
                + (" Misspellings recur through the answer; they keep Lexical Resource at 5 or 6." if many else ""),
            )
        )
    for phrase, better in PLAIN_WORDS.items():
        m = re.search(rf"\b{re.escape(phrase)}\b", text, re.IGNORECASE)
        if m:
            points.append(
                _Candidate(
                    4,
                    *_sentence_at(a, m.start()),
                    f"'{m.group(0)}' is vague or informal here; a more precise word would be {better}.",
                )
            )
            break
    general = _general_word(a)
    if general is not None:
        token, better = general
        points.append(
            _Candidate(
                3,
                *_sentence_at(a, token.start),
                f"'{token.text}' says little on its own; a more exact word shows precision: {better}, whichever you "
                "mean.",
            )
        )
    less_common = _less_common_sentence(task, a)
    if less_common is not None:
        (start, end), words = less_common
        quoted = [f"'{w}'" for w in words[:3]]
        named = f"{', '.join(quoted[:-1])} and {quoted[-1]}"
        points.append(
            _Candidate(
                1.5,
                start,
                end,
                f"{named} are precise, less common words for what you mean: the higher bands "
                "ask for 'less common lexical items', so keep choosing the exact word rather than the everyday one.",
            )
        )
    if a.repeated:
        word, _ = a.repeated[0]
        found = next((t for t in a.tokens if t.lower.startswith(word)), None)
        if found is not None:
            points.append(
                _Candidate(
                    5,
                    *_sentence_at(a, found.start),
                    f"'{found.text}' comes back again and again; paraphrase it to show range.",
                )
            )
    if a.varieties.get("en-GB") and a.varieties.get("en-US"):
        gb, us = a.varieties["en-GB"][0], a.varieties["en-US"][0]
        at = a.first_phrase_at(us)
        if at is not None:
            points.append(
                _Candidate(
                    1,
                    *_sentence_at(a, at),
                    f"You mix British ('{gb}') and American ('{us}') spelling: both are correct, but keep to one.",
                )
            )
    return points


def _grammar_points(a: Analysis) -> list[_Candidate]:
    points: list[_Candidate] = []
    by_type: dict[str, list[Any]] = {}
    for error in a.grammar:
        by_type.setdefault(error.type, []).append(error)
    for kind, errors in sorted(by_type.items(), key=lambda item: -len(item[1])):
        error = errors[0]
        s = _sentence_at(a, error.start)
        name = GRAMMAR_NAMES.get(kind, kind.replace("_", " "))
        recurring = " This kind of slip recurs in your answer." if len(errors) > 1 else ""
        points.append(_Candidate(8 + min(len(errors), 5) / 5, *s, f"{name.capitalize()}: {error.message}{recurring}"))
    for start, end, _ in a.overlong[:1]:
        points.append(
            _Candidate(
                5,
                start,
                end,
                "This sentence runs on too long to control: split it, and join the parts with 'which', 'because' or "
                "'although' only where the ideas belong together.",
            )
        )
    clean = _clean_complex_sentence(a)
    if clean is not None:
        points.append(
            _Candidate(
                2,
                *clean,
                "This complex sentence has no error the checker found: the higher bands need 'a variety of "
                "complex structures' and 'frequent error-free sentences', so build more of your sentences like it.",
            )
        )
    missing = [name for name, marker in STRUCTURES.items() if not re.search(marker, a.text, re.IGNORECASE)]
    if len(missing) >= 2 and len(a.sentences) >= 5:
        plain = next(
            (
                (start, end)
                for start, end, words in a.sentences[1:]
                if 8 <= words <= 25 and (start, end) not in a.complex_spans and _error_free(a, start, end)
            ),
            None,
        )
        if plain is not None:
            points.append(
                _Candidate(
                    3,
                    *plain,
                    f"None of your sentences uses {' or '.join(missing[:2])}: the higher bands ask for 'a variety of complex "
                    "structures', so build a sentence like this one into one of them.",
                )
            )
    if a.complex_share < 0.3 and len(a.sentences) >= 4:
        simple = next((s for s in a.sentences if 6 <= s[2] <= 16), a.sentences[0])
        points.append(
            _Candidate(
                6,
                simple[0],
                simple[1],
                "Most sentences are simple; combine related ideas into complex sentences ('Although ..., ...', "
                "'..., which means that ...').",
            )
        )
    return points


def _general_word(a: Analysis) -> tuple[Token, str] | None:
    """The first general word ("got", "good", "big") in a sentence with no error found, and its exact alternatives;
    "get" in a fixed phrase ("get used to") and "have got" (possession) are left alone."""
    for i, token in enumerate(a.tokens):
        better = GENERAL_WORDS.get(token.lower)
        if better is None:
            continue
        if token.lower in ("get", "gets", "got"):
            after = a.tokens[i + 1].lower if i + 1 < len(a.tokens) else ""
            before = a.tokens[i - 1].lower if i > 0 else ""
            if after in _FIXED_AFTER_GET or before in ("have", "has", "had") or before.endswith(("'ve", "’ve")):
                continue
        start, end = _sentence_at(a, token.start)
        # Only a word the quote shows (``quote`` keeps the first QUOTE_WORDS words of the sentence).
        if _error_free(a, start, end) and len(a.text[start : token.start].split()) < QUOTE_WORDS:
            return token, better
    return None


def _less_common_sentence(task: WritingTask, a: Analysis) -> tuple[tuple[int, int], list[str]] | None:
    """The sentence with the most less common words the question does not use (at least two), and those words; None
    where wordfreq is not installed (the Bedrock engine's package)."""
    try:
        from wordfreq import zipf_frequency
    except ImportError:
        return None
    stop = set(lexicon()["stopwords"])
    asked = {w.lower() for w in re.findall(r"[A-Za-z']+", task.prompt)}
    misspelt = {t.start for t in a.misspelled}
    by_sentence: dict[tuple[int, int], list[Token]] = {}
    for token in a.tokens:
        word = token.lower
        if (
            token.start in misspelt
            or token.text[:1].isupper()  # a name, or a sentence's first word
            or word in stop
            or word in asked
            or not word.isalpha()
            or not RAREST_ZIPF <= zipf_frequency(word, "en") < LESS_COMMON_ZIPF
        ):
            continue
        found = by_sentence.setdefault(_sentence_at(a, token.start), [])
        if word not in (t.lower for t in found):
            found.append(token)
    spans = []
    for (start, end), tokens in by_sentence.items():
        shown = _shown_from(a, start, tokens)
        if len(tokens) >= 2 and shown is not None and _error_free(a, start, end):
            spans.append(((shown, end), [t.lower for t in tokens]))
    return max(spans, key=lambda item: len(item[1]), default=None)


def _shown_from(a: Analysis, start: int, tokens: list[Token]) -> int | None:
    """Where to start quoting the sentence at ``start`` so that ``tokens`` fall inside the quote: the sentence's
    start, else the latest clause (after a comma or semicolon) the quote can show them from; None if none can."""
    last = tokens[-1].start
    clauses = [start + m.end() for m in re.finditer(r"[,;]\s+", a.text[start : tokens[0].start])]
    for begin in [start, *reversed(clauses)]:
        if len(a.text[begin:last].split()) < QUOTE_WORDS:
            return begin
    return None


def _error_free(a: Analysis, start: int, end: int) -> bool:
    """No grammar error or misspelling found between the offsets: a sentence fit to be shown as what works."""
    return not any(start <= h.start < end for h in a.grammar) and not any(start <= t.start < end for t in a.misspelled)


def _clean_complex_sentence(a: Analysis) -> tuple[int, int] | None:
    """The longest sentence with a subordinate clause and no error found in it (grammar or spelling), short of the
    length that is hard to control."""
    clean = [
        (s, e)
        for s, e in a.complex_spans
        if len(a.text_of(s, e).split()) < OVERLONG_SENTENCE_WORDS and _error_free(a, s, e)
    ]
    return max(clean, key=lambda span: span[1] - span[0], default=None)


def criterion_feedback(
    task: WritingTask, analysis: Analysis, bands: dict[str, int], flags: Iterable[str]
) -> dict[str, tuple[list[FeedbackPoint], str]]:
    """Ranked points (at most three) and the next band's descriptor, per criterion key."""
    keys = criterion_keys(task.task)
    text = task.text
    candidates = {
        keys[0]: _task_points(task, analysis, flags),
        keys[1]: _coherence_points(task, analysis),
        keys[2]: _lexical_points(task, analysis),
        keys[3]: _grammar_points(analysis),
    }
    out: dict[str, tuple[list[FeedbackPoint], str]] = {}
    for key in keys:
        ranked = sorted(candidates[key], key=lambda c: -c.priority)
        # One point per sentence quoted: advice on a sentence already quoted joins that point.
        by_span: dict[tuple[int, int], list[str]] = {}
        for c in ranked:
            if c.end <= c.start or any(c.advice in advice for advice in by_span.values()):
                continue
            if (c.start, c.end) in by_span:
                by_span[(c.start, c.end)].append(c.advice)
            elif len(by_span) < MAX_POINTS:
                by_span[(c.start, c.end)] = [c.advice]
        points = [
            FeedbackPoint(quote=quote(text, start, end), start=start, end=end, advice=" ".join(advice))
            for (start, end), advice in by_span.items()
        ]
        out[key] = (points, next_band_text(task, key, bands[key]))
    return out


def as_paragraph(points: list[FeedbackPoint], next_band: str, reasons: Iterable[str] = ()) -> str:
    """The plain-text feedback of a criterion: the rules' reasons, each point with its quote, then the next band."""
    parts = list(reasons)
    parts += [f'"{p.quote}" {p.advice}' for p in points]
    if next_band:
        parts.append(next_band)
    return " ".join(parts)
