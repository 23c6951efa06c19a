"""The Nova Sonic adapter's event handling, against a fake bidirectional stream (no SDK, no network).

The fake plays recorded-shape output sequences (../reference/nova_sonic.md section 3), including INTERRUPTED, tool
use, usage and the SDK's error members, and records what the adapter sends.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ieltsprep.adapters.speech.nova_sonic import NovaSonicEngine, NovaSonicSession, SonicStreamError, bedrock_connector
from ieltsprep.errors import ServiceUnavailable
from ieltsprep.settings import Settings
from ieltsprep.speaking.protocol import (
    EXAMINER_RULES,
    INTERRUPTED_TEXT,
    HistoryMessage,
    InputEvents,
    Interrupted,
    OutputTracker,
    ProtocolError,
    SessionConfig,
    ToolRequest,
    Usage,
    UserTranscript,
    event_body,
    event_name,
    say_instruction,
)


class FakeStream:
    """Records sent events; returns scripted outputs (bytes, a SonicStreamError, or None for the end)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.outputs: asyncio.Queue[bytes | SonicStreamError | None] = asyncio.Queue()
        self.closed = False

    async def send(self, payload: bytes) -> None:
        if self.closed:
            raise RuntimeError("stream closed")
        self.sent.append(json.loads(payload))

    async def receive(self) -> bytes | None:
        item = await self.outputs.get()
        if isinstance(item, SonicStreamError):
            raise item
        return item

    async def close(self) -> None:
        self.closed = True

    def emit(self, *events: dict[str, Any]) -> None:
        for event in events:
            self.outputs.put_nowait(json.dumps(event).encode())

    def names(self) -> list[str]:
        return [event_name(e) for e in self.sent]


class Connector:
    def __init__(self) -> None:
        self.streams: list[FakeStream] = []

    async def __call__(self) -> FakeStream:
        stream = FakeStream()
        self.streams.append(stream)
        return stream


IDS = {"sessionId": "s", "promptName": "p", "completionId": "c"}


def out(name: str, **body: Any) -> dict[str, Any]:
    return {"event": {name: {**IDS, **body}}}


def text_block(cid: str, role: str, stage: str, *texts: str, stop: str = "END_TURN") -> list[dict[str, Any]]:
    return [
        out(
            "contentStart",
            contentId=cid,
            type="TEXT",
            role=role,
            additionalModelFields=json.dumps({"generationStage": stage}),
        ),
        *(out("textOutput", contentId=cid, role=role, content=t) for t in texts),
        out("contentEnd", contentId=cid, type="TEXT", stopReason=stop),
    ]


def audio_block(cid: str, pcm: bytes, stop: str = "END_TURN") -> list[dict[str, Any]]:
    return [
        out(
            "contentStart",
            contentId=cid,
            type="AUDIO",
            role="ASSISTANT",
            audioOutputConfiguration={"sampleRateHertz": 24000},
        ),
        out("audioOutput", contentId=cid, content=base64.b64encode(pcm).decode()),
        out("contentEnd", contentId=cid, type="AUDIO", stopReason=stop),
    ]


def session_audio_name(stream: FakeStream) -> str:
    """The contentName the adapter's audio events use (from the closing contentEnd)."""
    closing = [e for e in stream.sent if event_name(e) == "contentEnd"][-1]
    return str(closing["event"]["contentEnd"]["contentName"])


def settings() -> Settings:
    return Settings(stage="local", speech_engine="nova-sonic", nova_sonic_voice="amy")


def run(
    body: Callable[[NovaSonicSession, Connector, list[dict[str, Any]]], Awaitable[None]],
    *,
    config: SessionConfig | None = None,
    rollover: float = 60.0,
    hard_rollover: float = 120.0,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Connector, list[dict[str, Any]]]:
    connector = Connector()
    received: list[dict[str, Any]] = []

    async def main() -> None:
        engine = NovaSonicEngine(
            settings(), connect=connector, rollover_seconds=rollover, hard_rollover_seconds=hard_rollover, clock=clock
        )
        session = await engine.open(config or SessionConfig(system_prompt="You are Maya."))

        async def read() -> None:
            async for event in session.events():
                received.append(event)

        reader = asyncio.create_task(read())
        try:
            await asyncio.wait_for(body(session, connector, received), timeout=10)
        finally:
            await session.close()
            await asyncio.wait_for(reader, timeout=5)

    asyncio.run(main())
    return connector, received


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


