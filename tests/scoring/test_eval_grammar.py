"""scripts/eval_grammar.py: gold edits become character spans in the detokenised text, and found errors are
matched by type and overlap (a missing word by touching its gap), on a two-sentence corpus made here."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "eval_grammar.py"


@pytest.fixture(scope="module")
def evaluation() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eval_grammar", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def test_detokenised_spans_point_at_the_tokens(evaluation: ModuleType) -> None:
    tokens = ["He", "do", "n't", "know", ",", "I", "think", "."]
    text, spans = evaluation.detokenise(tokens)
    assert text == "He don't know, I think."
    assert [text[s:e] for s, e in spans] == tokens
    assert evaluation.char_span(spans, 1, 3) == (3, 8)  # "don't"
    assert evaluation.char_span(spans, 5, 5) == (14, 15)  # the gap before "I"


def test_types_map_from_errant_codes(evaluation: ModuleType) -> None:
    assert evaluation.ours("R:VERB:SVA") == "agreement"
    assert evaluation.ours("M:DET") == "article"
    assert evaluation.ours("R:VERB:TENSE") == "verb_form"
    assert evaluation.ours("R:NOUN:NUM") == "noun_number"
    assert evaluation.ours("R:SPELL") == ""


def test_figures_on_a_small_corpus(tmp_path: Path, evaluation: ModuleType) -> None:
    # Sentence 1: one agreement error every annotator fixed the same way. Sentence 2: an error of a type the module
    # does not claim ("an" vs "a" is fine here), and one annotator's missing article.
    items = [
        {
            "tokens": ["The", "diagram", "illustrate", "the", "process", "."],
            "edits": [[[2, 3, "R:VERB:SVA"]], [[2, 3, "R:VERB:SVA"]], [[2, 3, "R:VERB:SVA"]], [[2, 3, "R:VERB:SVA"]]],
        },
        {
            "tokens": ["She", "bought", "car", "yesterday", "."],
            "edits": [[[2, 2, "M:DET"]], [], [[1, 2, "R:VERB:TENSE"]], []],
        },
    ]
    report = evaluation.evaluate(items, show_fp=0)
    assert report["agreement"]["found"] == 1
    assert report["agreement"]["precision"] == 1.0
    assert report["agreement"]["recall"] == 1.0
    assert report["agreement"]["agreed_gold"] == 1
    assert report["article"]["gold"] == 1
    assert report["article"]["recall"] == 0.0
    assert report["verb_form"]["gold"] == 1
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "dev.src").write_text("x\n")
    (tmp_path / ".errant-edits-dev.json").write_text(json.dumps(items))
    assert evaluation.extract(tmp_path, "dev") == items  # the cache is read, ERRANT is not needed
