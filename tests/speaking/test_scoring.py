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


def _timed(text: str, start_ms: int, word_ms: int, gap_ms: int, prob: float, part: int = 1) -> Turn:
    words = []
    t = start_ms
    for w in text.split():
        words.append({"word": w, "start_ms": t, "end_ms": t + word_ms, "probability": prob})
        t += word_ms + gap_ms
    return Turn("candidate", part, text, start_ms, t, tuple(words), prob)


def _test(text: str, word_ms: int, gap_ms: int, prob: float, repeats: int = 4) -> list[Turn]:
    turns: list[Turn] = []
    for i in range(repeats):
        part = min(3, 1 + i * 3 // repeats)
        turns.append(Turn("examiner", part, "Tell me about your home town.", i * 60_000, i * 60_000))
        turns.append(_timed(text, i * 60_000 + 1000, word_ms, gap_ms, prob, part=part))
    return turns


def _untimed(text: str, part: int, voiced: tuple[tuple[int, int], ...]) -> Turn:
    """A Nova-shaped turn: words without timings or confidence; the voice measured in its audio."""
    return Turn("candidate", part, text, voiced[0][0], voiced[-1][1], (), None, voiced)


def _complete(answers: list[str], word_ms: int = 280, gap_ms: int = 60) -> list[Turn]:
    """A test through all three parts, each answer after its own question."""
    turns: list[Turn] = []
    for i, (part, question) in enumerate(QUESTIONS):
        turns.append(Turn("examiner", part, question, i * 40_000, i * 40_000 + 3000))
        turns.append(_timed(answers[i], i * 40_000 + 4000, word_ms, gap_ms, 0.9, part=part))
    return turns


QUESTIONS = [
    (1, "Let's talk about your home town. Where is your home town?"),
    (1, "What do you like most about living there?"),
    (1, "Let's talk about mornings. What do you usually do in the first hour after you wake up?"),
    (2, "Describe a teacher who helped you. You should say: who the teacher was, what they taught you."),
    (3, "Do you think teachers should be paid more? Why?"),
    (3, "How has technology changed the way children learn at school?"),
]
ANSWERS = [
    "I come from Leeds, which is a fairly big city in the north of England, not far from the hills of Yorkshire.",
    "What I like most about living there is the friendly people and the parks, because there is always something "
    "to do at the weekend.",
    "I usually make a cup of coffee and check my phone, and then I take a shower and get dressed before breakfast.",
    "The teacher who helped me most was my English teacher at secondary school. She taught me how to write essays "
    "and she always encouraged me to read novels, which gave me a love of literature that I still have today.",
    "Yes, I think teachers should be paid more, because their job is extremely demanding and they shape the "
    "future of the whole society, so good salaries would attract talented people.",
    "Technology has changed learning a lot, since children now use tablets and online videos in class, although "
    "some teachers worry that screens make it harder for pupils to concentrate.",
]


def test_metrics_come_from_word_timings() -> None:
    turn = _timed("one two three four five six", 0, 300, 100, 0.9)  # 6 words in 2.3 s, no long pauses
    m = measure([turn])
    assert m.words == 6 and m.timing == "recogniser"
    assert m.speech_rate_wpm == pytest.approx(6 / (2300 / 60000), rel=0.01)
    assert m.mean_length_of_run == 6
    assert m.pause_ratio == 0
    paused = measure([_timed("one two three four", 0, 300, 700, 0.9)])
    assert paused.mean_length_of_run == 1
    assert paused.pause_ratio == pytest.approx(2100 / 3300, rel=0.01)
    assert paused.mean_confidence == pytest.approx(0.9)


def test_timing_comes_from_the_voice_in_the_audio_when_there_is_no_word_timing() -> None:
    # Ten words in three voiced stretches over 6 s, with two pauses of a second.
    turn = _untimed("one two three four five six seven eight nine ten", 1, ((0, 1000), (2000, 4000), (5000, 6000)))
    m = measure([turn])
    assert m.timing == "audio"
    assert m.speaking_seconds == pytest.approx(6.0)
    assert m.speech_rate_wpm == pytest.approx(100.0)
    assert m.pauses_per_minute == pytest.approx(20.0)
    assert m.pause_ratio == pytest.approx(2 / 6)
    assert m.longest_run_words == pytest.approx(5.0)  # words shared out by voiced time: 2.5, 5, 2.5
    assert m.mean_confidence is None


def test_a_turn_with_neither_voice_nor_word_timings_is_not_timed() -> None:
    m = measure([Turn("candidate", 1, "I like it a lot", 5000, 5000)])
    assert m.speech_rate_wpm is None and m.speaking_seconds is None and m.timing is None
    assert "speech_rate_wpm" not in m.public()


def test_fluent_varied_speech_outscores_halting_speech_on_every_criterion() -> None:
    scorer = LocalSpeakingScorer()
    fluent = scorer.score(_test(FLUENT, 280, 60, 0.93), complete=True)
    halting = scorer.score(_test(HALTING, 450, 900, 0.55), complete=True)
    for key in CRITERIA:
        assert (fluent.criteria[key].band or 0) > (halting.criteria[key].band or 0), key
    assert fluent.overall_band is not None and fluent.overall_band >= 6.5
    assert halting.overall_band is None and halting.provisional_band is not None  # under a minute of speech
    assert halting.provisional_band <= 4.5


def test_result_has_the_api_shape() -> None:
    result = LocalSpeakingScorer().score(_complete(ANSWERS), complete=True).model_dump()
    assert set(result) == {
        "overall_band",
        "provisional_band",
        "engine",
        "engine_version",
        "evidence",
        "criteria",
        "figures",
        "work_on",
        "relevance",
        "metrics",
        "transcript",
    }
    assert result["engine"] == "local"
    assert set(result["evidence"]) == {"complete", "parts_taken", "candidate_seconds", "candidate_words", "missing"}
    assert set(result["criteria"]) == set(CRITERIA)
    assert set(result["criteria"]["pronunciation"]) == {"band", "feedback", "measured", "provisional"}
    assert {"speech_rate_wpm", "mean_length_of_run", "pause_ratio"} <= set(result["metrics"])
    assert result["transcript"][1]["role"] == "candidate"
    assert set(result["transcript"][0]) == {"role", "part", "text", "start_ms", "end_ms", "unsure"}
    assert "proxy" in result["criteria"]["pronunciation"]["feedback"]
    assert 4 <= len(result["figures"]) <= 6
    for figure in result["figures"]:
        assert set(figure) == {"key", "label", "value", "unit", "band_6", "band_7", "better"}
        better = (
            figure["band_7"] > figure["band_6"] if figure["better"] == "higher" else figure["band_7"] < figure["band_6"]
        )
        assert better, figure
    assert {f["key"] for f in result["figures"]} >= {"speech_rate_wpm", "pauses_per_minute", "longest_run_words"}


def test_a_complete_test_with_a_minute_of_speech_gets_a_band() -> None:
    result = LocalSpeakingScorer().score(_complete(ANSWERS, word_ms=350, gap_ms=100), complete=True)
    assert result.evidence.complete and result.evidence.parts_taken == [1, 2, 3]
    assert result.evidence.candidate_seconds >= 60 and result.evidence.missing == []
    assert result.overall_band is not None and result.provisional_band is None
    assert not any(c.provisional for c in result.criteria.values())


def test_a_test_stopped_in_part_1_gets_a_provisional_band_that_says_what_was_missing() -> None:
    turns = _complete(ANSWERS, word_ms=350, gap_ms=100)[:6]  # three Part 1 answers, then stopped
    result = LocalSpeakingScorer().score(turns, complete=False)
    assert result.overall_band is None and result.provisional_band is not None
    assert result.evidence.parts_taken == [1] and not result.evidence.complete
    assert "Part 2 and Part 3 were not taken." in result.evidence.missing
    assert all(c.provisional for c in result.criteria.values() if c.band is not None)


def test_under_a_minute_of_speech_gets_a_provisional_band_even_when_complete() -> None:
    result = LocalSpeakingScorer().score(_complete(ANSWERS, word_ms=150, gap_ms=20), complete=True)
    assert result.evidence.candidate_seconds < 60
    assert result.overall_band is None and result.provisional_band is not None
    assert any("a band needs at least 60" in m for m in result.evidence.missing)


def test_almost_no_speech_gets_no_band_at_all() -> None:
    turns = [Turn("examiner", 1, "Hello.", 0, 0), _timed("Anna Smith", 1000, 300, 100, 0.9)]
    result = LocalSpeakingScorer().score(turns, complete=False)
    assert result.overall_band is None and result.provisional_band is None
    assert all(c.band is None for c in result.criteria.values())
    assert any("too little to mark" in m for m in result.evidence.missing)
    assert result.work_on == []
    silent = LocalSpeakingScorer().score([Turn("examiner", 1, "Good morning.", 0, 0)], complete=False)
    assert silent.overall_band is None and silent.provisional_band is None


def test_pronunciation_is_not_measured_without_recogniser_confidence_and_stays_out_of_the_band() -> None:
    turns: list[Turn] = []
    for i, (part, question) in enumerate(QUESTIONS):
        turns.append(Turn("examiner", part, question, i * 40_000, i * 40_000 + 3000))
        start = i * 40_000 + 4000
        turns.append(_untimed(ANSWERS[i], part, ((start, start + 6000), (start + 6400, start + 14_000))))
    result = LocalSpeakingScorer().score(turns, complete=True)
    pronunciation = result.criteria["pronunciation"]
    assert pronunciation.band is None and not pronunciation.measured
    assert "Not measured" in pronunciation.feedback
    bands = [result.criteria[k].band for k in CRITERIA if k != "pronunciation"]
    assert all(b is not None for b in bands)
    assert result.overall_band == overall_band([b for b in bands if b is not None])
    assert "mean_confidence" not in result.metrics
    # The same answers with recogniser confidence are measured: a low confidence gives a lower band, not a constant.
    bands = []
    for prob in (0.4, 0.95):
        confident = [
            t if t.role == "examiner" else Turn(t.role, t.part, t.text, t.start_ms, t.end_ms, t.words, prob, t.voiced)
            for t in turns
        ]
        measured = LocalSpeakingScorer().score(confident, complete=True).criteria["pronunciation"]
        assert measured.measured and measured.band is not None
        bands.append(measured.band)
    assert bands[0] < bands[1]


def test_answers_to_other_questions_are_named_and_limit_fluency_and_coherence() -> None:
    # The same recorded answers (words and timings), played once after the questions they answer and once after
    # questions they do not answer.
    matched = _complete(ANSWERS, word_ms=350, gap_ms=100)
    rotated = [QUESTIONS[(i + 3) % len(QUESTIONS)][1] for i in range(len(QUESTIONS))]
    mismatched = [
        Turn(t.role, t.part, rotated[i // 2], t.start_ms, t.end_ms) if t.role == "examiner" else t
        for i, t in enumerate(matched)
    ]
    scorer = LocalSpeakingScorer()
    good = scorer.score(matched, complete=True)
    bad = scorer.score(mismatched, complete=True)
    assert all(r.verdict == "relevant" for r in good.relevance), good.relevance
    assert sum(r.verdict != "relevant" for r in bad.relevance) >= len(bad.relevance) / 2, bad.relevance
    good_fc, bad_fc = good.criteria["fluency_coherence"].band, bad.criteria["fluency_coherence"].band
    assert good_fc is not None and bad_fc is not None and bad_fc <= good_fc - 1
    assert "did not answer" in bad.criteria["fluency_coherence"].feedback
    assert bad.work_on[0].title == "Answer the question you are asked"
    assert bad.work_on[0].quote.rstrip(".").rstrip() in " ".join(a for a in ANSWERS) or bad.work_on[0].quote.endswith(
        "..."
    )


def test_a_memorised_answer_given_to_two_questions_is_named() -> None:
    speech = ANSWERS[3]
    turns = _complete([speech, *ANSWERS[1:3], speech, *ANSWERS[4:]], word_ms=350, gap_ms=100)
    result = LocalSpeakingScorer().score(turns, complete=True)
    assert [r.verdict for r in result.relevance].count("memorised") == 2


def test_work_on_quotes_the_candidates_own_words() -> None:
    answers = [
        "Good.",
        "It is good, the people is good and the food is good, it is a good place.",
        *ANSWERS[2:],
    ]
    result = LocalSpeakingScorer().score(_complete(answers, word_ms=350, gap_ms=100), complete=True)
    said = " ".join(answers)
    assert len(result.work_on) == 3
    for item in result.work_on:
        assert item.quote.strip(".") in said or all(part in said for part in item.quote.split("...") if part), item
    titles = [w.title for w in result.work_on]
    assert "Use more precise words" in titles or "Develop your answers" in titles


def test_unsure_words_are_marked_in_the_transcript() -> None:
    turn = Turn(
        "candidate",
        1,
        "I live in Reykjavik now",
        0,
        2000,
        tuple(
            {"word": w, "start_ms": i * 400, "end_ms": i * 400 + 300, "probability": p}
            for i, (w, p) in enumerate([("I", 0.9), ("live", 0.9), ("in", 0.9), ("Reykjavik", 0.3), ("now", 0.8)])
        ),
    )
    result = LocalSpeakingScorer().score([Turn("examiner", 1, "Where do you live?", 0, 0), turn], complete=False)
    assert result.transcript[1].unsure == [{"start": 10, "end": 19}]


def test_a_pluggable_grammar_finder_supplies_the_errors() -> None:
    def finder(text: str) -> list[dict[str, object]]:
        at = text.find("people is")
        found = {"start": at, "end": at + 9, "type": "agreement", "message": "subject-verb agreement error"}
        return [{**found, "suggestion": "people are"}] if at >= 0 else []

    answers = ["The people is friendly there and I like them a lot because they help everyone.", *ANSWERS[1:]]
    result = LocalSpeakingScorer(find_errors=finder).score(_complete(answers, 350, 100), complete=True)
    assert result.metrics["errors_per_100_words"] > 0
    grammar = [w for w in result.work_on if w.title == "Check your grammar"]
    assert grammar and "people is" in grammar[0].quote and 'better: "people are"' in grammar[0].advice


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
    turns = _complete(ANSWERS, 350, 100)
    answer: dict[str, Any] = {key: {"band": 7, "feedback": f"{key} evidence"} for key in CRITERIA}
    answer["pronunciation"]["band"] = 6
    answer["off_topic_answers"] = []
    stubber.add_response("converse", _tool_response(answer), scorer.request(turns))
    with stubber:
        result = scorer.score(turns, complete=True)
    stubber.assert_no_pending_responses()
    assert result.engine == "bedrock"
    assert result.overall_band == 7.0
    assert result.criteria["pronunciation"].band == 6
    request = scorer.request(turns)
    assert request["toolConfig"]["toolChoice"] == {"tool": {"name": TOOL_NAME}}
    text = request["messages"][0]["content"][0]["text"]
    assert "speech_rate_wpm" in text and "mean_confidence" in text


def test_bedrock_gets_only_measured_evidence_and_cannot_invent_pronunciation_or_ignore_relevance() -> None:
    scorer, stubber = _bedrock()
    turns = [
        t
        if t.role == "examiner"
        else Turn(t.role, t.part, t.text, t.start_ms, t.end_ms, (), None, ((t.start_ms, t.end_ms),))
        for t in _complete(ANSWERS, 350, 100)
    ]
    request = scorer.request(turns)
    text = request["messages"][0]["content"][0]["text"]
    assert "mean_confidence" not in text and "No recogniser confidence was measured" in text
    answer: dict[str, Any] = {key: {"band": 8, "feedback": f"{key} evidence"} for key in CRITERIA}
    answer["off_topic_answers"] = [{"question": QUESTIONS[i][1], "quote": ANSWERS[i][:30]} for i in range(3)]
    stubber.add_response("converse", _tool_response(answer))
    with stubber:
        result = scorer.score(turns, complete=True)
    assert result.criteria["pronunciation"].band is None and not result.criteria["pronunciation"].measured
    assert result.criteria["fluency_coherence"].band == 4  # half the answers off the question
    assert result.overall_band == overall_band([4, 8, 8])


def test_the_bedrock_speaking_scorer_has_its_own_model_setting(tmp_path: Any) -> None:
    from ieltsprep.settings import Settings

    settings = Settings(
        stage="local", data_dir=tmp_path, bedrock_speaking_model_id="amazon.nova-pro-v1:0", bedrock_region="us-east-1"
    )
    assert BedrockSpeakingScorer.from_settings(settings).request([])["modelId"] == "amazon.nova-pro-v1:0"


def test_bedrock_answer_out_of_schema_fails_retryably() -> None:
    scorer, stubber = _bedrock()
    turns = _test(FLUENT, 280, 60, 0.93, repeats=1)
    bad = {key: {"band": 12, "feedback": "x"} for key in CRITERIA}
    stubber.add_response("converse", _tool_response(bad))
    with stubber, pytest.raises(ScoringFailed) as info:
        scorer.score(turns, complete=True)
    assert info.value.retryable


def test_bedrock_throttling_is_retryable_and_access_denied_is_not() -> None:
    scorer, stubber = _bedrock()
    turns = _test(FLUENT, 280, 60, 0.93, repeats=1)
    for _ in range(2):  # retried once, then given up as retryable
        stubber.add_client_error("converse", "ThrottlingException", "slow down", 429)
    stubber.add_client_error("converse", "AccessDeniedException", "no", 403)
    with stubber:
        with pytest.raises(ScoringFailed) as first:
            scorer.score(turns, complete=True)
        with pytest.raises(ScoringFailed) as second:
            scorer.score(turns, complete=True)
    assert first.value.retryable and not second.value.retryable


def test_container_builds_the_configured_speaking_scorer(tmp_path: Any) -> None:
    from ieltsprep.container import Container
    from ieltsprep.settings import Settings

    local = Container(Settings(stage="local", data_dir=tmp_path))
    bedrock = Container(Settings(stage="local", data_dir=tmp_path, speaking_scorer="bedrock"))
    assert isinstance(local.speaking_scorer, LocalSpeakingScorer)
    assert isinstance(bedrock.speaking_scorer, BedrockSpeakingScorer)


def test_bedrock_gives_no_band_without_a_model_call_when_almost_nothing_was_said() -> None:
    scorer, stubber = _bedrock()
    turns = [Turn("examiner", 1, "Hello.", 0, 0), _timed("Anna Smith", 1000, 300, 100, 0.9)]
    with stubber:  # no response queued: a model call would fail the test
        result = scorer.score(turns, complete=False)
    assert result.overall_band is None and result.provisional_band is None
    assert all(c.band is None for c in result.criteria.values())
