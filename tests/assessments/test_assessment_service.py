from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from assessment_fakes import RecordingInvoker, ScriptedScorer, give, retryable

from ieltsprep.adapters.storage.port import Store, Table
from ieltsprep.assessments import service as service_module
from ieltsprep.assessments.questionbank import QuestionBank
from ieltsprep.assessments.repository import AssessmentRepository
from ieltsprep.assessments.service import DRAFT_GRACE_SECONDS, AssessmentService, count_words, public
from ieltsprep.billing import ledger
from ieltsprep.errors import Conflict, NotFound, PaymentRequired, ServiceUnavailable, ValidationFailed
from ieltsprep.scoring.port import ScoringFailed

ESSAY = "Cities grow quickly. " * 90


def no_sleep(_seconds: float) -> None:
    return None


def started(service: AssessmentService, store: Store, user: str = "u1", module: str = "academic_writing") -> str:
    give(store, user, module)
    return str(service.create(user, module)["id"])


def test_creating_uses_one_credit_in_the_same_write(service: AssessmentService, store: Store) -> None:
    give(store, "u1", "academic_writing", 2)
    item = service.create("u1", "academic_writing")
    assert item["status"] == "in_progress" and item["user_id"] == "u1"
    assert ledger.balances(store, "u1")["academic_writing"] == 1
    uses = [e for e in ledger.entries(store, "u1") if e["kind"] == "use"]
    assert [e["ref"] for e in uses] == [item["id"]]


def test_academic_tasks_carry_a_chart_with_data_and_svg(service: AssessmentService, store: Store) -> None:
    give(store, "u1", "academic_writing")
    item = service.create("u1", "academic_writing")
    assert set(item["tasks"][0]["chart"]) == {"type", "title", "data"}  # stored: the data only
    task1, task2 = public(item)["tasks"]
    assert (task1["task"], task1["min_words"], task1["minutes"], task1["kind"]) == (1, 150, 20, "academic_chart")
    assert set(task1["chart"]) == {"type", "title", "data", "svg", "svg_narrow"}
    assert task1["chart"]["svg_narrow"].startswith("<svg")
    assert (task2["task"], task2["min_words"], task2["minutes"], task2["kind"]) == (2, 250, 40, "essay")


def test_general_task1_is_a_letter_with_three_bullets(service: AssessmentService, store: Store) -> None:
    give(store, "u1", "general_writing")
    task1 = service.create("u1", "general_writing")["tasks"][0]
    assert task1["kind"] == "general_letter" and len(task1["bullets"]) == 3 and "chart" not in task1
    assert all(bullet in task1["prompt"] for bullet in task1["bullets"])


def test_without_credit_nothing_is_created_and_no_question_is_spent(service: AssessmentService, store: Store) -> None:
    with pytest.raises(PaymentRequired) as err:
        service.create("u1", "academic_writing")
    assert err.value.code == "no_credits" and err.value.status == 402
    assert service.list("u1") == []
    assert store.query(Table.ASSESSMENTS, "USER#u1") == []  # no SEEN# records either


def test_unknown_module_is_a_validation_error(service: AssessmentService) -> None:
    with pytest.raises(ValidationFailed, match="unknown module"):
        service.create("u1", "cooking")


def test_consecutive_assessments_use_fresh_questions(service: AssessmentService, store: Store) -> None:
    give(store, "u1", "academic_writing", 3)
    ids = [tuple(t["question_id"] for t in service.create("u1", "academic_writing")["tasks"]) for _ in range(3)]
    assert len({first for first, _ in ids}) == 3 and len({second for _, second in ids}) == 3


def test_speaking_assessment_takes_its_parts_from_the_script(service: AssessmentService, store: Store) -> None:
    give(store, "u1", "general_speaking")
    item = service.create("u1", "general_speaking")
    assert item["parts"] == [{"part": 1, "topics": ["Music"]}] and "tasks" not in public(item)


def test_list_is_newest_first_and_scoped_to_the_caller(service: AssessmentService, store: Store) -> None:
    first = started(service, store, "u1")
    give(store, "u1", "general_writing")
    second = service.create("u1", "general_writing")["id"]
    started(service, store, "u2")
    assert [i["id"] for i in service.list("u1")] == [second, first]


