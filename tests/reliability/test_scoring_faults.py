"""A scoring engine that fails, times out or is lost mid-assessment: the credit is returned or the work retried,
never lost, and the ledger balances after each case. Driven over the HTTP API with the jobs running as they do
locally (the invoker's background pool)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from apiclient import Api

from ieltsprep.assessments import service as assessment_service
from ieltsprep.billing import ledger
from ieltsprep.container import Container
from ieltsprep.scoring.port import ScoringFailed, WritingResult, WritingTask

ESSAY = ("Many people believe that education shapes a fair society because teachers and families share the "
         "responsibility for children and their future. ") * 14  # fmt: skip


class CrashingScorer:
    """An engine with a bug: every call raises."""

    def __init__(self) -> None:
        self.calls = 0

    def score(self, module: str, tasks: list[WritingTask]) -> WritingResult:
        self.calls += 1
        raise RuntimeError("engine bug")


class TimesOutOnce:
    """The first call times out (as the Bedrock adapter reports a read timeout); then the real local engine answers."""

    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, 0

    def score(self, module: str, tasks: list[WritingTask]) -> WritingResult:
        self.calls += 1
        if self.calls == 1:
            raise ScoringFailed("the model did not answer within 30 s", retryable=True)
        result: WritingResult = self.real.score(module, tasks)
        return result


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without the production backoff, so the test does not sleep."""
    monkeypatch.setattr(assessment_service, "SCORING_BACKOFF_SECONDS", 0.0)


def _submitted(api: Api, container: Container, email: str) -> tuple[str, str, str]:
    """A user with two credits and a submitted writing assessment: (token, user id, assessment id)."""
    token = api.signed_up(email)
    user_id = api.call("GET", "/api/me", token=token).json["user"]["id"]
    ledger.grant(container.store, user_id, "academic_writing", 2, source="operator", idempotency_key="faults")
    assessment_id = api.call("POST", "/api/assessments", {"module": "academic_writing"}, token=token).json[
        "assessment"
    ]["id"]
    for task in (1, 2):
        saved = api.call("PUT", f"/api/assessments/{assessment_id}/answers/{task}", {"text": ESSAY}, token=token)
        assert saved.status == 200, saved.text
    submitted = api.call("POST", f"/api/assessments/{assessment_id}/submit", token=token)
    assert submitted.status in (200, 202), submitted.text
    return token, user_id, assessment_id


def _balanced(container: Container, user_id: str) -> dict[str, int]:
    sums: dict[str, int] = defaultdict(int)
    for entry in ledger.entries(container.store, user_id):
        sums[entry["module"]] += int(entry["delta"])
    balances = ledger.balances(container.store, user_id)
    assert all(balances[m] == sums.get(m, 0) for m in balances), (balances, dict(sums))
    return balances


def test_an_engine_that_keeps_crashing_fails_the_assessment_and_returns_the_credit(
    api: Api, container: Container
) -> None:
    engine = CrashingScorer()
    container.__dict__["writing_scorer"] = engine
    token, user_id, assessment_id = _submitted(api, container, "crash@example.com")
    container.invoker.drain(60)
    assessment = api.call("GET", f"/api/assessments/{assessment_id}", token=token).json["assessment"]
    assert assessment["status"] == "failed" and assessment["error"]["code"] == "scoring_error"
    assert engine.calls == assessment_service.SCORING_ATTEMPTS  # retried before giving up
    assert assessment["answers"]["2"]["text"] == ESSAY  # the candidate's work is kept
    assert _balanced(container, user_id)["academic_writing"] == 2  # the used credit came back
    again = api.call("POST", f"/api/assessments/{assessment_id}/submit", token=token)
    assert again.status == 409 and _balanced(container, user_id)["academic_writing"] == 2  # and only once


def test_an_engine_that_times_out_once_is_retried_and_the_credit_is_used_once(api: Api, container: Container) -> None:
    from ieltsprep.scoring.factory import build_writing_scorer

    engine = TimesOutOnce(build_writing_scorer(container.settings))
    container.__dict__["writing_scorer"] = engine
    token, user_id, assessment_id = _submitted(api, container, "timeout@example.com")
    container.invoker.drain(120)
    assessment = api.call("GET", f"/api/assessments/{assessment_id}", token=token).json["assessment"]
    assert assessment["status"] == "scored" and engine.calls == 2
    assert assessment["result"]["overall_band"] > 0
    assert _balanced(container, user_id)["academic_writing"] == 1


def test_a_scoring_job_lost_mid_assessment_is_asked_again_and_never_charged_twice(
    api: Api, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    lost: list[dict[str, Any]] = []
    real_invoke = container.invoker.invoke_async
    # The async invoke is accepted, then the job dies (a Lambda timeout after its retries): nothing ever scores it.
    monkeypatch.setattr(container.invoker, "invoke_async", lambda target, payload: lost.append(payload))
    container.__dict__["writing_scorer"] = CrashingScorer()  # never reached while the job is lost
    token, user_id, assessment_id = _submitted(api, container, "lost@example.com")
    assert len(lost) == 1
    # Submitting again at once does not charge again nor pile up jobs: the first request is still fresh.
    assert api.call("POST", f"/api/assessments/{assessment_id}/submit", token=token).status == 202
    assert len(lost) == 1 and _balanced(container, user_id)["academic_writing"] == 1
    # Once the request is stale, the next submit asks again, and this time the job runs.
    later = assessment_service.now_epoch() + assessment_service.STALE_SCORING_SECONDS + 1
    monkeypatch.setattr(assessment_service, "now_epoch", lambda: later)
    monkeypatch.setattr(container.invoker, "invoke_async", real_invoke)
    container.__dict__.pop("writing_scorer")
    assert api.call("POST", f"/api/assessments/{assessment_id}/submit", token=token).status == 202
    container.invoker.drain(120)
    assessment = api.call("GET", f"/api/assessments/{assessment_id}", token=token).json["assessment"]
    assert assessment["status"] == "scored"
    assert _balanced(container, user_id)["academic_writing"] == 1
