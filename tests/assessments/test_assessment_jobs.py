from __future__ import annotations

import pytest
from assessment_fakes import ScriptedScorer, give

from ieltsprep.adapters.storage.port import Table
from ieltsprep.container import Container
from ieltsprep.edges import jobs
from ieltsprep.errors import ValidationFailed
from ieltsprep.scoring.port import WritingResult, WritingTask


def test_score_writing_is_registered_and_scores_a_submitted_assessment(container: Container) -> None:
    container.__dict__["writing_scorer"] = ScriptedScorer()
    give(container.store, "u1", "general_writing")
    item = container.assessments.create("u1", "general_writing")
    # Submitted without the async invocation, so the job below is the only run.
    container.assessments.repository.update("u1", item["id"], expect_status="in_progress", set={"status": "scoring"})
    out = jobs.run(container, {"job": "score_writing", "user_id": "u1", "assessment_id": item["id"]})
    assert out == {"job": "score_writing", "result": {"assessment_id": item["id"], "status": "scored"}}
    again = jobs.run(container, {"job": "score_writing", "user_id": "u1", "assessment_id": item["id"]})
    assert again["result"]["status"] == "scored"


def test_a_job_without_ids_is_rejected(container: Container) -> None:
    with pytest.raises(ValidationFailed, match="user_id and an assessment_id"):
        jobs.run(container, {"job": "score_writing", "assessment_id": 5})


def test_a_job_for_an_unknown_assessment_reports_it_missing(container: Container) -> None:
    out = jobs.run(container, {"job": "score_writing", "user_id": "u1", "assessment_id": "nope"})
    assert out["result"] == {"assessment_id": "nope", "status": "missing"}


def test_load_questions_job_loads_the_named_banks(container: Container) -> None:
    out = jobs.run(container, {"job": "load_questions", "banks": ["writing/task2"]})
    assert out["result"] == {"loaded": {"writing/task2": 24}}
    with pytest.raises(ValidationFailed, match="unknown bank"):
        jobs.run(container, {"job": "load_questions", "banks": ["writing/none"]})


def test_an_account_deleted_while_scoring_leaves_nothing_behind(container: Container) -> None:
    from ieltsprep.adapters.storage.port import Delete
    from ieltsprep.assessments.repository import assessment_key

    give(container.store, "u1", "general_writing")
    item = container.assessments.create("u1", "general_writing")
    container.assessments.repository.update("u1", item["id"], expect_status="in_progress", set={"status": "scoring"})

    class DeletingScorer(ScriptedScorer):
        def score(self, module: str, tasks: list[WritingTask]) -> WritingResult:
            container.store.delete(Delete(Table.ASSESSMENTS, assessment_key("u1", item["id"])))
            return super().score(module, tasks)

    container.__dict__["writing_scorer"] = DeletingScorer()
    out = jobs.run(container, {"job": "score_writing", "user_id": "u1", "assessment_id": item["id"]})
    assert out["result"]["status"] == "missing"
    assert container.store.query(Table.ASSESSMENTS, "USER#u1", sk_prefix="ASSESSMENT#") == []
