"""Experiment (issue 12, not shipped): does a fine-tuned MiniLM earn a place in the local writing scorer?

MiniLM's top two layers (5 and 6 of 6) are fine-tuned with a regression head on the overall band of the first
scored-essays file only, either with low-rank adapters (LoRA, rank 8, on the query/key/value/output/FFN matrices) or
in full. Layers 1-4 stay frozen, so their output is computed once, in numpy, exactly as production computes it (the
answer's paragraphs as encoder parts, scoring/encoder.py ``encode_parts``), and only the top layers run in torch.
Three stages share a work folder outside the repository (about 0.8 GB):

    PYTHONPATH=src .venv/bin/python scripts/finetune_writing_encoder.py cache WORK
    python3.11 -m venv TORCHENV && TORCHENV/bin/pip install torch==2.13.0 numpy safetensors
    TORCHENV/bin/python scripts/finetune_writing_encoder.py train WORK --cv 3 --tag lora8-cv
    TORCHENV/bin/python scripts/finetune_writing_encoder.py train WORK --tag lora8
    PYTHONPATH=src .venv/bin/python scripts/finetune_writing_encoder.py report WORK --cv-tag lora8-cv --tag lora8

``cache`` (shared venv, about 9 minutes) analyses and encodes both files, checks that the cached states give
production's style vector, and stores the states, bands and prompt folds. ``train`` (a separate torch venv: torch
never enters the shared one) fits on the first file: with ``--cv N`` grouped-by-prompt out-of-fold predictions,
without it one fit on the whole first file, its predictions on the second and its weights. ``report`` (shared venv)
gives the figures with eval's metrics: the fine-tuned model alone (bands rounded to half bands), then its band as an
extra descriptor feature of the production ridge (out-of-fold on the first file, so the ridge sees no leaked fit)
through eval's production path, then the validity battery's damages on the fine-tuned band alone, and the time of
the adapted layers in numpy.

Measured (2 shared cores; one epoch over the first file about 2 min for LoRA, 3-4 min in full, one thread):

| measured | MAE | QWK | SMD |
|---|---|---|---|
| shipped ridge, first -> second | 1.038 | 0.328 | +0.60 |
| LoRA r8, 4 epochs, alone, first -> second | 1.160 | 0.155 | +0.72 (mean 6.90 for bands 4.0-8.5 alike) |
| top two layers in full, 3 epochs, alone, first -> second | 1.141 | 0.131 | +0.67 |
| LoRA r8, 2 epochs, alone, first -> second | 1.146 | 0.148 | +0.74 |
| LoRA alone, first, grouped 3-fold CV | 0.723 | 0.454 | -0.04 |
| ridge + fine-tuned band, first -> second | 1.038 | 0.328 | +0.59 |
| ridge + fine-tuned band, first grouped 5-fold CV (shipped 0.662 / 0.556) | 0.668 | 0.552 | -0.06 |
| ridge + fine-tuned band, second grouped 5-fold CV (shipped 0.907 / 0.417) | 0.904 | 0.425 | -0.02 |

It learns the first site's level as the ridge does and ranks the second site's essays worse (r 0.25). Alone, it
falls by 1.8 bands when 4 % of words are misspelt but only 0.3 for eight grammar errors or shuffled sentences, not
at all for half the essay off topic, and rises for an essay cut to 60 % of the minimum. The adapted layers would
add 28 ms (p50) / 39 ms (p95) per essay in numpy on one thread (61 / 92 ms on a busy machine); the LoRA factors
are 0.22 MB in float16, the two layers in full 7 MB. Not kept.
"""

from __future__ import annotations

import argparse
import math
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

FILES = {"first": "scored_essays_train.csv", "second": "scored_essays_second_source.csv"}
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "writing"
ADAPTED = ("query", "key", "value", "attention_output", "intermediate", "output")
SOURCE_NAMES = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attention_output": "attention.output.dense",
    "intermediate": "intermediate.dense",
    "output": "output.dense",
    "ln1": "attention.output.LayerNorm",
    "ln2": "output.LayerNorm",
}
FROZEN = 4  # layers 1-4 frozen (production's style vector is their output); layers 5-6 adapted
HEADS, WIDTH, EPS = 12, 384, 1e-12