def test_another_users_assessment_is_not_found(service: AssessmentService, store: Store) -> None:
    assessment = started(service, store, "u1")
    with pytest.raises(NotFound):
        service.get("u2", assessment)
    with pytest.raises(NotFound):
        service.save_answer("u2", assessment, 1, "mine now")


def test_drafts_are_saved_with_their_word_count(service: AssessmentService, store: Store) -> None:
    assessment = started(service, store)
    saved = service.save_answer("u1", assessment, 1, "The chart shows three cities.\r\nOverall, use fell.")
    assert saved["word_count"] == 8 and saved["task"] == 1
    service.save_answer("u1", assessment, 2, "Second draft")
    answers = service.get("u1", assessment)["answers"]
    assert answers["1"]["text"] == "The chart shows three cities.\nOverall, use fell."
    assert answers["2"]["word_count"] == 2


def test_overlong_drafts_and_bad_tasks_are_refused(service: AssessmentService, store: Store) -> None:
    assessment = started(service, store)
    with pytest.raises(ValidationFailed, match="at most 20000"):
        service.save_answer("u1", assessment, 1, "x" * 20_001)
    with pytest.raises(ValidationFailed):
        service.save_answer("u1", assessment, 3, "text")
    assert service.get("u1", assessment)["answers"] == {}


def test_submit_moves_to_scoring_and_asks_for_the_job(
    service: AssessmentService, store: Store, invoker: RecordingInvoker
) -> None:
    assessment = started(service, store)
    item, finished = service.submit("u1", assessment)
    assert item["status"] == "scoring" and not finished
    assert invoker.calls == [("jobs", {"job": "score_writing", "user_id": "u1", "assessment_id": assessment})]


def test_drafts_after_submit_are_refused(service: AssessmentService, store: Store) -> None:
    assessment = started(service, store)
    service.save_answer("u1", assessment, 2, "before")
    service.submit("u1", assessment)
    with pytest.raises(Conflict) as err:
        service.save_answer("u1", assessment, 2, "after")
    assert err.value.code == "not_in_progress"
    assert service.get("u1", assessment)["answers"]["2"]["text"] == "before"


def timed_service(store: Store, now: list[float], time_scale: float = 1.0) -> AssessmentService:
    """A service whose clock reads ``now[0]``."""
    return AssessmentService(
        AssessmentRepository(store),
        QuestionBank(store, auto_load=True),
        invoke=RecordingInvoker(),
        writing_time_scale=time_scale,
        clock=lambda: now[0],
    )


def started_at(service: AssessmentService, store: Store) -> tuple[str, float]:
    """A new writing paper and the epoch second it started."""
    assessment = started(service, store)
    created = service.get("u1", assessment)["created_at"]
    return assessment, datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()


def test_drafts_after_the_papers_clock_and_its_grace_are_refused_and_the_saved_ones_are_marked(store: Store) -> None:
    now = [0.0]
    timed = timed_service(store, now)
    assessment, created = started_at(timed, store)
    now[0] = created + 59 * 60
    timed.save_answer("u1", assessment, 2, "written in the last minute")
    now[0] = created + 3600 + DRAFT_GRACE_SECONDS  # the last autosave, still in flight when the clock hit 0
    timed.save_answer("u1", assessment, 1, "saved within the grace")
    now[0] = created + 3600 + DRAFT_GRACE_SECONDS + 1
    with pytest.raises(Conflict) as err:
        timed.save_answer("u1", assessment, 2, "typed after time was up")
    assert err.value.code == "time_up" and err.value.status == 409
    answers = timed.get("u1", assessment)["answers"]
    assert (answers["1"]["text"], answers["2"]["text"]) == ("saved within the grace", "written in the last minute")

    item, _ = timed.submit("u1", assessment)  # handing in after the deadline is accepted
    assert item["status"] == "scoring"
    scorer = ScriptedScorer()
    scored = timed.score_writing("u1", assessment, lambda: scorer, sleep=no_sleep)
    assert scored is not None and scored["status"] == "scored"
    assert [task.text for task in scorer.seen[0]] == ["saved within the grace", "written in the last minute"]


