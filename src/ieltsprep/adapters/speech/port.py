"""The speech engine port: one live, bidirectional voice session that speaks the Nova Sonic event protocol.

Concurrency model: asyncio, like the speaking worker (an aiohttp WebSocket peer) and the Nova Sonic SDK. Engines run
blocking work (speech recognition, synthesis) in threads so ``send`` never blocks the event loop for long.

Usage by the speaking controller::

    session = await engine.open(SessionConfig(system_prompt=..., history=...))  # sends the opening sequence
    build = InputEvents(session.prompt_name)
    await session.send(build.audio_input(session.audio_content_name, pcm))      # microphone, silence included
    for event in build.say("Good morning. My name is Maya."):                   # what Maya says next
        await session.send(event)
    async for event in session.events():                                         # Nova Sonic output events
        ...
    await session.close()                                                        # closing sequence, idempotent

``open`` sends sessionStart, promptStart, the SYSTEM prompt, the history (trimmed, once) and opens the one USER
audio block (``protocol.opening_events``); ``close`` sends the closing sequence. In between, ``send`` accepts
audioInput chunks for that block, cross-modal USER text triples (``interactive: true``) and tool results.
``events()`` yields output events (completionStart, contentStart/textOutput/contentEnd TEXT with USER FINAL and
ASSISTANT SPECULATIVE/FINAL stages, AUDIO contentStart/audioOutput/contentEnd at ``output_sample_rate``, TOOL toolUse,
INTERRUPTED, usageEvent, completionEnd, and ``{"event": {"error": {"code", "message"}}}``) and ends after close or a
fatal error. ``speaking.protocol.OutputTracker`` turns them into typed turn events and keeps the final-text history.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from ieltsprep.speaking.protocol import Event, InputEvents, ProtocolError, SessionConfig

__all__ = [
    "Event",
    "EventQueue",
    "InputEvents",
    "PartAware",
    "ProtocolError",
    "SessionConfig",
    "SpeechEngine",
    "SpeechSession",
]


@runtime_checkable
class SpeechSession(Protocol):
    """One open conversation with the examiner voice."""

    @property
    def prompt_name(self) -> str:
        """The promptName every input event of this session must carry."""
        ...

    @property
    def audio_content_name(self) -> str:
        """The contentName of the open USER audio block (for audioInput events)."""
        ...

    async def send(self, event: Mapping[str, Any]) -> None:
        """Send one Nova Sonic input event; raises ProtocolError for an event the protocol forbids."""
        ...

    def events(self) -> AsyncIterator[Event]:
        """Output events, in order, until the session is closed or fails; iterate from one task only."""
        ...

    async def close(self) -> None:
        """Send the closing sequence (once) and release the stream; safe to call twice."""
        ...


@runtime_checkable
class PartAware(Protocol):
    """A session whose turn-taking follows the part of the test (the local engine waits longest in Part 2's long
    turn); Nova Sonic has its own endpointing and is not told."""

    def set_part(self, part: int) -> None:
        """The part (1-3) that the candidate's next turns belong to."""
        ...


@runtime_checkable
class SpeechEngine(Protocol):
    """Opens speech sessions; one engine per process, shared by sessions (it holds the loaded models)."""

    name: str

    async def open(self, config: SessionConfig) -> SpeechSession:
        """Open a session and send its opening sequence (system prompt, history, audio block)."""
        ...

    async def prerender(self, lines: Iterable[str], voice_id: str = "amy") -> None:
        """Prepare examiner lines ahead of time so they play without waiting (a no-op where synthesis is remote)."""
        ...

    def close(self) -> None:
        """Release models and threads."""
        ...


class EventQueue:
    """The output side every engine (and test fake) shares: events in order until ``end``."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()

    def put(self, event: Event) -> None:
        """Deliver one output event."""
        self._queue.put_nowait(event)

    def end(self) -> None:
        """No more events: ``iterate`` returns after what is queued."""
        self._queue.put_nowait(None)

    async def iterate(self) -> AsyncIterator[Event]:
        """The events, until ``end``."""
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event
