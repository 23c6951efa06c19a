"""Speaking scoring: measured features, the local engine's bands, the Bedrock engine through a Stubber."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ieltsprep.scoring.port import ScoringFailed
from ieltsprep.speaking.scoring import CRITERIA, LocalSpeakingScorer, measure, overall_band
from ieltsprep.speaking.scoring_bedrock import TOOL_NAME, BedrockSpeakingScorer
from ieltsprep.speaking.sessions import Turn

FLUENT = (
    "I grew up in a coastal town which was famous for its fishing industry, although these days tourism has "
    "become far more significant. What I appreciate most is the relaxed atmosphere, because people genuinely "
    "take time to talk to each other, and the scenery along the cliffs is spectacular."
)
HALTING = "Yes. I like. It is good. My town is good."


def _timed(text: str, start_ms: int, word_ms: int, gap_ms: int, prob: float) -> Turn:
    words = []
    t = start_ms
    for w in text.split():
        words.append({"word": w, "start_ms": t, "end_ms": t + word_ms, "probability": prob})
        t += word_ms + gap_ms
    return Turn("candidate", 1, text, start_ms, t, tuple(words), prob)


def _test(text: str, word_ms: int, gap_ms: int, prob: float, repeats: int = 4) -> list[Turn]:
    turns: list[Turn] = []
    for i in range(repeats):
        turns.append(Turn("examiner", 1, "Tell me about your home town.", i * 60_000, i * 60_000))
        turns.append(_timed(text, i * 60_000 + 1000, word_ms, gap_ms, prob))
    return turns


def test_metrics_come_from_word_timings() -> None:
    turn = _timed("one two three four five six", 0, 300, 100, 0.9)  # 6 words in 2.3 s, no long pauses
    m = measure([turn])
    assert m.words == 6
    assert m.speech_rate_wpm == pytest.approx(6 / (2300 / 60000), rel=0.01)
    assert m.mean_length_of_run == 6
    assert m.pause_ratio == 0
    paused = measure([_timed("one two three four", 0, 300, 700, 0.9)])
    assert paused.mean_length_of_run == 1
    assert paused.pause_ratio == pytest.approx(2100 / 3300, rel=0.01)
    assert paused.mean_confidence == pytest.approx(0.9)


def test_fluent_varied_speech_outscores_halting_speech_on_every_criterion() -> None:
    scorer = LocalSpeakingScorer()
    fluent = scorer.score(_test(FLUENT, 280, 60, 0.93))
    halting = scorer.score(_test(HALTING, 450, 900, 0.55))
    for key in CRITERIA:
        assert fluent.criteria[key].band > halting.criteria[key].band, key
    assert fluent.overall_band >= 6.5
    assert halting.overall_band <= 4.5


def test_result_has_the_api_shape() -> None:
    result = LocalSpeakingScorer().score(_test(FLUENT, 280, 60, 0.93, repeats=1)).model_dump()
    assert set(result) == {"overall_band", "engine", "engine_version", "criteria", "metrics", "transcript"}
    assert result["engine"] == "local"
    assert set(result["criteria"]) == set(CRITERIA)
    assert {"speech_rate_wpm", "mean_length_of_run", "pause_ratio"} <= set(result["metrics"])
    assert result["transcript"][1]["role"] == "candidate"
    assert set(result["transcript"][0]) == {"role", "part", "text", "start_ms", "end_ms"}
    assert "proxy" in result["criteria"]["pronunciation"]["feedback"]


def test_silence_scores_zero_with_a_reason() -> None:
    result = LocalSpeakingScorer().score([Turn("examiner", 1, "Good morning.", 0, 0)])
    assert result.overall_band == 0
    assert all("No speech" in c.feedback for c in result.criteria.values())


@pytest.mark.parametrize(
    ("bands", "expected"),
    [([6, 6, 6, 7], 6.5), ([6, 6, 7, 7], 6.5), ([7, 7, 7, 6], 7.0), ([5, 5, 5, 6], 5.5), ([5, 5, 5, 5], 5.0)],
)
def test_overall_band_rounds_to_nearest_half_upwards(bands: list[int], expected: float) -> None:
    assert overall_band(bands) == expected


def _bedrock() -> tuple[BedrockSpeakingScorer, Stubber]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return BedrockSpeakingScorer(client, "amazon.nova-lite-v1:0", max_attempts=2, sleep=lambda _s: None), Stubber(
        client
    )


def _tool_response(tool_input: dict[str, Any]) -> dict[str, Any]:
    return {
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": "t1", "name": TOOL_NAME, "input": tool_input}}],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 10, "outputTokens": 10, "totalTokens": 20},
        "metrics": {"latencyMs": 5},
    }


def test_bedrock_scorer_forces_the_tool_and_uses_its_answer() -> None:
    scorer, stubber = _bedrock()
    turns = _test(FLUENT, 280, 60, 0.93, repeats=1)
    answer = {key: {"band": 7, "feedback": f"{key} evidence"} for key in CRITERIA}
    answer["pronunciation"]["band"] = 6
    stubber.add_response("converse", _tool_response(answer), scorer.request(turns))
    with stubber:
        result = scorer.score(turns)
    stubber.assert_no_pending_responses()
    assert result.engine == "bedrock"
    assert result.overall_band == 7.0
    assert result.criteria["pronunciation"].band == 6
    request = scorer.request(turns)
    assert request["toolConfig"]["toolChoice"] == {"tool": {"name": TOOL_NAME}}
    assert "speech_rate_wpm" in request["messages"][0]["content"][0]["text"]


def test_bedrock_answer_out_of_schema_fails_retryably() -> None:
    scorer, stubber = _bedrock()
    turns = _test(FLUENT, 280, 60, 0.93, repeats=1)
    bad = {key: {"band": 12, "feedback": "x"} for key in CRITERIA}
    stubber.add_response("converse", _tool_response(bad))
    with stubber, pytest.raises(ScoringFailed) as info:
        scorer.score(turns)
    assert info.value.retryable


def test_bedrock_throttling_is_retryable_and_access_denied_is_not() -> None:
    scorer, stubber = _bedrock()
    turns = _test(FLUENT, 280, 60, 0.93, repeats=1)
    for _ in range(2):  # retried once, then given up as retryable
        stubber.add_client_error("converse", "ThrottlingException", "slow down", 429)
    stubber.add_client_error("converse", "AccessDeniedException", "no", 403)
    with stubber:
        with pytest.raises(ScoringFailed) as first:
            scorer.score(turns)
        with pytest.raises(ScoringFailed) as second:
            scorer.score(turns)
    assert first.value.retryable and not second.value.retryable


def test_container_builds_the_configured_speaking_scorer(tmp_path: Any) -> None:
    from ieltsprep.container import Container
    from ieltsprep.settings import Settings

    local = Container(Settings(stage="local", data_dir=tmp_path))
    bedrock = Container(Settings(stage="local", data_dir=tmp_path, speaking_scorer="bedrock"))
    assert isinstance(local.speaking_scorer, LocalSpeakingScorer)
    assert isinstance(bedrock.speaking_scorer, BedrockSpeakingScorer)
