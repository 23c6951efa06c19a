"""The assessments service: start an assessment (one credit, atomically), autosave drafts, submit, store results.

Status moves ``in_progress`` → ``scoring`` → ``scored`` (or ``failed`` with ``error`` and the credit returned).
Scoring never runs inside an HTTP request: ``submit`` only flips the status and asks for the ``score_writing`` job.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ieltsprep.adapters.storage.port import ConditionFailed, Item
from ieltsprep.assessments.charts import NARROW_WIDTH, WIDTH, render_svg
from ieltsprep.assessments.models import (
    MAX_ANSWER_CHARS,
    SPEAKING_MODULES,
    TASK_LIMITS,
    WRITING_MODULES,
    AcademicTask1Item,
    Chart,
    GeneralTask1Item,
    Task2Item,
)
from ieltsprep.assessments.questionbank import QuestionBank, item_id
from ieltsprep.assessments.repository import AssessmentRepository
from ieltsprep.billing import ledger
from ieltsprep.errors import Conflict, PaymentRequired, ServiceUnavailable, ValidationFailed
from ieltsprep.ids import new_id, now_epoch, now_iso
from ieltsprep.settings import MODULES

if TYPE_CHECKING:
    from ieltsprep.scoring.port import WritingScorer, WritingTask

logger = logging.getLogger(__name__)

Invoke = Callable[[str, dict[str, Any]], None]
SpeakingParts = Callable[[str], list[dict[str, Any]]]

TASK1_BANK = {"academic_writing": "writing/academic_task1", "general_writing": "writing/general_task1"}
TASK2_BANK = "writing/task2"
STALE_SCORING_SECONDS = 15 * 60  # a job lost before it ran (the async invoke itself failed later) is asked again
SCORING_ATTEMPTS = 3
SCORING_BACKOFF_SECONDS = 0.5
SAVE_RETRIES = 8
# Drafts are taken this long after the paper's clock reaches 0: the web app saves a draft 1.5 s after the last key
# and hands the paper in at 0, so the last words typed are still in flight then (and a slow network adds seconds).
# Not scaled by the time-scale setting: it covers the network, not the exam.
DRAFT_GRACE_SECONDS = 30
# Between optimistic-write attempts: a short pause that doubles (1, 2, 4 ... 64 ms) with jitter, so two writers of the
# same item (two tabs saving both tasks) stop colliding instead of retrying in lockstep.
RETRY_PAUSE_SECONDS = 0.001


def attempts(retries: int = SAVE_RETRIES) -> Iterator[int]:
    """Attempt numbers of a read-check-write loop, pausing (backoff with jitter) before every retry."""
    for attempt in range(retries):
        if attempt:
            time.sleep(RETRY_PAUSE_SECONDS * 2 ** (attempt - 1) * random.uniform(0.5, 1.0))
        yield attempt


def count_words(text: str) -> int:
    """Words as a candidate counts them: whitespace-separated tokens holding at least one letter or digit."""
    return sum(1 for token in text.split() if any(ch.isalnum() for ch in token))


def public(item: Item, *, summary: bool = False) -> dict[str, Any]:
    """The API.md ``assessment`` object; ``summary`` leaves out chart drawings and draft texts (for lists)."""
    out: dict[str, Any] = {key: item[key] for key in ("id", "module", "status", "created_at") if key in item}
    for key in ("updated_at", "submitted_at", "scored_at"):
        if item.get(key):
            out[key] = item[key]
    if "tasks" in item:
        out["tasks"] = [
            task if summary or "chart" not in task else {**task, "chart": drawn(task["chart"], task["question_id"])}
            for task in item["tasks"]
        ]
        answers = item.get("answers") or {}
        out["answers"] = (
            {task: {k: v for k, v in answer.items() if k != "text"} for task, answer in answers.items()}
            if summary
            else answers
        )
    if "parts" in item:
        out["parts"] = item["parts"]
    if item.get("result") is not None:
        out["result"] = item["result"]
    if item.get("error"):
        out["error"] = item["error"]
    return out


def paper_clock(item: Item, time_scale: float = 1.0, now: float | None = None) -> dict[str, int]:
    """The one clock of a writing paper in progress, as in the exam: the tasks' minutes together (60), running from
    the start whatever the candidate does; ``seconds_left`` reaches 0 and stays there."""
    limit, elapsed = _paper_time(item, time_scale, time.time() if now is None else now)
    return {"time_limit_seconds": limit, "seconds_left": max(0, round(limit - elapsed))}


def _paper_time(item: Item, time_scale: float, now: float) -> tuple[int, float]:
    # (time limit, seconds since the paper started) of a writing paper.
    limit = round(sum(int(task["minutes"]) for task in item.get("tasks") or ()) * 60 * time_scale)
    started = datetime.fromisoformat(str(item["created_at"]).replace("Z", "+00:00")).timestamp()
    return limit, now - started


def chart_object(question: AcademicTask1Item) -> dict[str, Any]:
    """The stored ``chart`` of an Academic Task 1: its data (the SVG is drawn from it when read, see ``drawn``)."""
    chart = question.chart
    return {"type": chart.type, "title": chart.title, "data": chart.model_dump(mode="json", exclude={"type", "title"})}


def chart_model(stored: dict[str, Any]) -> Chart:
    """The validated chart of a stored ``chart`` object."""
    return Chart.model_validate({"type": stored["type"], "title": stored["title"], **stored["data"]})


def drawn(stored: dict[str, Any], question_id: str) -> dict[str, Any]:
    """The stored chart with its SVG drawing added."""
    stored_json = json.dumps(stored, sort_keys=True)
    return {
        **stored,
        "svg": _svg(stored_json, question_id, WIDTH),
        "svg_narrow": _svg(stored_json, f"{question_id}-narrow", NARROW_WIDTH),
    }


@lru_cache(maxsize=128)
def _svg(stored_json: str, question_id: str, width: int) -> str:
    # Assessments store the data, not the drawing (items stay small, lists stay fast); the drawing of the same data is
    # always the same, so a warm process draws each question once.
    return render_svg(chart_model(json.loads(stored_json)), id_prefix=f"chart-{question_id}", width=width)


def task_object(task: int, question: BaseModel) -> dict[str, Any]:
    """One writing task as stored on the assessment and shown to the candidate."""
    min_words, minutes = TASK_LIMITS[task]
    base: dict[str, Any] = {"task": task, "question_id": item_id(question), "min_words": min_words, "minutes": minutes}
    if isinstance(question, AcademicTask1Item):
        return {
            **base,
            "kind": "academic_chart",
            "topic": question.topic,
            "prompt": question.prompt(),
            "chart": chart_object(question),
        }
    if isinstance(question, GeneralTask1Item):
        return {
            **base,
            "kind": "general_letter",
            "topic": question.topic,
            "tone": question.tone,
            "prompt": question.prompt(),
            "bullets": list(question.bullets),
        }
    if isinstance(question, Task2Item):
        return {**base, "kind": "essay", "topic": question.topic, "type": question.type, "prompt": question.prompt()}
    raise TypeError(f"not a writing question: {type(question).__name__}")


class AssessmentService:
    """Use cases of the assessments domain, written against the store port and two callables for the outside."""

    def __init__(
        self,
        repository: AssessmentRepository,
        questions: QuestionBank,
        *,
        invoke: Invoke,
        speaking_parts: SpeakingParts | None = None,
        writing_time_scale: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.repository = repository
        self.questions = questions
        self._invoke = invoke
        self._speaking_parts = speaking_parts
        self._writing_time_scale = writing_time_scale
        self._clock = clock

    # --- starting ---------------------------------------------------------------------------------------------
    def create(self, user_id: str, module: str) -> Item:
        """Start an assessment of ``module``, using one credit in the same transaction; PaymentRequired without."""
        if module not in MODULES:
            raise ValidationFailed(f"unknown module {module!r}; expected one of {', '.join(MODULES)}")
        assessment_id = new_id()
        now = now_iso()
        item: dict[str, Any] = {
            "id": assessment_id,
            "user_id": user_id,
            "module": module,
            "status": "in_progress",
            "created_at": now,
            "updated_at": now,
            "revision": 0,
            "result": None,
            "error": None,
        }
        seen: list[tuple[str, str]] = []
        if module in WRITING_MODULES:
            first = self.questions.pick(user_id, TASK1_BANK[module])
            second = self.questions.pick(user_id, TASK2_BANK)
            seen = [(TASK1_BANK[module], item_id(first)), (TASK2_BANK, item_id(second))]
            item["tasks"] = [task_object(1, first), task_object(2, second)]
            item["answers"] = {}
        else:
            if self._speaking_parts is None:
                raise ServiceUnavailable("speaking content is not available", code="content_not_loaded")
            item["parts"] = self._speaking_parts(user_id)
        put = self.repository.new_item_op(item)
        ops = [
            *ledger.consume_credit_ops(user_id, module, assessment_id),
            put,
            *self.questions.seen_ops(user_id, seen),
        ]
        try:
            self.repository.transact(ops)
        except ConditionFailed as exc:
            no_credit = exc.index == 0 or (
                exc.index is None and ledger.balances(self.repository.store, user_id).get(module, 0) < 1
            )
            if no_credit:
                raise PaymentRequired(f"no {module} credits left; buy a pack to start a new assessment") from exc
            raise Conflict("the assessment could not be created; try again", code="retry") from exc
        logger.info("assessment %s created (%s)", assessment_id, module)
        return dict(put.item)

    # --- reading ----------------------------------------------------------------------------------------------
    def list(self, user_id: str) -> list[Item]:
        """The user's assessments, newest first."""
        return self.repository.list(user_id)

    def get(self, user_id: str, assessment_id: str) -> Item:
        """The user's assessment; NotFound for anyone else's."""
        return self.repository.get(user_id, assessment_id)

    # --- drafts -----------------------------------------------------------------------------------------------
    def save_answer(self, user_id: str, assessment_id: str, task: int, text: str) -> dict[str, Any]:
        """Autosave the draft of one writing task; only while the assessment is in progress and its clock runs (plus
        DRAFT_GRACE_SECONDS). A late draft is refused with ``time_up`` and the drafts saved in time are kept."""
        if task not in TASK_LIMITS:
            raise ValidationFailed("task must be 1 or 2", code="unknown_task")
        if not isinstance(text, str):
            raise ValidationFailed("text must be a string")
        if len(text) > MAX_ANSWER_CHARS:
            raise ValidationFailed(
                f"an answer may hold at most {MAX_ANSWER_CHARS} characters (this one has {len(text)})",
                code="answer_too_long",
            )
        text = text.replace("\r\n", "\n").replace("\x00", "")
        for _ in attempts():
            item = self.repository.get(user_id, assessment_id)
            self._require_writing(item)
            if item["status"] != "in_progress":
                raise Conflict(
                    f"this assessment is {item['status']}; answers can no longer be changed", code="not_in_progress"
                )
            limit, elapsed = _paper_time(item, self._writing_time_scale, self._clock())
            if elapsed > limit + DRAFT_GRACE_SECONDS:
                raise Conflict(
                    "time is up on this paper; the drafts saved before the end are kept and marked when it is handed in",
                    code="time_up",
                )
            saved = {"text": text, "word_count": count_words(text), "updated_at": now_iso()}
            answers = {**(item.get("answers") or {}), str(task): saved}
            revision = int(item.get("revision", 0))
            try:
                # The revision guards against two tabs saving different tasks at once and one losing its draft.
                self.repository.update(
                    user_id,
                    assessment_id,
                    expect_status="in_progress",
                    expect={"revision": revision},
                    set={"answers": answers, "updated_at": saved["updated_at"], "revision": revision + 1},
                )
            except ConditionFailed:
                continue
            return {"task": task, "word_count": saved["word_count"], "updated_at": saved["updated_at"]}
        raise Conflict("the draft changed while saving; try again", code="retry")

    # --- submitting -------------------------------------------------------------------------------------------
    def submit(self, user_id: str, assessment_id: str) -> tuple[Item, bool]:
        """Move a writing assessment to scoring and request the job; returns (assessment, finished)."""
        for _ in attempts():
            item = self.repository.get(user_id, assessment_id)
            self._require_writing(item)
            status = item["status"]
            if status == "scored":
                return item, True
            if status == "failed":
                raise Conflict("scoring this assessment failed; its credit was returned", code="assessment_failed")
            if status == "scoring":
                if now_epoch() - int(item.get("scoring_requested_at", 0)) > STALE_SCORING_SECONDS:
                    item = self._request_scoring(item, revert_on_failure=False)
                return item, False
            now = now_iso()
            try:
                item = self.repository.update(
                    user_id,
                    assessment_id,
                    expect_status="in_progress",
                    set={
                        "status": "scoring",
                        "submitted_at": now,
                        "updated_at": now,
                        "scoring_requested_at": now_epoch(),
                    },
                )
            except ConditionFailed:
                continue  # submitted twice at once: read again and answer like the other request did
            return self._request_scoring(item, revert_on_failure=True), False
        raise Conflict("the assessment changed while submitting; try again", code="retry")

    def _request_scoring(self, item: Item, *, revert_on_failure: bool) -> Item:
        payload = {"job": "score_writing", "user_id": item["user_id"], "assessment_id": item["id"]}
        try:
            self._invoke("jobs", payload)
        except Exception as exc:
            logger.exception("could not request scoring of %s", item["id"])
            if revert_on_failure:
                # Without a job the assessment would sit in "scoring" forever; give it back to the candidate.
                with contextlib.suppress(ConditionFailed):
                    self.repository.update(
                        item["user_id"], item["id"], expect_status="scoring", set={"status": "in_progress"}
                    )
            raise ServiceUnavailable(
                "scoring could not be started; your answers are saved, please submit again"
            ) from exc
        if not revert_on_failure:
            return self.repository.update(
                item["user_id"], item["id"], expect_status="scoring", set={"scoring_requested_at": now_epoch()}
            )
        return item

    # --- scoring (runs in the jobs function) --------------------------------------------------------------------
    def score_writing(
        self,
        user_id: str,
        assessment_id: str,
        scorer: Callable[[], WritingScorer],
        *,
        attempts: int = SCORING_ATTEMPTS,
        backoff: float = SCORING_BACKOFF_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Item | None:
        """Score a submitted writing assessment, retrying retryable failures; idempotent when run twice.

        ``scorer`` builds the engine (``container.writing_scorer``): an engine that cannot even start (bad
        configuration, missing model) must also end the assessment as failed rather than leave it scoring forever.
        """
        from ieltsprep.scoring.port import ScoringFailed

        item = self.repository.find(user_id, assessment_id)
        if item is None or item.get("status") != "scoring":
            return item  # deleted, or already scored/failed by an earlier run
        try:
            engine = scorer()
        except Exception as exc:
            logger.exception("the writing scorer could not be built")
            message = f"the scoring engine could not start ({type(exc).__name__})"
            return self.fail(user_id, assessment_id, "scoring_unavailable", message)
        tasks = writing_tasks(item)
        for attempt in range(1, attempts + 1):
            try:
                result = engine.score(item["module"], tasks)
            except ScoringFailed as exc:
                error, retryable = {"code": "scoring_failed", "message": exc.reason}, exc.retryable
            except Exception as exc:  # an engine bug must still end in "failed", with the credit back
                logger.exception("scorer crashed on %s", assessment_id)
                error, retryable = (
                    {"code": "scoring_error", "message": f"the scoring engine failed: {type(exc).__name__}"},
                    True,
                )
            else:
                return self.complete_with_result(user_id, assessment_id, result.model_dump(mode="json"))
            logger.warning("scoring %s attempt %d/%d failed: %s", assessment_id, attempt, attempts, error["message"])
            if not retryable or attempt == attempts:
                return self.fail(user_id, assessment_id, error["code"], error["message"])
            sleep(backoff * 2 ** (attempt - 1))
        return None  # pragma: no cover - the loop always returns

    # --- results (writing job and the speaking worker) ----------------------------------------------------------
    def complete_with_result(self, user_id: str, assessment_id: str, result: dict[str, Any]) -> Item:
        """Store the result of a scored assessment (writing or speaking); a second call changes nothing."""
        for _ in attempts():
            item = self.repository.get(user_id, assessment_id)
            status = item["status"]
            if status == "scored":
                return item
            if status == "failed":
                raise Conflict("this assessment already failed; its credit was returned", code="assessment_failed")
            now = now_iso()
            try:
                return self.repository.update(
                    user_id,
                    assessment_id,
                    expect_status=status,
                    set={"status": "scored", "result": result, "scored_at": now, "updated_at": now, "error": None},
                )
            except ConditionFailed:
                continue
        raise Conflict("the assessment changed while storing its result; try again", code="retry")

    def fail(self, user_id: str, assessment_id: str, code: str, message: str) -> Item:
        """End an assessment as failed with ``error`` and give its credit back, in one transaction."""
        for _ in attempts():
            item = self.repository.get(user_id, assessment_id)
            status = item["status"]
            if status in ("scored", "failed"):
                return item
            now = now_iso()
            update = self.repository.update_op(
                user_id,
                assessment_id,
                expect_status=status,
                set={
                    "status": "failed",
                    "error": {"code": code, "message": message},
                    "updated_at": now,
                    "failed_at": now,
                },
            )
            try:
                self.repository.transact([update, *ledger.return_credit_ops(user_id, item["module"], assessment_id)])
            except ConditionFailed as exc:
                if exc.index == 0:
                    continue  # the status moved under us: look again
                # The credit was already returned (or never used): still record the failure.
                try:
                    self.repository.store.update(update)
                except ConditionFailed:
                    continue
            logger.warning("assessment %s failed: %s", assessment_id, message)
            return self.repository.get(user_id, assessment_id)
        raise Conflict("the assessment changed while failing it; try again", code="retry")

    @staticmethod
    def _require_writing(item: Item) -> None:
        if item["module"] in SPEAKING_MODULES:
            raise Conflict(
                "speaking assessments are answered in the speaking test, not with written answers", code="not_writing"
            )


def writing_tasks(item: Item) -> list[WritingTask]:
    """The scorer's view of a writing assessment: each task with the candidate's final text."""
    from ieltsprep.scoring.port import WritingTask

    answers = item.get("answers") or {}
    tasks = []
    for task in item["tasks"]:
        chart = task.get("chart")
        facts = chart_model(chart).facts() if chart else []
        tasks.append(
            WritingTask(
                task=int(task["task"]),
                prompt=task["prompt"],
                text=(answers.get(str(task["task"])) or {}).get("text", ""),
                min_words=int(task["min_words"]),
                kind=task["kind"],
                bullets=tuple(task.get("bullets") or ()),
                chart_facts=tuple(facts),
                visual=str(chart.get("type", "")) if chart else "",
            )
        )
    return tasks