# --- numpy side (shared venv) -------------------------------------------------------------------------------------


def run_layers(text_encoder: Any, x: np.ndarray, layers: list[Any]) -> np.ndarray:
    """One chunk's states through the given layers, with the arithmetic of scoring/encoder.py's forward pass."""
    from ieltsprep.scoring import encoder

    n, size = len(x), x.shape[1] // HEADS
    scale = np.float32(1 / math.sqrt(size))
    for layer in layers:
        qkv = x @ layer.qkv + layer.qkv_bias
        q, k, v = np.ascontiguousarray(qkv.reshape(n, 3, HEADS, size).transpose(1, 2, 0, 3))
        scores = (q * scale) @ k.transpose(0, 2, 1)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(n, -1)
        x = text_encoder._norm(x + context @ layer.out + layer.out_bias, layer.ln1)
        x = text_encoder._norm(
            x + encoder._gelu(x @ layer.up + layer.up_bias) @ layer.down + layer.down_bias, layer.ln2
        )
    return x


def frozen_states(task: Any, analysis: Any) -> list[np.ndarray]:
    """Layer-4 states of the answer's chunks as production cuts them (question first, paragraphs as parts)."""
    from ieltsprep.scoring import encoder

    text_encoder = encoder.shipped_encoder()
    spans = analysis.paragraph_spans or [(0, len(task.text))]
    pieces = [text_encoder.chunks(t) for t in [task.prompt, *(task.text[s:e] for s, e in spans)]]
    budget = encoder.MAX_PARTS_TOKENS / max(sum(len(c) for chunks in pieces for c in chunks), 1)
    if budget < 1:
        pieces = [[[*c[: max(2, int(len(c) * budget))][:-1], encoder._SEP] for c in chunks] for chunks in pieces]
    states = []
    for chunk in (c for chunks in pieces[1:] for c in chunks):
        ids = np.array(chunk)
        x = np.asarray(text_encoder.words[ids], dtype=np.float32) + text_encoder.positions[: len(chunk)]
        x = text_encoder._norm(x + text_encoder.token_type, text_encoder.ln0)
        states.append(run_layers(text_encoder, x, text_encoder.layers[: encoder.LAYERS]).astype(np.float32))
    return states


def cache(work: Path) -> None:
    """Prepare both files as eval does (pickled, for the ridge) and store the answers' layer-4 states."""
    from ieltsprep.scoring import encoder
    from ieltsprep.scoring import eval as writing_eval

    work.mkdir(parents=True, exist_ok=True)
    (work / "model_dir.txt").write_text(str(encoder.model_dir()))
    for name, file in FILES.items():
        started = time.time()
        prepared = writing_eval.prepare(writing_eval.load_rows(DATA / file))
        (work / f"{name}_prepared.pkl").write_bytes(pickle.dumps(prepared))
        states, per_essay, worst = [], [], 0.0
        for i, (row, analysis) in enumerate(zip(prepared.rows, prepared.analyses, strict=True)):
            chunks = frozen_states(row.task, analysis)
            sizes = np.array([len(c) for c in chunks], dtype=float)
            style = sum(c.mean(axis=0) * n for c, n in zip(chunks, sizes, strict=True)) / sizes.sum()
            worst = max(worst, float(np.abs(style - prepared.encoded[i]).max()))
            states += chunks
            per_essay.append(len(chunks))
        np.savez(
            work / f"{name}_states.npz",
            states=np.concatenate(states),
            offsets=np.cumsum([0, *(len(s) for s in states)]),
            essay_chunks=np.array(per_essay),
            bands=np.array([r.band for r in prepared.rows]),
            folds3=np.array(writing_eval.prompt_groups(prepared.rows, 3)),
            folds5=np.array(writing_eval.prompt_groups(prepared.rows, 5)),
        )
        print(f"{name}: {len(per_essay)} essays, {len(states)} chunks, largest difference from production's style")
        print(f"  vector {worst:.1e}, {time.time() - started:.0f} s")