def test_open_sends_the_opening_sequence_with_the_configured_voice_and_our_examiner_rules() -> None:
    history = (HistoryMessage("ASSISTANT", "Hello."), HistoryMessage("USER", "Hi, I'm Ana."))

    async def body(session: NovaSonicSession, connector: Connector, _: list[dict[str, Any]]) -> None:
        return None

    connector, _ = run(body, config=SessionConfig(system_prompt="You are Maya.", history=history))
    (stream,) = connector.streams
    names = stream.names()
    assert names[:2] == ["sessionStart", "promptStart"]
    assert stream.sent[1]["event"]["promptStart"]["audioOutputConfiguration"]["voiceId"] == "amy"
    system = stream.sent[3]["event"]["textInput"]["content"]
    assert system.startswith("You are Maya.") and EXAMINER_RULES in system
    roles = [e["event"]["contentStart"]["role"] for e in stream.sent if event_name(e) == "contentStart"]
    # The leading ASSISTANT history message is dropped; the last USER block is the audio block.
    assert roles == ["SYSTEM", "USER", "USER"]
    starts = [e["event"]["contentStart"] for e in stream.sent if event_name(e) == "contentStart"]
    assert [s["type"] for s in starts] == ["TEXT", "TEXT", "AUDIO"]
    assert starts[-1]["contentName"] == session_audio_name(stream)
    assert names[-3:] == ["contentEnd", "promptEnd", "sessionEnd"]  # closed in the documented order
    assert stream.closed


def test_input_events_are_validated_and_forwarded_as_json() -> None:
    async def body(session: NovaSonicSession, connector: Connector, _: list[dict[str, Any]]) -> None:
        build = InputEvents(session.prompt_name)
        await session.send(build.audio_input(session.audio_content_name, b"\x01\x00" * 256))
        for event in build.say("Good morning."):
            await session.send(event)
        with pytest.raises(ProtocolError):
            await session.send(build.text("ASSISTANT", "late history")[0])
        broken = build.audio_input(session.audio_content_name, b"")
        broken["event"]["audioInput"]["content"] = "%%%"
        with pytest.raises(ProtocolError, match="base64"):
            await session.send(broken)

    connector, _ = run(body)
    sent = connector.streams[0].sent
    audio = [e for e in sent if event_name(e) == "audioInput"]
    assert len(audio) == 1 and base64.b64decode(audio[0]["event"]["audioInput"]["content"]) == b"\x01\x00" * 256
    texts = [e["event"]["textInput"]["content"] for e in sent if event_name(e) == "textInput"]
    assert say_instruction("Good morning.") in texts
    assert "late history" not in texts


def test_output_events_pass_through_in_order_including_tool_use_usage_and_barge_in() -> None:
    script = [
        out("completionStart"),
        *text_block("u1", "USER", "FINAL", "I'm from Porto."),
        out(
            "contentStart",
            contentId="t1",
            type="TOOL",
            role="TOOL",
            toolUseOutputConfiguration={"mediaType": "application/json"},
        ),
        out("toolUse", contentId="t1", content='{"q": 1}', toolName="lookup", toolUseId="tu-1"),
        out("contentEnd", contentId="t1", type="TOOL", stopReason="TOOL_USE"),
        *text_block("a1", "ASSISTANT", "SPECULATIVE", "Thank you.", stop="PARTIAL_TURN"),
        *audio_block("au1", b"\x00\x01" * 100, stop="PARTIAL_TURN"),
        *text_block("a2", "ASSISTANT", "FINAL", INTERRUPTED_TEXT, stop="INTERRUPTED"),
        out("usageEvent", totalInputTokens=10, totalOutputTokens=5, totalTokens=15, details={}),
    ]

    async def body(session: NovaSonicSession, connector: Connector, received: list[dict[str, Any]]) -> None:
        connector.streams[0].emit(*script)
        await until(lambda: len(received) == len(script))

    _, received = run(body)
    assert received[: len(script)] == script
    tracker = OutputTracker()
    turns = [t for e in received for t in tracker.feed(e)]
    assert UserTranscript("I'm from Porto.", "FINAL") in turns
    assert ToolRequest("tu-1", "lookup", {"q": 1}) in turns
    assert sum(isinstance(t, Interrupted) for t in turns) == 1
    assert any(isinstance(t, Usage) and t.total_tokens == 15 for t in turns)


