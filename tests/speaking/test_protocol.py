"""The Nova Sonic event protocol: input builders, validation, output parsing, turn tracking and history rules.

Output sequences are written in the shapes of ../reference/nova_sonic.md section 3 (the real stream's fields:
sessionId/promptName/completionId on every event, additionalModelFields as a JSON string, role on textOutput).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from ieltsprep.speaking.protocol import (
    INTERRUPTED_TEXT,
    AsrDetails,
    AssistantAudio,
    AssistantAudioEnd,
    AssistantText,
    CompletionEnded,
    ContentStart,
    Failed,
    HistoryMessage,
    InputEvents,
    InputValidator,
    Interrupted,
    OutputTracker,
    ProtocolError,
    SessionConfig,
    StreamError,
    ToolRequest,
    ToolSpec,
    UnknownEvent,
    Usage,
    UserTranscript,
    UserTurnEnded,
    Word,
    closing_events,
    error_event,
    event_name,
    opening_events,
    parse_output_event,
    parse_say_instruction,
    say_instruction,
    trim_history,
)

IDS = {"sessionId": "s-1", "promptName": "p-1", "completionId": "c-1"}


def out(name: str, **body: Any) -> dict[str, Any]:
    return {"event": {name: {**IDS, **body}}}


def text_block(content_id: str, role: str, stage: str, *texts: str, stop: str = "END_TURN") -> list[dict[str, Any]]:
    return [
        out(
            "contentStart",
            contentId=content_id,
            type="TEXT",
            role=role,
            additionalModelFields=json.dumps({"generationStage": stage}),
            textOutputConfiguration={"mediaType": "text/plain"},
        ),
        *(out("textOutput", contentId=content_id, role=role, content=t) for t in texts),
        out("contentEnd", contentId=content_id, type="TEXT", stopReason=stop),
    ]


def audio_block(content_id: str, *chunks: bytes, stop: str = "END_TURN") -> list[dict[str, Any]]:
    return [
        out(
            "contentStart",
            contentId=content_id,
            type="AUDIO",
            role="ASSISTANT",
            audioOutputConfiguration={
                "mediaType": "audio/lpcm",
                "sampleRateHertz": 24000,
                "sampleSizeBits": 16,
                "encoding": "base64",
                "channelCount": 1,
            },
        ),
        *(out("audioOutput", contentId=content_id, content=base64.b64encode(c).decode()) for c in chunks),
        out("contentEnd", contentId=content_id, type="AUDIO", stopReason=stop),
    ]


def usage(total_in: int, total_out: int) -> dict[str, Any]:
    return out(
        "usageEvent",
        details={
            "delta": {"input": {"speechTokens": 10, "textTokens": 0}, "output": {"speechTokens": 5, "textTokens": 2}},
            "total": {"input": {"speechTokens": total_in, "textTokens": 0}, "output": {"speechTokens": total_out}},
        },
        totalInputTokens=total_in,
        totalOutputTokens=total_out,
        totalTokens=total_in + total_out,
    )


def feed_all(tracker: OutputTracker, events: list[dict[str, Any]]) -> list[Any]:
    return [turn for event in events for turn in tracker.feed(event)]


# --- input events --------------------------------------------------------------------------------------------


def test_opening_sequence_follows_the_documented_order_with_history_once_before_audio() -> None:
    config = SessionConfig(
        system_prompt="You are Maya, an IELTS examiner.",
        history=(HistoryMessage("USER", "My name is Ana."), HistoryMessage("ASSISTANT", "Thank you.")),
        endpointing="LOW",
        tools=(ToolSpec("next_line", "Gets the next line", {"type": "object", "properties": {}}),),
    )
    events = opening_events(config, "audio-1")
    names = [event_name(e) for e in events]
    assert names == ["sessionStart", "promptStart"] + ["contentStart", "textInput", "contentEnd"] * 3 + ["contentStart"]
    assert events[0]["event"]["sessionStart"]["turnDetectionConfiguration"] == {"endpointingSensitivity": "LOW"}
    prompt = events[1]["event"]["promptStart"]
    assert prompt["audioOutputConfiguration"]["voiceId"] == "amy"
    assert prompt["audioOutputConfiguration"]["sampleRateHertz"] == 24000
    schema = prompt["toolConfiguration"]["tools"][0]["toolSpec"]["inputSchema"]["json"]
    assert isinstance(schema, str) and json.loads(schema)["type"] == "object"
    roles = [e["event"]["contentStart"]["role"] for e in events if event_name(e) == "contentStart"]
    assert roles == ["SYSTEM", "USER", "ASSISTANT", "USER"]
    audio = events[-1]["event"]["contentStart"]
    assert audio["type"] == "AUDIO" and audio["interactive"] is True and audio["contentName"] == "audio-1"
    assert audio["audioInputConfiguration"]["sampleRateHertz"] == 16000
    assert all(e["event"][event_name(e)].get("promptName") == config.prompt_name for e in events[1:])


def test_session_config_refuses_a_voice_id_in_the_wrong_case() -> None:
    with pytest.raises(ProtocolError, match="invalid id"):
        SessionConfig(system_prompt="x", voice_id="Amy")


def test_closing_sequence_ends_audio_then_prompt_then_session() -> None:
    names = [event_name(e) for e in closing_events("p", "audio-1")]
    assert names == ["contentEnd", "promptEnd", "sessionEnd"]
    assert [event_name(e) for e in closing_events("p", None)] == ["promptEnd", "sessionEnd"]


def test_audio_input_is_base64_of_the_pcm_bytes() -> None:
    event = InputEvents("p").audio_input("audio-1", b"\x01\x00\xff\x7f")
    body = event["event"]["audioInput"]
    assert base64.b64decode(body["content"]) == b"\x01\x00\xff\x7f"
    assert body["contentName"] == "audio-1" and body["promptName"] == "p"


def test_say_instruction_round_trips_the_exact_line_and_rejects_other_text() -> None:
    line = 'Now, I\'d like you to talk about "a place you visited" for one to two minutes.'
    assert parse_say_instruction(say_instruction(line)) == line
    assert parse_say_instruction("Tell me about yourself.") is None
    with pytest.raises(ProtocolError):
        say_instruction("   ")
    triple = InputEvents("p").say("Thank you.")
    start = triple[0]["event"]["contentStart"]
    assert start["role"] == "USER" and start["interactive"] is True and start["type"] == "TEXT"


def test_tool_result_triple_carries_the_tool_use_id_and_stringified_json() -> None:
    start, result, end = InputEvents("p").tool_result("tool-7", {"line": "Thank you."})
    assert start["event"]["contentStart"]["toolResultInputConfiguration"]["toolUseId"] == "tool-7"
    assert json.loads(result["event"]["toolResult"]["content"]) == {"line": "Thank you."}
    assert end["event"]["contentEnd"]["contentName"] == start["event"]["contentStart"]["contentName"]


# --- input validation ----------------------------------------------------------------------------------------


def validator() -> tuple[InputValidator, InputEvents]:
    return InputValidator("p", "audio-1"), InputEvents("p")


def test_validator_accepts_audio_cross_modal_text_tool_results_and_the_closing_sequence() -> None:
    check, build = validator()
    check.check(build.audio_input("audio-1", b"\x00\x00"))
    for event in [*build.say("Hello."), *build.tool_result("t-1", {"ok": True}), *closing_events("p", "audio-1")]:
        check.check(event)
    assert check.closed


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"event": {"audioInput": {"promptName": "other", "contentName": "audio-1", "content": ""}}}, "promptName"),
        ({"event": {"audioInput": {"promptName": "p", "contentName": "nope", "content": ""}}}, "open audio block"),
        ({"event": {"textInput": {"promptName": "p", "contentName": "x", "content": "hi"}}}, "not an open TEXT"),
        ({"event": {"contentEnd": {"promptName": "p", "contentName": "x"}}}, "not open"),
        ({"event": {"sessionStart": {}}}, "only be sent once"),
        ({"event": {"flyAway": {}}}, "unknown input event"),
        ({"event": {}}, "must be"),
        ({"nope": 1}, "must be"),
    ],
)
def test_validator_rejects_events_that_break_the_protocol(event: dict[str, Any], message: str) -> None:
    check, _ = validator()
    with pytest.raises(ProtocolError, match=message):
        check.check(event)


def test_validator_rejects_history_after_audio_started() -> None:
    check, build = validator()
    history = build.text("ASSISTANT", "Earlier words.")
    with pytest.raises(ProtocolError, match="interactive=true"):
        check.check(history[0])
    system = build.text("SYSTEM", "New rules.", interactive=True)
    with pytest.raises(ProtocolError):
        check.check(system[0])


def test_validator_rejects_audio_after_the_audio_block_closed_and_anything_after_session_end() -> None:
    check, build = validator()
    check.check(build.content_end("audio-1"))
    with pytest.raises(ProtocolError):
        check.check(build.audio_input("audio-1", b"\x00\x00"))
    check.check(build.session_end())
    with pytest.raises(ProtocolError, match="after sessionEnd"):
        check.check(build.prompt_end())


# --- output parsing ------------------------------------------------------------------------------------------


def test_content_start_parses_additional_model_fields_from_its_json_string() -> None:
    parsed = parse_output_event(text_block("t1", "ASSISTANT", "SPECULATIVE", "Hi")[0])
    assert isinstance(parsed, ContentStart)
    assert parsed.stage == "SPECULATIVE" and parsed.role == "ASSISTANT" and parsed.type == "TEXT"


def test_malformed_known_events_are_protocol_errors_and_unknown_events_are_kept() -> None:
    with pytest.raises(ProtocolError):
        parse_output_event(out("contentStart", type="TEXT"))  # no contentId
    with pytest.raises(ProtocolError, match="base64"):
        parse_output_event(out("audioOutput", contentId="a", content="***"))
    with pytest.raises(ProtocolError, match="JSON"):
        parse_output_event(out("contentStart", contentId="x", type="TEXT", additionalModelFields="{oops"))
    assert isinstance(parse_output_event(out("somethingNew", x=1)), UnknownEvent)


def test_a_typical_turn_yields_transcript_preview_audio_and_final_text_and_keeps_only_final_history() -> None:
    pcm = b"\x01\x00" * 480
    events = [
        out("completionStart"),
        usage(100, 0),
        *text_block("u1", "USER", "FINAL", "I'm from Lisbon."),
        *text_block("a1", "ASSISTANT", "SPECULATIVE", "Thank you.", stop="PARTIAL_TURN"),
        *audio_block("au1", pcm, pcm),
        *text_block("a2", "ASSISTANT", "FINAL", "Thank you."),
        usage(160, 40),
        out("completionEnd", stopReason="END_TURN"),
    ]
    tracker = OutputTracker()
    turns = feed_all(tracker, events)
    kinds = [type(t) for t in turns]
    assert kinds == [
        Usage,
        UserTranscript,
        AssistantText,
        AssistantAudio,
        AssistantAudio,
        AssistantAudioEnd,
        AssistantText,
        Usage,
        CompletionEnded,
    ]
    assert turns[1] == UserTranscript("I'm from Lisbon.", "FINAL", None)
    assert turns[2] == AssistantText("Thank you.", "SPECULATIVE")
    assert turns[3] == AssistantAudio(pcm, 24000)
    assert tracker.history == [HistoryMessage("USER", "I'm from Lisbon."), HistoryMessage("ASSISTANT", "Thank you.")]
    assert tracker.usage is not None and tracker.usage.total_tokens == 200


def test_barge_in_is_reported_once_for_the_notice_text_and_the_interrupted_stop_reason() -> None:
    events = [
        *audio_block("au1", b"\x00\x00" * 100, stop="PARTIAL_TURN"),
        *text_block("a1", "ASSISTANT", "FINAL", "Let's talk about", INTERRUPTED_TEXT, stop="INTERRUPTED"),
        *text_block("u1", "USER", "FINAL", "Sorry, can I ask something?"),
    ]
    tracker = OutputTracker()
    turns = feed_all(tracker, events)
    assert sum(isinstance(t, Interrupted) for t in turns) == 1
    assert AssistantText("Let's talk about", "FINAL") in turns
    assert all(INTERRUPTED_TEXT not in m.text for m in tracker.history)


def test_interrupted_audio_block_alone_also_signals_barge_in() -> None:
    turns = feed_all(OutputTracker(), audio_block("au1", b"\x00\x00", stop="INTERRUPTED"))
    assert turns[-2:] == [AssistantAudioEnd("INTERRUPTED"), Interrupted()]


def test_tool_use_block_becomes_a_tool_request_with_parsed_arguments() -> None:
    events = [
        out(
            "contentStart",
            contentId="tool1",
            type="TOOL",
            role="TOOL",
            toolUseOutputConfiguration={"mediaType": "application/json"},
        ),
        out(
            "toolUse",
            contentId="tool1",
            content=json.dumps({"part": 2}),
            toolName="next_line",
            toolUseId="tu-9",
        ),
        out("contentEnd", contentId="tool1", type="TOOL", stopReason="TOOL_USE"),
    ]
    assert feed_all(OutputTracker(), events) == [ToolRequest("tu-9", "next_line", {"part": 2})]


def test_stream_errors_say_whether_a_resumed_stream_can_continue() -> None:
    tracker = OutputTracker()
    timeout = tracker.feed(error_event("ModelTimeoutException", "Model has timed out in processing the request"))
    invalid = tracker.feed(error_event("ValidationException", "Timed out waiting for input events"))
    assert timeout == [Failed("ModelTimeoutException", "Model has timed out in processing the request", True)]
    assert invalid[0] == Failed("ValidationException", "Timed out waiting for input events", False)
    assert isinstance(parse_output_event(error_event("ThrottlingException", "slow down")), StreamError)


def test_user_final_carries_word_timings_from_the_local_engine() -> None:
    asr = AsrDetails(1000, 2500, -0.2, (Word(" Hello", 1000, 1400, 0.98), Word(" there", 1450, 2400, 0.91)))
    start = {
        "event": {
            "contentStart": {
                **IDS,
                "contentId": "u1",
                "type": "TEXT",
                "role": "USER",
                "additionalModelFields": json.dumps({"generationStage": "FINAL", "asr": asr.to_fields()}),
            }
        }
    }
    events = [
        start,
        out("textOutput", contentId="u1", role="USER", content="Hello there"),
        out("contentEnd", contentId="u1", type="TEXT", stopReason="END_TURN"),
    ]
    (turn,) = feed_all(OutputTracker(), events)
    assert isinstance(turn, UserTranscript) and turn.asr == asr


def test_say_instructions_echoed_as_user_text_are_neither_history_nor_candidate_turns() -> None:
    tracker = OutputTracker()
    turns = feed_all(tracker, text_block("u1", "USER", "FINAL", say_instruction("Good morning.")))
    assert tracker.history == [] and turns == []


def test_a_user_turn_announced_at_its_end_yields_the_end_at_once_and_its_words_when_the_block_closes() -> None:
    asr = AsrDetails(1000, 2500, -0.2, (Word(" Hello", 1000, 1400, 0.98), Word(" there", 1450, 2400, 0.91)))
    announced = UserTurnEnded(800, 2500, 1300)
    start = out(
        "contentStart",
        contentId="u1",
        type="TEXT",
        role="USER",
        additionalModelFields=json.dumps({"generationStage": "FINAL", "turn": announced.to_fields()}),
    )
    tracker = OutputTracker()
    assert tracker.feed(start) == [announced]
    assert tracker.feed(out("textOutput", contentId="u1", role="USER", content="Hello there")) == []
    end = out(
        "contentEnd",
        contentId="u1",
        type="TEXT",
        stopReason="END_TURN",
        additionalModelFields=json.dumps({"asr": asr.to_fields()}),
    )
    assert tracker.feed(end) == [UserTranscript("Hello there", "FINAL", asr)]
    assert tracker.history == [HistoryMessage("USER", "Hello there")]


def test_an_announced_turn_that_closes_without_words_yields_an_empty_final_and_no_history() -> None:
    fields = json.dumps({"generationStage": "FINAL", "turn": {"startMs": 0, "endMs": 400, "voicedMs": 300}})
    events = [
        out("contentStart", contentId="u1", type="TEXT", role="USER", additionalModelFields=fields),
        out("contentEnd", contentId="u1", type="TEXT", stopReason="END_TURN"),
    ]
    tracker = OutputTracker()
    assert feed_all(tracker, events) == [UserTurnEnded(0, 400, 300), UserTranscript("", "FINAL", None)]
    assert tracker.history == []


# --- history rules -------------------------------------------------------------------------------------------


def test_trim_history_merges_same_role_drops_leading_assistant_and_keeps_the_newest_within_budget() -> None:
    messages = [
        HistoryMessage("ASSISTANT", "Good morning."),
        HistoryMessage("USER", "Hello."),
        HistoryMessage("USER", "I am Ana."),
        HistoryMessage("ASSISTANT", "Where are you from?"),
        HistoryMessage("USER", "Lisbon."),
        HistoryMessage("ASSISTANT", "  "),
    ]
    assert trim_history(messages) == [
        HistoryMessage("USER", "Hello. I am Ana."),
        HistoryMessage("ASSISTANT", "Where are you from?"),
        HistoryMessage("USER", "Lisbon."),
    ]
    # With a small budget the oldest go first, and the kept history still starts with the candidate.
    assert trim_history(messages, max_bytes=len("Where are you from?Lisbon.")) == [HistoryMessage("USER", "Lisbon.")]
