"""Test doubles of the assessments service's outside collaborators: the async invoker and the writing scorer.

They stand in for those two so that the service's own behaviour (credits, statuses, retries) is what tests pin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ieltsprep.adapters.storage.port import Store
from ieltsprep.billing import ledger
from ieltsprep.scoring.port import (
    CriterionResult,
    ScoringFailed,
    TaskResult,
    WritingResult,
    WritingTask,
    criterion_keys,
)


@dataclass
class RecordingInvoker:
    """Collects async invocations instead of running them; can be told to fail like a Lambda API outage."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail: bool = False

    def __call__(self, target: str, payload: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("lambda invoke failed")
        self.calls.append((target, payload))


@dataclass
class ScriptedScorer:
    """Raises the queued errors first, then returns a result built from the word counts it was given."""

    errors: list[Exception] = field(default_factory=list)
    calls: int = 0
    seen: list[list[WritingTask]] = field(default_factory=list)
    engine: str = "local"

    def score(self, module: str, tasks: list[WritingTask]) -> WritingResult:
        self.calls += 1
        self.seen.append(tasks)
        if self.errors:
            raise self.errors.pop(0)
        results = [
            TaskResult(
                task=task.task,
                band=6.0,
                word_count=len(task.text.split()),
                criteria={
                    key: CriterionResult(band=6, feedback=f"{key} feedback") for key in criterion_keys(task.task)
                },
            )
            for task in tasks
        ]
        return WritingResult(overall_band=6.0, engine="local", engine_version="test", tasks=results)


def retryable() -> ScoringFailed:
    """A transient engine failure (throttling, timeout)."""
    return ScoringFailed("the engine timed out", retryable=True)


def give(store: Store, user_id: str, module: str, count: int = 1, key: str = "k1") -> None:
    """Grant credits the way an operator would."""
    assert ledger.grant(store, user_id, module, count, source="operator", idempotency_key=f"{user_id}-{module}-{key}")
