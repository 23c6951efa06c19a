"""The public sample result: a writing paper the project wrote (``sample_paper.json``), scored by the platform's own
writing scorer the first time it is asked for, so a visitor sees exactly what a candidate gets, from today's scorer.

It is clearly marked as a sample everywhere it is shown (``"sample": true`` in the API, a banner on the page).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from ieltsprep.assessments.models import TASK_LIMITS
from ieltsprep.scoring.port import WritingScorer, WritingTask

PAPER = Path(__file__).with_name("sample_paper.json")
_lock = threading.Lock()
_cache: dict[int, dict[str, Any]] = {}  # id of the scorer -> the scored sample (one scorer per container)


def sample_paper() -> dict[str, Any]:
    """The sample paper: module, and each task's prompt and text."""
    paper: dict[str, Any] = json.loads(PAPER.read_text(encoding="utf-8"))
    return paper


def _tasks(paper: dict[str, Any]) -> list[WritingTask]:
    return [
        WritingTask(
            task=int(t["task"]),
            prompt=t["prompt"],
            text=t["text"],
            min_words=TASK_LIMITS[int(t["task"])][0],
            kind=t["kind"],
            bullets=tuple(t.get("bullets") or ()),
        )
        for t in paper["tasks"]
    ]


def sample_result(scorer: WritingScorer) -> dict[str, Any]:
    """``{"sample": true, "about", "module", "tasks", "answers", "result"}``: the paper and the scorer's result of it,
    scored once per scorer (the same paper always gets the same result from the same scorer)."""
    with _lock:
        cached = _cache.get(id(scorer))
        if cached is None:
            paper = sample_paper()
            result = scorer.score(paper["module"], _tasks(paper)).model_dump(mode="json")
            tasks = [{k: v for k, v in t.items() if k != "text"} for t in paper["tasks"]]
            answers = {str(t["task"]): {"text": t["text"]} for t in paper["tasks"]}
            cached = {"sample": True, "about": paper["about"], "module": paper["module"], "tasks": tasks}
            cached |= {"answers": answers, "result": result}
            _cache.clear()
            _cache[id(scorer)] = cached
        return cached