class AdaptedLayers:
    """The fine-tuned layers 5-6 and head from ``train``'s weights, run in numpy on cached or fresh layer-4 states."""

    def __init__(self, path: Path) -> None:
        from ieltsprep.scoring import encoder

        weights = dict(np.load(path))
        self.layers = []
        for i in range(FROZEN, 6):

            def get(name: str, i: int = i) -> np.ndarray:
                return np.ascontiguousarray(weights[f"layer{i}.{name}"], dtype=np.float32)

            self.layers.append(
                encoder._Layer(
                    qkv=np.ascontiguousarray(np.concatenate([get(f"{k}.weight").T for k in ADAPTED[:3]], axis=1)),
                    qkv_bias=np.concatenate([get(f"{k}.bias") for k in ADAPTED[:3]]),
                    out=np.ascontiguousarray(get("attention_output.weight").T),
                    out_bias=get("attention_output.bias"),
                    ln1=(get("ln1.weight"), get("ln1.bias")),
                    up=np.ascontiguousarray(get("intermediate.weight").T),
                    up_bias=get("intermediate.bias"),
                    down=np.ascontiguousarray(get("output.weight").T),
                    down_bias=get("output.bias"),
                    ln2=(get("ln2.weight"), get("ln2.bias")),
                )
            )
        self.head = weights["head.weight"].astype(np.float64), float(weights["head.bias"][0])

    def band(self, states: list[np.ndarray]) -> float:
        """The fine-tuned band of one answer: adapted layers per chunk, token-weighted mean, linear head."""
        from ieltsprep.scoring import encoder

        text_encoder = encoder.shipped_encoder()
        outputs = [run_layers(text_encoder, x, self.layers) for x in states]
        pooled = np.concatenate(outputs).mean(axis=0)
        return float(pooled @ self.head[0] + self.head[1])


