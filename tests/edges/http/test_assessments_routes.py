"""The writing flow over the HTTP resolver: start (one credit) → drafts → submit → background job → result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apiclient import PASSWORD, Api

from ieltsprep.billing import ledger
from ieltsprep.container import Container
from ieltsprep.scoring.port import ScoringFailed

TASK1 = (
    "The line graph compares how much water a person used each day in Northbridge, Eastvale and Southport "
    "between 1990 and 2020. Overall, consumption fell in Northbridge and Southport but rose steadily in Eastvale, "
    "which had become the highest of the three by 2020.\n\n"
    "In 1990 Northbridge residents used the most water, at 182 litres per day, compared with 150 litres in "
    "Southport and only 118 litres in Eastvale. Over the following three decades the figure for Northbridge "
    "dropped continuously, reaching 121 litres in 2020. Southport rose briefly to 158 litres in 1995 before "
    "declining to 109 litres, the lowest figure on the graph.\n\n"
    "Eastvale followed the opposite pattern. Its consumption climbed gradually every five years, overtaking "
    "Southport around 2005 and Northbridge around 2010, and it finished the period at 147 litres per person.\n\n"
    "In short, the gap between the three cities narrowed considerably: in 1990 it was 64 litres, whereas by 2020 the "
    "difference between the highest and the lowest figure was 38 litres."
)
TASK2 = (
    "Many companies now let their staff work from home for most of the week, and some people argue that employers "
    "gain as much from this arrangement as their employees do. I largely agree with this view, although I believe "
    "the benefits depend on how well the work is organised.\n\n"
    "On the one hand, employers save a great deal of money when fewer people come to the office. They can rent "
    "smaller buildings, pay lower energy bills and recruit talented people who live far away. For example, a "
    "software company in my city closed one of its two offices and used the savings to raise salaries. Moreover, "
    "staff who avoid a long commute are often less tired, so they concentrate better and make fewer mistakes.\n\n"
    "On the other hand, working from home can weaken teamwork. New employees in particular learn by watching "
    "experienced colleagues, and this is much harder through a screen. Managers may also find it difficult to "
    "notice when someone is struggling or overloaded. However, these problems can be reduced if teams meet in "
    "person once or twice a week and if managers keep in regular contact with each member of staff.\n\n"
    "A further point is that flexible arrangements help companies keep experienced staff. Parents of young children, "
    "for instance, often leave jobs that demand long hours in the office, and replacing them is expensive.\n\n"
    "In conclusion, I agree that remote work can benefit employers as much as employees, because it reduces costs "
    "and often improves concentration. Nevertheless, companies need to plan carefully so that training and "
    "cooperation do not suffer."
)


def signed_up(api: Api, container: Container, email: str, credits: dict[str, int] | None = None) -> tuple[str, str]:
    """Register, log in and grant credits through the ledger; (user id, token)."""
    reply = api.register(email)
    assert reply.status == 201, reply.text
    user_id = str(reply.json["user"]["id"])
    token = str(api.login(email, PASSWORD).json["token"])
    for module, count in (credits or {}).items():
        ledger.grant(container.store, user_id, module, count, source="operator", idempotency_key=f"{email}-{module}")
    return user_id, token


def start(api: Api, token: str, module: str = "academic_writing") -> dict[str, Any]:
    reply = api.call("POST", "/api/assessments", {"module": module}, token=token)
    assert reply.status == 201, reply.text
    return dict(reply.json["assessment"])


def test_a_candidate_takes_a_whole_writing_assessment_and_reads_the_result(api: Api, container: Container) -> None:
    user_id, token = signed_up(api, container, "ana@example.com", {"academic_writing": 1})
    assessment = start(api, token)
    assert assessment["status"] == "in_progress" and assessment["module"] == "academic_writing"
    assert assessment["tasks"][0]["chart"]["svg"].startswith("<svg")
    assert ledger.balances(container.store, user_id)["academic_writing"] == 0

    base = f"/api/assessments/{assessment['id']}"
    draft = api.call("PUT", f"{base}/answers/1", {"text": "The line graph compares"}, token=token)
    assert draft.status == 200 and draft.json["word_count"] == 4 and draft.json["updated_at"]
    assert api.call("PUT", f"{base}/answers/1", {"text": TASK1}, token=token).status == 200
    assert api.call("PUT", f"{base}/answers/2", {"text": TASK2}, token=token).status == 200

    submitted = api.call("POST", f"{base}/submit", token=token)
    assert submitted.status == 202 and submitted.json["assessment"]["status"] == "scoring"
    container.invoker.drain(timeout=30)

    result = api.call("GET", base, token=token).json["assessment"]
    assert result["status"] == "scored", result.get("error")
    assert result["answers"]["2"]["text"] == TASK2
    tasks = result["result"]["tasks"]
    assert [t["task"] for t in tasks] == [1, 2]
    assert set(tasks[0]["criteria"]) == {
        "task_achievement",
        "coherence_cohesion",
        "lexical_resource",
        "grammatical_range_accuracy",
    }
    assert set(tasks[1]["criteria"]) == {
        "task_response",
        "coherence_cohesion",
        "lexical_resource",
        "grammatical_range_accuracy",
    }
    assert 0 <= result["result"]["overall_band"] <= 9 and result["result"]["engine"] == "local"  # the real engine
    assert all(c["feedback"] for t in tasks for c in t["criteria"].values())
    assert tasks[1]["word_count"] >= 250 and "under_length" not in tasks[1]["flags"]

    listed = api.call("GET", "/api/assessments", token=token).json["assessments"]
    assert [a["id"] for a in listed] == [assessment["id"]] and "svg" not in listed[0]["tasks"][0]["chart"]
    assert api.call("POST", f"{base}/submit", token=token).status == 200  # already scored: the result at once


def test_without_credits_the_answer_is_402_and_nothing_is_created(api: Api, container: Container) -> None:
    _, token = signed_up(api, container, "bo@example.com")
    reply = api.call("POST", "/api/assessments", {"module": "general_writing"}, token=token)
    assert reply.status == 402 and reply.error_code == "no_credits"
    assert api.call("GET", "/api/assessments", token=token).json == {"assessments": []}


def test_another_user_gets_404_for_my_assessment(api: Api, container: Container) -> None:
    _, mine = signed_up(api, container, "cy@example.com", {"academic_writing": 1})
    _, theirs = signed_up(api, container, "di@example.com", {"academic_writing": 1})
    assessment = start(api, mine)
    base = f"/api/assessments/{assessment['id']}"
    assert api.call("GET", base, token=theirs).status == 404
    assert api.call("PUT", f"{base}/answers/1", {"text": "hijack"}, token=theirs).status == 404
    assert api.call("POST", f"{base}/submit", token=theirs).status == 404
    assert api.call("GET", "/api/assessments", token=theirs).json == {"assessments": []}


def test_drafts_after_submit_are_refused_with_409(api: Api, container: Container) -> None:
    _, token = signed_up(api, container, "ed@example.com", {"general_writing": 1})
    container.__dict__["writing_scorer"] = NeverScorer()
    assessment = start(api, token, "general_writing")
    base = f"/api/assessments/{assessment['id']}"
    assert api.call("POST", f"{base}/submit", token=token).status == 202
    late = api.call("PUT", f"{base}/answers/2", {"text": "one more line"}, token=token)
    assert late.status == 409 and late.error_code == "not_in_progress"
    container.invoker.drain(timeout=30)


class NeverScorer:
    """An engine that is down: every call fails in a way worth retrying."""

    engine = "bedrock"
    calls = 0

    def score(self, module: str, tasks: list[Any]) -> Any:
        self.calls += 1
        raise ScoringFailed("Bedrock throttled the request", retryable=True)


def test_a_scorer_failure_ends_failed_with_the_credit_returned(api: Api, container: Container) -> None:
    user_id, token = signed_up(api, container, "fi@example.com", {"academic_writing": 1})
    scorer = NeverScorer()
    container.__dict__["writing_scorer"] = scorer
    assessment = start(api, token)
    base = f"/api/assessments/{assessment['id']}"
    assert api.call("POST", f"{base}/submit", token=token).status == 202
    container.invoker.drain(timeout=30)
    failed = api.call("GET", base, token=token).json["assessment"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "scoring_failed"
    assert scorer.calls == 3
    assert ledger.balances(container.store, user_id)["academic_writing"] == 1
    assert api.call("POST", f"{base}/submit", token=token).status == 409


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/answers/3", {"text": "x"}, 422),
        ("/answers/1", {"text": "x" * 20_001}, 422),
        ("/answers/1", {"txt": "x"}, 422),
        ("/answers/1", {"text": 5}, 422),
    ],
)
def test_bad_drafts_get_clear_422s_and_lose_nothing(
    api: Api, container: Container, path: str, body: dict[str, Any], status: int
) -> None:
    _, token = signed_up(api, container, "gu@example.com", {"academic_writing": 1})
    assessment = start(api, token)
    base = f"/api/assessments/{assessment['id']}"
    assert api.call("PUT", f"{base}/answers/1", {"text": "kept"}, token=token).status == 200
    reply = api.call("PUT", base + path, body, token=token)
    assert reply.status == status and reply.json["error"]["message"]
    assert api.call("GET", base, token=token).json["assessment"]["answers"]["1"]["text"] == "kept"


def test_unknown_modules_and_anonymous_calls_are_refused(api: Api, container: Container) -> None:
    _, token = signed_up(api, container, "ha@example.com")
    assert api.call("POST", "/api/assessments", {"module": "cooking"}, token=token).status == 422
    assert api.call("GET", "/api/assessments").status == 401
    assert api.call("POST", "/api/assessments", {"module": "academic_writing"}).status == 401


def test_responses_match_the_models_the_openapi_document_declares(api: Api, container: Container) -> None:
    from ieltsprep.edges.http.routes.accounts import ErrorBody
    from ieltsprep.edges.http.routes.assessments import (
        AssessmentListResponse,
        AssessmentResponse,
        SavedAnswerResponse,
    )

    _, token = signed_up(api, container, "io@example.com", {"academic_writing": 1, "general_writing": 1})
    container.__dict__["writing_scorer"] = NeverScorer()
    academic = start(api, token)
    AssessmentResponse.model_validate({"assessment": academic}, strict=True)
    letter = api.call("POST", "/api/assessments", {"module": "general_writing"}, token=token).json
    AssessmentResponse.model_validate(letter, strict=True)
    base = f"/api/assessments/{academic['id']}"
    saved = api.call("PUT", f"{base}/answers/1", {"text": "Some words"}, token=token).json
    SavedAnswerResponse.model_validate(saved, strict=True)
    AssessmentResponse.model_validate(api.call("POST", f"{base}/submit", token=token).json, strict=True)
    container.invoker.drain(timeout=30)
    AssessmentResponse.model_validate(api.call("GET", base, token=token).json, strict=True)  # failed, with error
    AssessmentListResponse.model_validate(api.call("GET", "/api/assessments", token=token).json, strict=True)
    ErrorBody.model_validate(api.call("POST", "/api/assessments", {"module": "general_writing"}, token=token).json)
    document = api.call("GET", "/api/openapi.json").json
    responses = document["paths"]["/api/assessments"]["post"]["responses"]
    assert responses["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/AssessmentResponse")
    assert responses["402"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_an_empty_or_non_english_submission_is_scored_with_its_flags(api: Api, container: Container) -> None:
    _, token = signed_up(api, container, "jo@example.com", {"general_writing": 1})
    base = f"/api/assessments/{start(api, token, 'general_writing')['id']}"
    french = "Ceci est une lettre écrite entièrement en français, sans un seul mot anglais. " * 6
    assert api.call("PUT", f"{base}/answers/2", {"text": french}, token=token).status == 200
    assert api.call("POST", f"{base}/submit", token=token).status == 202  # task 1 left empty
    container.invoker.drain(timeout=30)
    result = api.call("GET", base, token=token).json["assessment"]["result"]
    task1, task2 = result["tasks"]
    assert "empty" in task1["flags"] and task1["band"] <= 1
    assert "non_english" in task2["flags"] and task2["band"] <= 1


def test_a_writing_paper_has_one_sixty_minute_clock_that_runs_from_the_start(api: Api, container: Container) -> None:
    from ieltsprep.assessments.service import paper_clock

    _, token = signed_up(api, container, "clock@example.com", {"academic_writing": 1})
    assessment = start(api, token)
    assert assessment["time_limit_seconds"] == 3600
    assert 3590 <= assessment["seconds_left"] <= 3600
    stored = {"created_at": "2026-01-01T10:00:00.000Z", "tasks": assessment["tasks"]}
    started = 1767261600  # 2026-01-01T10:00:00Z
    assert paper_clock(stored, now=started + 25 * 60) == {"time_limit_seconds": 3600, "seconds_left": 35 * 60}
    assert paper_clock(stored, now=started + 2 * 3600)["seconds_left"] == 0
    assert paper_clock(stored, time_scale=0.05, now=started) == {"time_limit_seconds": 180, "seconds_left": 180}


def test_drafts_after_the_papers_clock_are_refused_with_409_time_up_and_submitting_still_works(
    api: Api, container: Container
) -> None:
    from ieltsprep.assessments.service import DRAFT_GRACE_SECONDS

    user_id, token = signed_up(api, container, "late@example.com", {"academic_writing": 1})
    container.__dict__["writing_scorer"] = NeverScorer()
    assessment = start(api, token)
    base = f"/api/assessments/{assessment['id']}"
    assert api.call("PUT", f"{base}/answers/2", {"text": "written in time"}, token=token).status == 200
    started = datetime.now(UTC) - timedelta(seconds=3600 + DRAFT_GRACE_SECONDS + 5)  # the paper began 61 minutes ago
    container.assessments.repository.update(
        user_id,
        assessment["id"],
        expect_status="in_progress",
        set={"created_at": started.isoformat(timespec="milliseconds").replace("+00:00", "Z")},
    )
    assert api.call("GET", base, token=token).json["assessment"]["seconds_left"] == 0
    late = api.call("PUT", f"{base}/answers/2", {"text": "typed after time was up"}, token=token)
    assert late.status == 409 and late.error_code == "time_up"
    assert api.call("GET", base, token=token).json["assessment"]["answers"]["2"]["text"] == "written in time"
    assert api.call("POST", f"{base}/submit", token=token).status == 202
    container.invoker.drain(timeout=30)