def test_the_time_scale_shortens_the_servers_clock_too(store: Store) -> None:
    now = [0.0]
    timed = timed_service(store, now, time_scale=0.01)
    assessment, created = started_at(timed, store)
    now[0] = created + 36 + DRAFT_GRACE_SECONDS  # 36 s is the scaled paper
    timed.save_answer("u1", assessment, 1, "in time")
    now[0] += 1
    with pytest.raises(Conflict, match="time is up"):
        timed.save_answer("u1", assessment, 1, "late")
    assert timed.get("u1", assessment)["answers"]["1"]["text"] == "in time"


def test_submitting_twice_requests_scoring_once(
    service: AssessmentService, store: Store, invoker: RecordingInvoker
) -> None:
    assessment = started(service, store)
    service.submit("u1", assessment)
    item, _ = service.submit("u1", assessment)
    assert item["status"] == "scoring" and len(invoker.calls) == 1


def test_when_the_job_cannot_be_requested_the_candidate_can_submit_again(
    service: AssessmentService, store: Store, invoker: RecordingInvoker
) -> None:
    assessment = started(service, store)
    invoker.fail = True
    with pytest.raises(ServiceUnavailable):
        service.submit("u1", assessment)
    assert service.get("u1", assessment)["status"] == "in_progress"
    invoker.fail = False
    assert service.submit("u1", assessment)[0]["status"] == "scoring"


def test_speaking_assessments_cannot_be_submitted_as_writing(service: AssessmentService, store: Store) -> None:
    assessment = started(service, store, module="academic_speaking")
    with pytest.raises(Conflict) as err:
        service.submit("u1", assessment)
    assert err.value.code == "not_writing"


def test_scoring_stores_the_result_and_hands_the_scorer_the_final_texts(
    service: AssessmentService, store: Store
) -> None:
    assessment = started(service, store)
    service.save_answer("u1", assessment, 1, "The graph shows water use.")
    service.save_answer("u1", assessment, 2, ESSAY)
    service.submit("u1", assessment)
    scorer = ScriptedScorer()
    item = service.score_writing("u1", assessment, lambda: scorer, sleep=no_sleep)
    assert item is not None and item["status"] == "scored"
    assert item["result"]["overall_band"] == 6.0 and len(item["result"]["tasks"]) == 2
    task1, task2 = scorer.seen[0]
    assert task1.text == "The graph shows water use." and task1.kind == "academic_chart" and task1.chart_facts
    assert task2.text == ESSAY and task2.min_words == 250


def test_transient_scoring_failures_are_retried_with_backoff(service: AssessmentService, store: Store) -> None:
    assessment = started(service, store)
    service.submit("u1", assessment)
    scorer = ScriptedScorer(errors=[retryable(), RuntimeError("socket closed")])
    waits: list[float] = []
    item = service.score_writing("u1", assessment, lambda: scorer, sleep=waits.append)
    assert item is not None and item["status"] == "scored"
    assert scorer.calls == 3 and waits == [0.5, 1.0]


def test_a_scorer_that_keeps_failing_ends_failed_with_the_credit_returned(
    service: AssessmentService, store: Store
) -> None:
    assessment = started(service, store)
    service.submit("u1", assessment)
    scorer = ScriptedScorer(errors=[retryable(), retryable(), retryable()])
    item = service.score_writing("u1", assessment, lambda: scorer, sleep=no_sleep)
    assert item is not None and item["status"] == "failed"
    assert item["error"] == {"code": "scoring_failed", "message": "the engine timed out"}
    assert scorer.calls == 3
    assert ledger.balances(store, "u1")["academic_writing"] == 1


def test_a_permanent_failure_is_not_retried(service: AssessmentService, store: Store) -> None:
    assessment = started(service, store)
    service.submit("u1", assessment)
    scorer = ScriptedScorer(errors=[ScoringFailed("the answer could not be read", retryable=False)])
    item = service.score_writing("u1", assessment, lambda: scorer, sleep=no_sleep)
    assert item is not None and item["status"] == "failed" and scorer.calls == 1


def test_running_the_job_twice_changes_nothing_the_second_time(service: AssessmentService, store: Store) -> None:
    assessment = started(service, store)
    service.submit("u1", assessment)
    failing = ScriptedScorer(errors=[ScoringFailed("bad", retryable=False)])
    service.score_writing("u1", assessment, lambda: failing, sleep=no_sleep)
    again = ScriptedScorer()
    item = service.score_writing("u1", assessment, lambda: again, sleep=no_sleep)
    assert item is not None and item["status"] == "failed" and again.calls == 0
    returns = [e for e in ledger.entries(store, "u1") if e["kind"] == "return"]
    assert len(returns) == 1 and ledger.balances(store, "u1")["academic_writing"] == 1


