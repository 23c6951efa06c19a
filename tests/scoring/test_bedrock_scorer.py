"""The bedrock engine against botocore's Stubber: realistic Converse responses, malformed ones, and retries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ieltsprep.scoring import rules
from ieltsprep.scoring.bedrock import TOOL_NAME, BedrockWritingScorer
from ieltsprep.scoring.port import ScoringFailed, WritingTask

ESSAY = (
    "Some people believe that university education should be free for everyone, while others think students "
    "should pay. In my opinion, free education brings more benefits to society.\n\n"
    "Firstly, free tuition allows talented students from poor families to study. For example, in Germany, "
    "where universities charge no fees, many young people from low-income homes become engineers and doctors. "
    "Moreover, a society with more graduates is usually richer, because skilled workers earn more and pay "
    "more taxes.\n\n"
    "On the other hand, free universities are expensive for governments. Taxpayers who never studied must pay "
    "for others, which some consider unfair. However, I believe this cost is an investment that returns to "
    "everyone through economic growth and better public services.\n\n"
    "In conclusion, although free higher education is costly, I am convinced that its advantages for equality "
    "and prosperity outweigh the disadvantages, so governments should fund it."
)
PROMPT = "Some people think university education should be free for all students. To what extent do you agree?"
KEYS = ("task_response", "coherence_cohesion", "lexical_resource", "grammatical_range_accuracy")


def _task(text: str = ESSAY) -> WritingTask:
    return WritingTask(task=2, prompt=PROMPT, text=text, min_words=250, kind="essay")


def _response(content: list[dict[str, Any]], stop: str = "tool_use") -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 2100, "outputTokens": 240, "totalTokens": 2340},
        "metrics": {"latencyMs": 2870},
    }


def _tool(criteria: Any) -> dict[str, Any]:
    return {
        "toolUse": {"toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "name": TOOL_NAME, "input": {"criteria": criteria}}
    }


def _criteria(**bands: Any) -> dict[str, Any]:
    return {
        k: {"band": bands.get(k, 7), "feedback": f"Evidence for {k}: 'free tuition allows talented students'."}
        for k in KEYS
    }


class Recorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def client() -> Iterator[Any]:
    made = boto3.client(
        "bedrock-runtime", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    yield made


def _scorer(client: Any, sleep: Recorder | None = None) -> BedrockWritingScorer:
    return BedrockWritingScorer(client, "amazon.nova-lite-v1:0", sleep=sleep or Recorder())


def test_forced_tool_result_becomes_the_api_result(client: Any) -> None:
    expected = {
        "modelId": "amazon.nova-lite-v1:0",
        "system": ANY,
        "messages": ANY,
        "inferenceConfig": {"maxTokens": ANY, "temperature": 0.0},
        "toolConfig": ANY,
    }
    with Stubber(client) as stub:
        stub.add_response(
            "converse",
            _response([{"text": "<thinking>Rating by descriptors.</thinking>"}, _tool(_criteria(lexical_resource=8))]),
            expected,
        )
        result = _scorer(client).score("academic_writing", [_task()])
        stub.assert_no_pending_responses()
    task = result.tasks[0]
    assert result.engine == "bedrock" and result.engine_version == "amazon.nova-lite-v1:0"
    assert task.criteria["lexical_resource"].band == 8
    assert "free tuition" in task.criteria["task_response"].feedback
    # The engine's essay is under 250 words: the same rule as the local engine caps the task criterion.
    assert "under_length" in task.flags and task.criteria["task_response"].band <= rules.UNDER_LENGTH_TASK_CAP
    assert task.band == rules.task_band({k: c.band for k, c in task.criteria.items()})


def test_request_forces_the_tool_with_the_result_schema(client: Any) -> None:
    request = _scorer(client).request("academic_writing", _task())
    assert request["toolConfig"]["toolChoice"] == {"tool": {"name": TOOL_NAME}}
    schema = request["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]
    assert schema["properties"]["criteria"]["required"] == list(KEYS)
    assert "Coherence and Cohesion" in request["system"][0]["text"]
    assert request["inferenceConfig"]["temperature"] == 0.0


def test_out_of_range_bands_are_clamped(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response("converse", _response([_tool(_criteria(coherence_cohesion=12, lexical_resource=-2))]))
        task = _scorer(client).score("academic_writing", [_task()]).tasks[0]
    assert task.criteria["coherence_cohesion"].band == 9
    assert task.criteria["lexical_resource"].band == 0


@pytest.mark.parametrize(
    "content",
    [
        [{"text": "Task response: 7. Coherence: 6. Lexical resource: 7. Grammar: 6."}],
        [_tool({"task_response": {"band": 7, "feedback": "ok"}})],
        [_tool(_criteria(lexical_resource="seven"))],
        [_tool(_criteria(grammatical_range_accuracy=True))],
        [_tool("not an object")],
        [{"toolUse": {"toolUseId": "x", "name": "other_tool", "input": {"criteria": _criteria()}}}],
    ],
    ids=[
        "text-instead-of-tool",
        "missing-criteria",
        "band-as-string",
        "band-as-bool",
        "criteria-wrong-type",
        "wrong-tool",
    ],
)
def test_malformed_responses_raise_scoring_failed(client: Any, content: list[dict[str, Any]]) -> None:
    with Stubber(client) as stub:
        stub.add_response("converse", _response(content, stop="end_turn"))
        with pytest.raises(ScoringFailed) as caught:
            _scorer(client).score("academic_writing", [_task()])
    assert caught.value.retryable


def test_content_filter_is_not_retryable(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response("converse", _response([{"text": "blocked"}], stop="content_filtered"))
        with pytest.raises(ScoringFailed) as caught:
            _scorer(client).score("academic_writing", [_task()])
    assert not caught.value.retryable


def test_throttling_is_retried_with_exponential_backoff(client: Any) -> None:
    sleep = Recorder()
    with Stubber(client) as stub:
        stub.add_client_error("converse", "ThrottlingException", "Too many requests", 429)
        stub.add_client_error("converse", "InternalServerException", "Internal error", 500)
        stub.add_response("converse", _response([_tool(_criteria())]))
        result = _scorer(client, sleep).score("academic_writing", [_task()])
        stub.assert_no_pending_responses()
    assert result.tasks[0].criteria["coherence_cohesion"].band == 7
    assert sleep.delays == [0.5, 1.0]


def test_persistent_throttling_fails_retryable_after_the_last_attempt(client: Any) -> None:
    sleep = Recorder()
    with Stubber(client) as stub:
        for _ in range(4):
            stub.add_client_error("converse", "ThrottlingException", "Too many requests", 429)
        with pytest.raises(ScoringFailed) as caught:
            _scorer(client, sleep).score("academic_writing", [_task()])
    assert caught.value.retryable and len(sleep.delays) == 3


def test_validation_error_is_not_retried(client: Any) -> None:
    sleep = Recorder()
    with Stubber(client) as stub:
        stub.add_client_error("converse", "ValidationException", "The model id is invalid", 400)
        with pytest.raises(ScoringFailed) as caught:
            _scorer(client, sleep).score("academic_writing", [_task()])
    assert not caught.value.retryable and sleep.delays == []


def test_band_one_cases_need_no_model_call(client: Any) -> None:
    with Stubber(client):  # no responses queued: any call would fail
        task = _scorer(client).score("academic_writing", [_task(text="Free education is good.")]).tasks[0]
    assert task.band == 1 and "too_short" in task.flags


def test_build_from_settings_uses_the_configured_model(settings: Any) -> None:
    from ieltsprep.scoring.factory import build_writing_scorer

    scorer = build_writing_scorer(settings.model_copy(update={"writing_engine": "bedrock"}))
    assert isinstance(scorer, BedrockWritingScorer)
    assert scorer.model_id == "amazon.nova-lite-v1:0"
    assert scorer.caller.client.meta.config.read_timeout == 60


def test_the_model_receives_the_measured_evidence(client: Any) -> None:
    damaged = ESSAY.replace("governments should fund it", "governments should funds it").replace(
        "more benefits", "more benifits"
    )
    request = _scorer(client).request("academic_writing", _task(damaged))
    user = request["messages"][0]["content"][0]["text"]
    evidence = user[user.index("Evidence measured") :]
    assert f"Words: {len(damaged.split())} (minimum 250)" in evidence
    assert "benifits -> benefits" in evidence
    assert 'verb_form: "funds" -> "fund"' in evidence


def test_british_spellings_are_not_reported_to_the_model_as_errors(client: Any) -> None:
    british = ESSAY.replace("Moreover, a society", "Moreover, a society that values colour and behaviour")
    user = _scorer(client).request("academic_writing", _task(british))["messages"][0]["content"][0]["text"]
    assert "Misspelt words: none found" in user


def test_without_the_grammar_checker_the_model_is_told_grammar_was_not_checked(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ieltsprep.scoring import syntax

    # The jobs Lambda package has no room for spaCy: the analysis goes on without it and says so.
    monkeypatch.setattr(syntax, "available", lambda: False)
    user = _scorer(client).request("academic_writing", _task())["messages"][0]["content"][0]["text"]
    assert "Grammar errors: not checked by software in this deployment" in user
