"""Agreement of a writing engine with human bands on a scored-essays CSV (``ieltsprep eval writing``).

For the local engine, rows whose prompt the shipped model was fitted on cannot be scored honestly with it, so the
default is grouped-by-prompt cross-validation: the model is refitted on the other folds' prompts and every row is
scored out of fold through the same code path as production (model → criterion split → descriptor rules → task
band). A CSV that shares no prompt with the shipped fit is scored with the shipped model as it is.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ieltsprep.errors import ValidationFailed
from ieltsprep.scoring import local, rules
from ieltsprep.scoring.features import Analysis, analyse, hashed_ngrams
from ieltsprep.scoring.port import TaskKind, WritingScorer, WritingTask

REQUIRED_COLUMNS = ("task_type", "prompt", "essay", "band")
MIN_WORDS = {1: 150, 2: 250}
_LETTER = re.compile(r"\bwrite a letter\b", re.IGNORECASE)
_GLUED = re.compile(r"(?<=[a-z0-9%)][.!?])(?=[A-Z])")
_BULLETS = re.compile(r"in your letter,?\s*(.*)$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Row:
    """One scored essay of the CSV as a writing task."""

    task: WritingTask
    band: float
    module: str


@dataclass
class Prepared:
    """Rows with their analyses, hashed n-grams and encoder vectors, computed once for every fold."""

    rows: list[Row]
    analyses: list[Analysis]
    ngrams: list[dict[int, float]]
    encoded: list[np.ndarray]


def load_rows(path: Path) -> list[Row]:
    """Read and validate the CSV; raises ValidationFailed naming the first bad row."""
    if not path.is_file():
        raise ValidationFailed(f"No such file: {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValidationFailed(f"{path} lacks column(s): {', '.join(missing)}")
        rows = [_row(record, line) for line, record in enumerate(reader, start=2)]
    if not rows:
        raise ValidationFailed(f"{path} has no rows")
    return rows


def restore_paragraphs(text: str) -> str:
    """Undo a collection artifact of the essays CSV: paragraph breaks lost, leaving 'end.Start' glued together.

    Many band 8-9 scripts in the file have no line break at all but sentences joined without a space exactly where
    paragraphs ended; the raters saw paragraphs. Only texts without any line break are touched, so a candidate's
    missing space inside a paragraphed answer is left as written.
    """
    if "\n" in text:
        return text
    return _GLUED.sub("\n", text)


def _row(record: dict[str, str], line: int) -> Row:
    try:
        task_type = int(record["task_type"])
        band = float(record["band"])
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"line {line}: task_type must be 1 or 2 and band a number") from exc
    if task_type not in (1, 2) or not 0 <= band <= 9 or band * 2 != int(band * 2):
        raise ValidationFailed(f"line {line}: task_type must be 1 or 2 and band a half band 0-9")
    prompt = record["prompt"] or ""
    essay = restore_paragraphs(record["essay"] or "")
    if task_type == 1 and _LETTER.search(prompt):
        match = _BULLETS.search(prompt)
        bullets = [b.strip(" -•\t.") for b in re.split(r"[\n;]|•", match.group(1))] if match else []
        task = WritingTask(1, prompt, essay, 150, "general_letter", tuple(b for b in bullets if b))
        return Row(task, band, "general_writing")
    kind: TaskKind = "academic_chart" if task_type == 1 else "essay"
    return Row(WritingTask(task_type, prompt, essay, MIN_WORDS[task_type], kind), band, "academic_writing")


def prepare(rows: list[Row], dim: int = local.HASH_DIM) -> Prepared:
    """Analyse and encode every row once (the encoder also marks off-topic paragraphs, as in production)."""
    analyses = [analyse(r.task) for r in rows]
    return Prepared(
        rows,
        analyses,
        [hashed_ngrams(r.task.text, dim) for r in rows],
        [local.encode_answer(r.task, a) for r, a in zip(rows, analyses, strict=True)],
    )


def fit_on(
    prepared: Prepared,
    indices: Sequence[int],
    training: dict[str, Any] | None = None,
    off_topic: rules.OffTopicThresholds | None = None,
    sources: Sequence[int] | None = None,
) -> local.LocalModel:
    """Fit the local model on the given rows (off-topic threshold fitted too unless given); ``sources`` per row."""
    analyses = [prepared.analyses[i] for i in indices]
    off_topic = off_topic or local.fit_off_topic([a.prompt_coverage for a in analyses], [])
    return local.fit_model(
        analyses,
        [prepared.ngrams[i] for i in indices],
        [prepared.encoded[i] for i in indices],
        [prepared.rows[i].band for i in indices],
        off_topic=off_topic,
        training=training or {},
        sources=[sources[i] for i in indices] if sources is not None else None,
    )


def predict_band(model: local.LocalModel, prepared: Prepared, i: int) -> float:
    """The task band production would give row ``i`` (without building feedback text)."""
    row, analysis = prepared.rows[i], prepared.analyses[i]
    proposed = local.LocalWritingScorer(model).propose(row.task, analysis, prepared.ngrams[i], prepared.encoded[i])
    ruled = rules.apply_rules(row.task, analysis, proposed, model.off_topic)
    return rules.task_band(ruled.criteria)


def prompt_groups(rows: Sequence[Row], folds: int) -> list[int]:
    """Fold number per row: whole prompts are dealt to folds, largest first, to balance fold sizes."""
    sizes: dict[str, int] = {}
    for r in rows:
        key = local.prompt_fingerprint(r.task.prompt)
        sizes[key] = sizes.get(key, 0) + 1
    load = [0] * folds
    fold_of: dict[str, int] = {}
    for key in sorted(sizes, key=lambda k: (-sizes[k], k)):
        target = min(range(folds), key=lambda f: (load[f], f))
        fold_of[key] = target
        load[target] += sizes[key]
    return [fold_of[local.prompt_fingerprint(r.task.prompt)] for r in rows]


def cross_validated(prepared: Prepared, folds: int, extra: Prepared | None = None) -> tuple[list[float], list[float]]:
    """Out-of-fold predictions and the constant-median baseline of each fold's training part.

    ``extra`` rows (another source) join every training fold, except those answering a prompt of the test fold.
    """
    fold = prompt_groups(prepared.rows, folds)
    predictions = [0.0] * len(prepared.rows)
    baseline = [0.0] * len(prepared.rows)
    training_set = joined(prepared, extra) if extra else prepared
    for f in range(folds):
        train = [i for i, g in enumerate(fold) if g != f]
        test = [i for i, g in enumerate(fold) if g == f]
        if not test or not train:
            continue
        sources = None
        if extra:
            held = {local.prompt_fingerprint(prepared.rows[i].task.prompt) for i in test}
            offset = len(prepared.rows)
            train += [
                offset + j for j, r in enumerate(extra.rows) if local.prompt_fingerprint(r.task.prompt) not in held
            ]
            sources = [0] * offset + [1] * len(extra.rows)
        model = fit_on(training_set, train, sources=sources).for_source(0)
        median = float(np.median([prepared.rows[i].band for i in train if i < len(prepared.rows)]))
        for i in test:
            predictions[i] = predict_band(model, prepared, i)
            baseline[i] = rules.round_half_band(median)
    return predictions, baseline


def joined(first: Prepared, second: Prepared) -> Prepared:
    """Two prepared sets as one (the first's rows first)."""
    return Prepared(
        first.rows + second.rows,
        first.analyses + second.analyses,
        first.ngrams + second.ngrams,
        first.encoded + second.encoded,
    )


def cross_source(
    fit: Prepared, data: Prepared, band_range: tuple[float, float] | None = None
) -> tuple[list[float], float]:
    """Fit on one source and score another: the predictions, and the share of human bands inside the band range
    (the shipped model's half-widths unless given)."""
    model = fit_on(fit, range(len(fit.rows)))
    model = dataclasses.replace(model, band_range=band_range or local.shipped_model().band_range)
    predictions = [predict_band(model, data, i) for i in range(len(data.rows))]
    ranges = [model.range_around(p) for p in predictions]
    inside = [low <= r.band <= high for (low, high), r in zip(ranges, data.rows, strict=True)]
    return predictions, float(np.mean(inside))


def qwk(gold: Sequence[float] | np.ndarray, predicted: Sequence[float] | np.ndarray) -> float:
    """Quadratic weighted kappa on half bands (x2, so 0-18 categories)."""
    a = np.rint(np.asarray(gold) * 2).astype(int)
    b = np.rint(np.asarray(predicted) * 2).astype(int)
    k = 19
    observed = np.zeros((k, k))
    np.add.at(observed, (a, b), 1)
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    weights = np.subtract.outer(np.arange(k), np.arange(k)) ** 2 / (k - 1) ** 2
    denominator = (weights * expected).sum()
    return float(1 - (weights * observed).sum() / denominator) if denominator else 0.0


def metrics(gold: Sequence[float], predicted: Sequence[float]) -> dict[str, float]:
    """MAE, QWK, share within half a band and standardised mean difference (pooled SD)."""
    g = np.asarray(gold, dtype=float)
    p = np.asarray(predicted, dtype=float)
    pooled = math.sqrt((g.var() + p.var()) / 2)
    return {
        "mae": round(float(np.abs(g - p).mean()), 4),
        "qwk": round(qwk(g, p), 4),
        "within_half": round(float((np.abs(g - p) <= 0.5).mean()), 4),
        "smd": round(float((p.mean() - g.mean()) / pooled), 4) if pooled else 0.0,
    }


def evaluate(
    rows: list[Row],
    *,
    engine: str = "local",
    folds: int | None = None,
    fit_rows: list[Row] | None = None,
    scorer_factory: Callable[[], WritingScorer] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score every row and compare with the human bands; see the module docstring for the local-engine mode.

    ``fit_rows`` (local engine): refit on them and score ``rows`` (another source), or with ``folds``, add them to
    every training fold of a cross-validation over ``rows``.
    """
    gold = [r.band for r in rows]
    coverage: float | None = None
    if engine == "local" and fit_rows is not None and not folds:
        predicted, coverage = cross_source(prepare(fit_rows), prepare(rows))
        baseline = [rules.round_half_band(float(np.median(gold)))] * len(rows)
        across = f"refitted on {len(fit_rows)} rows of another source, scored across sources"
        return _report(rows, engine, across, gold, predicted, baseline, coverage)
    if engine == "local" and folds is None:
        shipped = set(local.shipped_model().training.get("prompt_fingerprints", []))
        overlap = any(local.prompt_fingerprint(r.task.prompt) in shipped for r in rows)
        folds = 5 if overlap else 0
    mode: str
    if engine == "local" and folds:
        prepared = prepare(rows)
        extra = prepare(fit_rows) if fit_rows else None
        predicted, baseline = cross_validated(prepared, folds, extra)
        mode = f"grouped-by-prompt {folds}-fold cross-validation (refitted per fold)"
        if extra:
            mode += f", {len(extra.rows)} rows of another source in every training fold"
    else:
        if scorer_factory is None:
            raise ValidationFailed("no scorer for this engine")
        scorer = scorer_factory()
        predicted = []
        for n, r in enumerate(rows, start=1):
            predicted.append(scorer.score(r.module, [r.task]).tasks[0].band)
            if progress:
                progress(n, len(rows))
        median = rules.round_half_band(float(np.median(gold)))
        baseline = [median] * len(rows)
        mode = f"{engine} engine as configured"
    return _report(rows, engine, mode, gold, predicted, baseline, coverage)


def _report(
    rows: Sequence[Row],
    engine: str,
    mode: str,
    gold: Sequence[float],
    predicted: Sequence[float],
    baseline: Sequence[float],
    coverage: float | None,
) -> dict[str, Any]:
    ours = metrics(gold, predicted)
    base = metrics(gold, baseline)
    return {
        "n": len(rows),
        **ours,
        "baseline_mae": base["mae"],
        "baseline_qwk": base["qwk"],
        "baseline_within_half": base["within_half"],
        "baseline_smd": base["smd"],
        "band_range_coverage": coverage,
        "engine": engine,
        "mode": mode,
    }