def report(work: Path, cv_tag: str, tag: str) -> None:
    """Figures of the fine-tuned model alone, inside the ridge, under the battery's damages, and its time."""
    import dataclasses

    from threadpoolctl import threadpool_limits

    from ieltsprep.scoring import eval as writing_eval
    from ieltsprep.scoring import local, rules

    def half(values: np.ndarray) -> list[float]:
        return [min(9.0, max(0.0, rules.round_half_band(float(v)))) for v in values]

    first, second = (pickle.loads((work / f"{n}_prepared.pkl").read_bytes()) for n in FILES)
    gold1, gold2 = [r.band for r in first.rows], [r.band for r in second.rows]
    oof = np.load(work / f"{cv_tag}_preds.npz")["oof_first"]
    on_second = np.load(work / f"{tag}_preds.npz")["full_second"]
    print(f"alone, first grouped CV: {writing_eval.metrics(gold1, half(oof))}")
    print(f"alone, first -> second: {writing_eval.metrics(gold2, half(on_second))}")
    for band in sorted(set(gold2)):
        picked = np.array(gold2) == band
        print(f"  marked {band}: {picked.sum()} essays, mean fine-tuned band {on_second[picked].mean():.2f}")

    for analysis, value in [*zip(first.analyses, oof, strict=True), *zip(second.analyses, on_second, strict=True)]:
        analysis.features["finetuned_band"] = float(value)
    shipped_features = local.MODEL_FEATURES
    for extra in ((), ("finetuned_band",)):
        local.MODEL_FEATURES = (*shipped_features, *extra)
        across, _ = writing_eval.cross_source(first, second)
        within1, _ = writing_eval.cross_validated(first, 5)
        within2, _ = writing_eval.cross_validated(second, 5)
        label = "ridge + fine-tuned band" if extra else "shipped ridge"
        print(f"{label}, first -> second: {writing_eval.metrics(gold2, across)}")
        print(f"{label}, first grouped 5-fold CV: {writing_eval.metrics(gold1, within1)}")
        print(f"{label}, second grouped 5-fold CV: {writing_eval.metrics(gold2, within2)}")
    local.MODEL_FEATURES = shipped_features

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "scoring"))
    import test_validity as battery

    from ieltsprep.scoring.features import analyse

    adapted = AdaptedLayers(work / f"{tag}_weights.npz")

    def scored(task: Any) -> float:
        return adapted.band(frozen_states(task, analyse(task)))

    essays = battery._high_band_essays()
    before = np.array([scored(t) for t in essays])
    for name, (_, harm) in battery.DAMAGES.items():
        after = []
        for i, task in enumerate(essays):
            other = next(e for e in essays[i + 1 :] + essays[:i] if e.prompt != task.prompt)
            after.append(scored(dataclasses.replace(task, text=harm(task, other))))
        drop = before - np.array(after)
        print(f"damage {name}: fine-tuned band falls {drop.mean():+.2f} on average, rises on {(drop < 0).sum()}/40")

    cached = np.load(work / "first_states.npz")
    states, offsets, per_essay = cached["states"], cached["offsets"], cached["essay_chunks"]
    chunks = [states[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
    starts = np.cumsum([0, *per_essay])
    timings = []
    with threadpool_limits(limits=1, user_api="blas"):
        for i in range(min(300, len(per_essay))):
            started = time.perf_counter()
            adapted.band(chunks[starts[i] : starts[i + 1]])
            timings.append((time.perf_counter() - started) * 1000)
    p50, p95 = np.percentile(timings, [50, 95])
    print(f"adapted layers 5-6 and head per essay (one thread): p50 {p50:.1f} ms, p95 {p95:.1f} ms")


# --- torch side (a separate venv, fitting only) -------------------------------------------------------------------


def train(work: Path, args: argparse.Namespace) -> None:
    """Fine-tune layers 5-6 and a head on the first file; grouped out-of-fold predictions or one whole fit."""
    import torch
    from safetensors.numpy import load_file

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base = load_file(str(Path((work / "model_dir.txt").read_text()) / "model.safetensors"))

    def load(name: str) -> tuple[list[list[torch.Tensor]], np.ndarray, Any]:
        cached = np.load(work / f"{name}_states.npz")
        states, offsets = cached["states"], cached["offsets"]  # an npz member is read anew on every access
        chunks = [torch.from_numpy(states[offsets[i] : offsets[i + 1]].copy()) for i in range(len(offsets) - 1)]
        starts = np.cumsum([0, *cached["essay_chunks"]])
        essays = [chunks[starts[i] : starts[i + 1]] for i in range(len(starts) - 1)]
        return essays, cached["bands"].astype(np.float32), cached

    class Linear(torch.nn.Module):
        """A pretrained dense layer: trained in full, or frozen with a low-rank update B @ A (scaled by 2)."""

        def __init__(self, weight: np.ndarray, bias: np.ndarray) -> None:
            super().__init__()
            if args.mode == "full":
                self.weight = torch.nn.Parameter(torch.tensor(weight))
                self.bias = torch.nn.Parameter(torch.tensor(bias))
            else:
                self.register_buffer("weight", torch.tensor(weight))
                self.register_buffer("bias", torch.tensor(bias))
                self.lora_a = torch.nn.Parameter(torch.randn(args.rank, weight.shape[1]) / math.sqrt(weight.shape[1]))
                self.lora_b = torch.nn.Parameter(torch.zeros(weight.shape[0], args.rank))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = x @ self.weight.T + self.bias
            return y if args.mode == "full" else y + (x @ self.lora_a.T) @ self.lora_b.T * 2.0

        def merged(self) -> tuple[np.ndarray, np.ndarray]:
            weight = self.weight if args.mode == "full" else self.weight + 2.0 * self.lora_b @ self.lora_a
            return weight.detach().numpy(), self.bias.detach().numpy()

    class Layer(torch.nn.Module):
        """One BERT layer as scoring/encoder.py runs it (tanh GELU), over flat tokens; attention within chunks."""

        def __init__(self, i: int) -> None:
            super().__init__()
            prefix = f"encoder.layer.{i}."
            self.dense = torch.nn.ModuleDict(
                {
                    k: Linear(base[f"{prefix}{SOURCE_NAMES[k]}.weight"], base[f"{prefix}{SOURCE_NAMES[k]}.bias"])
                    for k in ADAPTED
                }
            )
            self.norms = torch.nn.ModuleDict({k: torch.nn.LayerNorm(WIDTH, eps=EPS) for k in ("ln1", "ln2")})
            for k, norm in self.norms.items():
                norm.weight.data = torch.tensor(base[f"{prefix}{SOURCE_NAMES[k]}.weight"])
                norm.bias.data = torch.tensor(base[f"{prefix}{SOURCE_NAMES[k]}.bias"])
                norm.requires_grad_(args.mode == "full")
            self.dropout = torch.nn.Dropout(0.1)

        def forward(self, x: torch.Tensor, gather: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            chunks, length = gather.shape
            d = self.dense

            def heads(t: torch.Tensor) -> torch.Tensor:
                return t[gather].view(chunks, length, HEADS, WIDTH // HEADS).transpose(1, 2)

            q, k, v = heads(d["query"](x)), heads(d["key"](x)), heads(d["value"](x))
            scores = (q @ k.transpose(-1, -2) / math.sqrt(WIDTH // HEADS)).masked_fill(~mask[:, None, None, :], -1e9)
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(chunks, length, WIDTH)[mask]
            x = self.norms["ln1"](x + self.dropout(d["attention_output"](context)))
            hidden = torch.nn.functional.gelu(d["intermediate"](x), approximate="tanh")
            return self.norms["ln2"](x + self.dropout(d["output"](hidden)))

    class Model(torch.nn.Module):
        """Layers 5-6, token-weighted mean over the answer's chunks (as production's style vector), linear head."""

        def __init__(self, mean: float, spread: float) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList([Layer(i) for i in range(FROZEN, 6)])
            self.head = torch.nn.Linear(WIDTH, 1)
            torch.nn.init.normal_(self.head.weight, std=0.01)
            torch.nn.init.zeros_(self.head.bias)
            self.mean, self.spread = mean, spread

        def forward(self, essays: list[list[torch.Tensor]]) -> torch.Tensor:
            flat = [c for e in essays for c in e]
            lengths = torch.tensor([len(c) for c in flat])
            position = torch.arange(int(lengths.max()))[None, :]
            mask = position < lengths[:, None]
            gather = torch.where(mask, (torch.cumsum(lengths, 0) - lengths)[:, None] + position, 0)
            x = torch.cat(flat)
            for layer in self.layers:
                x = layer(x, gather, mask)
            owner = torch.repeat_interleave(torch.arange(len(essays)), torch.tensor([sum(map(len, e)) for e in essays]))
            pooled = torch.zeros(len(essays), WIDTH).index_add_(0, owner, x) / torch.bincount(owner)[:, None]
            return self.head(pooled).squeeze(-1) * self.spread + self.mean

    def fit(essays: list[list[torch.Tensor]], bands: np.ndarray) -> Model:
        model = Model(float(bands.mean()), float(bands.std()))
        rate = args.lr or (1e-3 if args.mode == "lora" else 5e-5)
        head = set(model.head.parameters())
        body = [p for p in model.parameters() if p.requires_grad and p not in head]
        optimiser = torch.optim.AdamW([{"params": body}, {"params": list(head)}], weight_decay=0.01)
        steps = args.epochs * math.ceil(len(essays) / args.batch)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, [rate, 1e-3], total_steps=steps, pct_start=0.1)
        target, order = torch.tensor(bands), np.random.default_rng(0)
        for epoch in range(args.epochs):
            model.train()
            started, total = time.time(), 0.0
            shuffled = order.permutation(len(essays))
            for s in range(0, len(shuffled), args.batch):
                batch = shuffled[s : s + args.batch]
                loss = (((model([essays[i] for i in batch]) - target[batch]) / model.spread) ** 2).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                total += loss.item() * len(batch)
            print(
                f"  epoch {epoch + 1}: loss {total / len(essays):.3f} (of the variance), {time.time() - started:.0f} s"
            )
        return model

    @torch.no_grad()
    def predict(model: Model, essays: list[list[torch.Tensor]]) -> np.ndarray:
        model.eval()
        return torch.cat([model(essays[s : s + 16]) for s in range(0, len(essays), 16)]).numpy()

    first, bands, cached = load("first")
    if args.cv:
        folds = cached[f"folds{args.cv}"]
        oof = np.zeros(len(first), dtype=np.float32)
        for f in range(args.cv):
            train_rows, test_rows = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
            print(f"fold {f + 1} of {args.cv}: {len(train_rows)} essays to fit, {len(test_rows)} to score")
            oof[test_rows] = predict(
                fit([first[i] for i in train_rows], bands[train_rows]), [first[i] for i in test_rows]
            )
        np.savez(work / f"{args.tag}_preds.npz", oof_first=oof)
        print(f"out of fold: MAE {np.abs(oof - bands).mean():.3f} (unrounded), r {np.corrcoef(oof, bands)[0, 1]:.3f}")
        return
    second, second_bands, _ = load("second")
    model = fit(first, bands)
    on_second = predict(model, second)
    np.savez(work / f"{args.tag}_preds.npz", full_second=on_second)
    print(
        f"on the second file: MAE {np.abs(on_second - second_bands).mean():.3f} (unrounded), mean {on_second.mean():.2f}"
    )
    weights: dict[str, Any] = {}
    for i, layer in enumerate(model.layers, start=FROZEN):
        for k, dense in layer.dense.items():
            weights[f"layer{i}.{k}.weight"], weights[f"layer{i}.{k}.bias"] = dense.merged()
        for k, norm in layer.norms.items():
            weights[f"layer{i}.{k}.weight"] = norm.weight.detach().numpy()
            weights[f"layer{i}.{k}.bias"] = norm.bias.detach().numpy()
    weights["head.weight"] = model.head.weight.detach().numpy()[0] * model.spread
    weights["head.bias"] = np.array([model.head.bias.item() * model.spread + model.mean])
    np.savez(work / f"{args.tag}_weights.npz", **weights)
    if args.mode == "lora":
        factors = sum(d.lora_a.numel() + d.lora_b.numel() for layer in model.layers for d in layer.dense.values())
        print(f"LoRA factors: {factors} numbers, {factors * 2 / 1e6:.2f} MB in float16")
    else:
        print(f"adapted layers: {sum(w.size for w in weights.values()) * 2 / 1e6:.1f} MB in float16")


def main() -> int:
    """Run one stage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=("cache", "train", "report"))
    parser.add_argument("work", type=Path, help="a folder outside the repository for states, predictions, weights")
    parser.add_argument("--mode", choices=("lora", "full"), default="lora")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.0, help="0: 1e-3 for LoRA, 5e-5 in full")
    parser.add_argument("--batch", type=int, default=8, help="essays per step")
    parser.add_argument("--cv", type=int, default=0, choices=(0, 3, 5), help="grouped folds (0: one whole fit)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tag", default="lora8", help="name of this fit's files in WORK")
    parser.add_argument("--cv-tag", default="lora8-cv", help="report: the --cv fit's tag")
    args = parser.parse_args()
    if args.stage == "cache":
        cache(args.work)
    elif args.stage == "train":
        train(args.work, args)
    else:
        report(args.work, args.cv_tag, args.tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