def test_a_validation_error_member_ends_the_session_with_an_error_event() -> None:
    closed_input_refused: list[bool] = []

    async def body(session: NovaSonicSession, connector: Connector, received: list[dict[str, Any]]) -> None:
        connector.streams[0].outputs.put_nowait(
            SonicStreamError("ValidationException", "Timed out waiting for input events")
        )
        await until(lambda: any(event_name(e) == "error" for e in received))
        try:
            await session.send(InputEvents(session.prompt_name).audio_input(session.audio_content_name, b"\x00\x00"))
        except ProtocolError:
            closed_input_refused.append(True)

    connector, received = run(body)
    errors = [event_body(e) for e in received if event_name(e) == "error"]
    assert errors == [{"code": "ValidationException", "message": "Timed out waiting for input events"}]
    assert len(connector.streams) == 1  # not resumable: no new stream
    assert closed_input_refused


def test_a_model_timeout_resumes_on_a_new_stream_with_final_history_and_unheard_audio() -> None:
    async def body(session: NovaSonicSession, connector: Connector, received: list[dict[str, Any]]) -> None:
        first = connector.streams[0]
        build = InputEvents(session.prompt_name)
        first.emit(
            *text_block("a0", "ASSISTANT", "FINAL", "Can you tell me your full name?"),
            *text_block("u1", "USER", "FINAL", "Ana Silva."),
            *text_block("a1", "ASSISTANT", "SPECULATIVE", "Thank you, Ana.", stop="PARTIAL_TURN"),
            *text_block("a2", "ASSISTANT", "FINAL", "Thank you, Ana."),
        )
        await until(lambda: len(received) >= 12)
        await session.send(build.audio_input(session.audio_content_name, b"\x05\x00" * 160))
        first.outputs.put_nowait(SonicStreamError("ModelTimeoutException", "Model has timed out"))
        await until(
            lambda: (
                len(connector.streams) == 2 and any(event_name(e) == "audioInput" for e in connector.streams[1].sent)
            )
        )
        await session.send(build.audio_input(session.audio_content_name, b"\x06\x00" * 160))
        connector.streams[1].emit(*text_block("u2", "USER", "FINAL", "I'm from Porto."))
        await until(lambda: len(received) >= 15)

    connector, received = run(body)
    assert not any(event_name(e) == "error" for e in received)
    first, second = connector.streams
    assert first.closed
    history = [
        (e["event"]["contentStart"]["role"], n["event"]["textInput"]["content"])
        for e, n in zip(second.sent, second.sent[1:], strict=False)
        if event_name(e) == "contentStart" and event_name(n) == "textInput"
    ]
    assert [h for h in history if h[0] != "SYSTEM"] == [("USER", "Ana Silva."), ("ASSISTANT", "Thank you, Ana.")]
    audio = [
        base64.b64decode(e["event"]["audioInput"]["content"]) for e in second.sent if event_name(e) == "audioInput"
    ]
    assert audio == [b"\x05\x00" * 160, b"\x06\x00" * 160]  # the unheard audio was replayed, then new audio follows
    assert UserTranscript("I'm from Porto.", "FINAL") in [t for e in received for t in OutputTracker().feed(e)] or any(
        event_body(e).get("content") == "I'm from Porto." for e in received
    )


def test_invalid_event_bytes_are_treated_as_a_broken_stream_and_resumed() -> None:
    async def body(session: NovaSonicSession, connector: Connector, received: list[dict[str, Any]]) -> None:
        connector.streams[0].outputs.put_nowait(b"\x00\xffnot json")
        await until(lambda: len(connector.streams) == 2)

    _, received = run(body)
    assert not any(event_name(e) == "error" for e in received)