def test_an_engine_that_cannot_start_fails_the_assessment_and_returns_the_credit(
    service: AssessmentService, store: Store
) -> None:
    assessment = started(service, store)
    service.submit("u1", assessment)

    def broken() -> ScriptedScorer:
        raise FileNotFoundError("model parameters missing")

    item = service.score_writing("u1", assessment, broken, sleep=no_sleep)
    assert item is not None and item["status"] == "failed" and item["error"]["code"] == "scoring_unavailable"
    assert ledger.balances(store, "u1")["academic_writing"] == 1


def test_a_job_for_a_vanished_assessment_does_nothing(service: AssessmentService) -> None:
    assert service.score_writing("u1", "01gone", lambda: ScriptedScorer(), sleep=no_sleep) is None


def test_speaking_results_are_stored_once(service: AssessmentService, store: Store) -> None:
    assessment = started(service, store, module="general_speaking")
    result = {"overall_band": 6.5, "engine": "local", "criteria": {}, "metrics": {}, "transcript": []}
    item = service.complete_with_result("u1", assessment, result)
    assert item["status"] == "scored" and item["result"] == result
    assert service.complete_with_result("u1", assessment, {"overall_band": 1.0})["result"] == result


def test_a_failed_speaking_test_returns_its_credit(service: AssessmentService, store: Store) -> None:
    assessment = started(service, store, module="general_speaking")
    item = service.fail("u1", assessment, "speech_engine_failed", "the examiner could not be reached")
    assert item["status"] == "failed" and item["error"]["code"] == "speech_engine_failed"
    assert ledger.balances(store, "u1")["general_speaking"] == 1


def test_the_list_view_leaves_out_drawings_and_draft_texts(service: AssessmentService, store: Store) -> None:
    assessment = started(service, store)
    service.save_answer("u1", assessment, 1, "Some words here")
    summary = public(service.get("u1", assessment), summary=True)
    assert "svg" not in summary["tasks"][0]["chart"] and summary["answers"]["1"] == {
        "word_count": 3,
        "updated_at": summary["answers"]["1"]["updated_at"],
    }


@pytest.mark.parametrize(
    ("text", "words"),
    [("", 0), ("  one  two\nthree ", 3), ("well - known , fine", 3), ("e-mail isn't hard.", 3)],
)
def test_words_are_counted_like_a_candidate_counts_them(text: str, words: int) -> None:
    assert count_words(text) == words


def test_a_scoring_request_that_was_lost_is_asked_again_on_the_next_submit(
    service: AssessmentService, store: Store, invoker: RecordingInvoker
) -> None:
    assessment = started(service, store)
    service.submit("u1", assessment)
    service.repository.update("u1", assessment, expect_status="scoring", set={"scoring_requested_at": 0})
    item, finished = service.submit("u1", assessment)
    assert not finished and item["status"] == "scoring" and len(invoker.calls) == 2
    assert item["scoring_requested_at"] > 0  # and not again until it is stale once more
    service.submit("u1", assessment)
    assert len(invoker.calls) == 2


def test_drafts_of_both_tasks_saved_at_once_are_both_kept(service: AssessmentService, store: Store) -> None:
    assessment = started(service, store)

    def typist(task: int) -> None:
        for n in range(15):
            service.save_answer("u1", assessment, task, f"task {task} draft {n}")

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(typist, [1, 2]))
    answers = service.get("u1", assessment)["answers"]
    assert answers["1"]["text"] == "task 1 draft 14" and answers["2"]["text"] == "task 2 draft 14"


def test_optimistic_retries_pause_longer_each_time_so_writers_stop_colliding(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(service_module.time, "sleep", pauses.append)
    assert list(service_module.attempts(5)) == [0, 1, 2, 3, 4]
    assert len(pauses) == 4  # none before the first attempt
    base = service_module.RETRY_PAUSE_SECONDS
    for k, pause in enumerate(pauses):
        assert base * 2**k * 0.5 <= pause <= base * 2**k