def test_repeated_failures_give_up_with_an_error_after_the_resume_budget() -> None:
    async def body(session: NovaSonicSession, connector: Connector, received: list[dict[str, Any]]) -> None:
        for opened in range(1, 5):
            await until(lambda n=opened: len(connector.streams) == n)
            connector.streams[-1].outputs.put_nowait(SonicStreamError("InternalServerException", "boom"))
        await until(lambda: any(event_name(e) == "error" for e in received))

    connector, received = run(body)
    assert [event_body(e)["code"] for e in received if event_name(e) == "error"] == ["InternalServerException"]
    assert len(connector.streams) == 4  # the first stream and three resumptions


def test_the_stream_rolls_over_at_a_quiet_moment_before_its_lifetime_ends() -> None:
    async def body(session: NovaSonicSession, connector: Connector, received: list[dict[str, Any]]) -> None:
        first = connector.streams[0]
        first.emit(*text_block("a0", "ASSISTANT", "FINAL", "Let's talk about your home."))
        # The model starts speaking: an open block keeps the session from switching mid-sentence.
        first.emit(
            out(
                "contentStart",
                contentId="au",
                type="AUDIO",
                role="ASSISTANT",
                audioOutputConfiguration={"sampleRateHertz": 24000},
            )
        )
        await asyncio.sleep(0.3)
        assert len(connector.streams) == 1
        first.emit(out("contentEnd", contentId="au", type="AUDIO", stopReason="END_TURN"))
        await until(lambda: len(connector.streams) == 2)
        build = InputEvents(session.prompt_name)
        await session.send(build.audio_input(session.audio_content_name, b"\x07\x00" * 10))

    connector, _ = run(body, rollover=0.1, hard_rollover=5.0)
    first, second = connector.streams[:2]
    assert first.names()[-3:] == ["contentEnd", "promptEnd", "sessionEnd"] and first.closed
    assert second.names()[:2] == ["sessionStart", "promptStart"]
    assert any(event_name(e) == "audioInput" for e in second.sent)
    assert not any(
        event_name(e) == "audioInput" and b"\x07" in base64.b64decode(e["event"]["audioInput"]["content"])
        for e in first.sent
    )


def test_a_busy_stream_is_still_rolled_over_at_the_hard_limit() -> None:
    async def body(session: NovaSonicSession, connector: Connector, received: list[dict[str, Any]]) -> None:
        connector.streams[0].emit(out("contentStart", contentId="au", type="AUDIO", role="ASSISTANT"))
        await until(lambda: len(connector.streams) == 2)

    connector, _ = run(body, rollover=0.05, hard_rollover=0.3)
    assert connector.streams[0].closed


def test_the_adapter_module_does_not_import_the_sdk_and_says_what_is_missing() -> None:
    assert "aws_sdk_bedrock_runtime" not in sys.modules
    connect = bedrock_connector(settings())
    if sys.version_info < (3, 12):
        with pytest.raises(ServiceUnavailable, match=r"Python 3\.12"):
            asyncio.run(connect())


def test_silence_keeps_the_stream_alive_while_no_candidate_audio_arrives() -> None:
    clock = [0.0]  # the session's clock, moved by the test alone: a slow machine cannot look like a silent candidate

    async def body(session: NovaSonicSession, connector: Connector, received: list[dict[str, Any]]) -> None:
        build = InputEvents(session.prompt_name)
        for _ in range(8):  # a live microphone: audio every 100 ms, no keep-alive needed
            await session.send(build.audio_input(session.audio_content_name, b"\x09\x00" * 1600))
            clock[0] += 0.1
            await asyncio.sleep(0.05)  # the watcher runs in between
        assert all(
            base64.b64decode(e["event"]["audioInput"]["content"]) == b"\x09\x00" * 1600
            for e in connector.streams[0].sent
            if event_name(e) == "audioInput"
        )
        # The candidate's audio stops (a reconnect): after a second, silence goes out instead.
        clock[0] += 1.5
        await until(
            lambda: any(
                event_name(e) == "audioInput" and set(base64.b64decode(e["event"]["audioInput"]["content"])) == {0}
                for e in connector.streams[0].sent
            )
        )

    connector, _ = run(body, clock=lambda: clock[0])
    assert connector.streams[0].closed
