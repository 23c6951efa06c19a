"""Amazon Nova 2 Sonic over Bedrock's bidirectional stream, behind the speech engine port.

The SDK-facing part is tiny and is the only place that imports ``aws_sdk_bedrock_runtime`` (Python 3.12+, installed
with the ``nova-sonic`` extra on the speaking worker's runtime): ``connect_bedrock`` opens a stream and wraps it as a
``SonicStream`` (send bytes, receive bytes, close). Everything else (the opening sequence, forwarding, error mapping,
rollover before the 8-minute stream limit and resumption with the FINAL-text history) works on that small interface
and is tested offline with a fake stream.

Rollover: after ``rollover_seconds`` (6.5 min) the session waits for a quiet moment (no output block open, no input
text block half sent), then opens a new stream with the same prompt, the trimmed final-text history and the
candidate audio heard since their last final transcript (at most 3 s), switches to it and closes the old one with the
documented closing order. At ``hard_rollover_seconds`` (7.5 min) it switches whatever is happening. The same path
resumes after a resumable stream error (ModelTimeoutException and friends), at most ``MAX_RESUMES`` times in a row.
When no candidate audio has been sent for a second (a reconnect), silence is sent so Bedrock does not end the stream
with "Timed out waiting for input events".
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from ieltsprep.adapters.speech.port import EventQueue
from ieltsprep.errors import ServiceUnavailable
from ieltsprep.settings import Settings
from ieltsprep.speaking.protocol import (
    EXAMINER_RULES,
    RESUMABLE_ERRORS,
    Event,
    InputValidator,
    OutputTracker,
    ProtocolError,
    SessionConfig,
    UserTranscript,
    closing_events,
    error_event,
    event_body,
    opening_events,
    trim_history,
)

ROLLOVER_SECONDS = 390.0
HARD_ROLLOVER_SECONDS = 450.0
MAX_RESUMES = 3
REPLAY_SECONDS = 3.0
KEEPALIVE_SECONDS = 1.0  # no candidate audio for this long: send silence so the stream does not time out
KEEPALIVE_CHUNK_SECONDS = 0.1
_SDK_PREFIX = "InvokeModelWithBidirectionalStreamOutput"


class SonicStreamError(Exception):
    """An error member of the output union (or an exception raised by the SDK), by its Bedrock name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SonicStream(Protocol):
    """The few operations the adapter needs from a bidirectional stream."""

    async def send(self, payload: bytes) -> None:
        """Send one input event (JSON bytes)."""
        ...

    async def receive(self) -> bytes | None:
        """The next output event's bytes; None when the stream ended; raises SonicStreamError."""
        ...

    async def close(self) -> None:
        """Close both directions."""
        ...


Connect = Callable[[], Awaitable[SonicStream]]


class _SdkStream:
    """A ``DuplexEventStream`` of aws-sdk-bedrock-runtime seen as a ``SonicStream``."""

    def __init__(self, stream: Any, chunk_type: type[Any], input_chunk: Callable[[bytes], Any]) -> None:
        self._stream = stream
        self._chunk_type = chunk_type
        self._input_chunk = input_chunk
        self._receiver: Any = None

    async def send(self, payload: bytes) -> None:
        await self._stream.input_stream.send(self._input_chunk(payload))

    async def receive(self) -> bytes | None:
        try:
            if self._receiver is None:
                _, self._receiver = await self._stream.await_output()
            item: Any = await self._receiver.receive()
        except Exception as exc:  # the SDK raises modelled errors as exceptions too
            raise SonicStreamError(type(exc).__name__, str(exc)) from exc
        if item is None:
            return None
        if isinstance(item, self._chunk_type):
            return bytes(item.value.bytes_ or b"")
        name = type(item).__name__.removeprefix(_SDK_PREFIX)
        if name == "Unknown":
            return b""  # a union member this SDK version does not know: skip it
        raise SonicStreamError(name, str(getattr(item.value, "message", "") or ""))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._stream.input_stream.close()
        with contextlib.suppress(Exception):
            await self._stream.close()


def bedrock_connector(settings: Settings) -> Connect:
    """Opens real Nova Sonic streams (SigV4 credentials from the default chain, e.g. the Lambda role)."""

    async def connect() -> SonicStream:
        try:
            from aws_sdk_bedrock_runtime.client import AsyncBedrockRuntimeClient
            from aws_sdk_bedrock_runtime.config import AsyncBedrockRuntimeConfig
            from aws_sdk_bedrock_runtime.models import (
                BidirectionalInputPayloadPart,
                InvokeModelWithBidirectionalStreamInputChunk,
                InvokeModelWithBidirectionalStreamOperationInput,
                InvokeModelWithBidirectionalStreamOutputChunk,
            )
            from smithy_http.aio.crt import AWSCRTHTTPClient
        except ImportError as exc:
            raise ServiceUnavailable(
                "Nova Sonic needs aws-sdk-bedrock-runtime[awscrt] on Python 3.12 (the nova-sonic extra)",
                code="speech_engine_unavailable",
            ) from exc
        region = settings.nova_sonic_region
        # The default aiohttp transport cannot do duplex streams: the CRT transport is required.
        config = await AsyncBedrockRuntimeConfig.resolve(region=region, transport=AWSCRTHTTPClient())
        client = AsyncBedrockRuntimeClient(config=config)
        stream = await client.invoke_model_with_bidirectional_stream(
            InvokeModelWithBidirectionalStreamOperationInput(model_id=settings.nova_sonic_model_id)
        )
        return _SdkStream(
            stream,
            InvokeModelWithBidirectionalStreamOutputChunk,
            lambda payload: InvokeModelWithBidirectionalStreamInputChunk(
                value=BidirectionalInputPayloadPart(bytes_=payload)
            ),
        )

    return connect


class NovaSonicEngine:
    """Opens Nova Sonic sessions; the voice and model come from the settings."""

    name = "nova-sonic"

    def __init__(
        self,
        settings: Settings,
        *,
        connect: Connect | None = None,
        rollover_seconds: float = ROLLOVER_SECONDS,
        hard_rollover_seconds: float = HARD_ROLLOVER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._connect = connect or bedrock_connector(settings)
        self._rollover = rollover_seconds
        self._hard_rollover = hard_rollover_seconds
        self._clock = clock  # seconds, for the stream's age and the keep-alive (tests pass their own)

    async def open(self, config: SessionConfig) -> NovaSonicSession:
        """Open a stream and send the opening sequence with our examiner rules added to the system prompt."""
        config = replace(
            config,
            voice_id=self._settings.nova_sonic_voice,
            system_prompt=f"{config.system_prompt.strip()}\n\n{EXAMINER_RULES}",
        )
        session = NovaSonicSession(config, self._connect, self._rollover, self._hard_rollover, clock=self._clock)
        await session.start()
        return session

    async def prerender(self, lines: Iterable[str], voice_id: str = "amy") -> None:
        """Nothing to do: Nova Sonic synthesises in the model."""

    def close(self) -> None:
        """Nothing held between sessions."""


class NovaSonicSession:
    """One conversation, possibly spanning several Bedrock streams (rollover, resumption)."""

    def __init__(
        self,
        config: SessionConfig,
        connect: Connect,
        rollover: float,
        hard_rollover: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._clock = clock
        self._connect = connect
        self._rollover = rollover
        self._hard_rollover = hard_rollover
        self._audio_name = str(uuid.uuid4())
        self._validator = InputValidator(config.prompt_name, self._audio_name)
        self._tracker = OutputTracker(config.history)
        self._out = EventQueue()
        self._lock = asyncio.Lock()
        self._replay: deque[bytes] = deque()
        self._replay_bytes = 0
        self._replay_cap = int(REPLAY_SECONDS * config.input_sample_rate) * 2
        self._stream: SonicStream | None = None
        self._reader: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._resumer: asyncio.Task[None] | None = None
        self._opened_at = 0.0
        self._last_audio_at = self._clock()
        self._resumes = 0
        self._switching = False
        self._closed = False
        self.streams_opened = 0

    @property
    def prompt_name(self) -> str:
        """The promptName of this session."""
        return self.config.prompt_name

    @property
    def audio_content_name(self) -> str:
        """The contentName of the open audio block."""
        return self._audio_name

    async def start(self) -> None:
        """Open the first stream."""
        stream = await self._open_stream()
        self._attach(stream)
        self._watcher = asyncio.create_task(self._watch(), name="nova-sonic-rollover")

    async def send(self, event: Mapping[str, Any]) -> None:
        """Validate and forward one input event."""
        if self._closed:
            raise ProtocolError("the session is closed")
        name = self._validator.check(event)
        if name == "sessionEnd":
            await self.close()
            return
        if name == "audioInput":
            try:
                pcm = base64.b64decode(event_body(event)["content"], validate=True)
            except ValueError as exc:
                raise ProtocolError("audioInput content is not valid base64") from exc
            self._remember_audio(pcm)
            self._last_audio_at = self._clock()
        payload = json.dumps(event).encode("utf-8")
        async with self._lock:
            if self._stream is None:
                return
            try:
                await self._stream.send(payload)
            except Exception as exc:  # a broken stream: the reader sees it too and resumes
                if name != "audioInput":
                    raise ServiceUnavailable(f"Nova Sonic stream failed: {exc}", code="speech_engine_error") from exc

    def events(self) -> AsyncIterator[Event]:
        """Output events of every stream of this session, in order."""
        return self._out.iterate()

    async def close(self) -> None:
        """Close the current stream with the documented order and end the event stream."""
        if self._closed:
            return
        self._closed = True
        if self._watcher is not None:
            self._watcher.cancel()
        async with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            await self._retire(stream, audio_open=self._validator.audio_open)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._out.end()

    # --- streams --------------------------------------------------------------------------------------------

    async def _open_stream(self) -> SonicStream:
        stream = await self._connect()
        self.streams_opened += 1
        config = replace(self.config, history=tuple(trim_history(self._tracker.history)))
        for event in opening_events(config, self._audio_name):
            await stream.send(json.dumps(event).encode("utf-8"))
        return stream

    def _attach(self, stream: SonicStream) -> None:
        self._stream = stream
        self._opened_at = self._clock()
        self._reader = asyncio.create_task(self._read(stream), name="nova-sonic-reader")

    async def _retire(self, stream: SonicStream, *, audio_open: bool = True) -> None:
        for event in closing_events(self.prompt_name, self._audio_name if audio_open else None):
            with contextlib.suppress(Exception):
                await stream.send(json.dumps(event).encode("utf-8"))
        with contextlib.suppress(Exception):
            await stream.close()

    async def _switch(self) -> None:
        """Replace the current stream by a new one carrying the history (rollover or resumption)."""
        if self._switching or self._closed:
            return
        self._switching = True
        try:
            new = await self._open_stream()
            async with self._lock:
                # Audio the candidate said since their last final transcript, so no words are lost.
                replay = list(self._replay)
                for pcm in replay:
                    event = {
                        "event": {
                            "audioInput": {
                                "promptName": self.prompt_name,
                                "contentName": self._audio_name,
                                "content": base64.b64encode(pcm).decode("ascii"),
                            }
                        }
                    }
                    await new.send(json.dumps(event).encode("utf-8"))
                old, old_reader = self._stream, self._reader
                self._tracker.abandon_open_blocks()
                self._attach(new)
            if old_reader is not None and old_reader is not asyncio.current_task():
                old_reader.cancel()
            if old is not None:
                await self._retire(old)
        finally:
            self._switching = False

    async def _read(self, stream: SonicStream) -> None:
        while True:
            try:
                payload = await stream.receive()
                if payload is None:
                    if self._closed or stream is not self._stream:
                        return
                    raise SonicStreamError("ModelStreamErrorException", "the stream ended unexpectedly")
                if not payload:
                    continue
                try:
                    event = json.loads(payload)
                except ValueError as exc:
                    raise SonicStreamError("ModelStreamErrorException", "Invalid event bytes") from exc
                self._deliver(event)
            except SonicStreamError as exc:
                if self._closed or stream is not self._stream:
                    return
                if exc.code in RESUMABLE_ERRORS and self._resumes < MAX_RESUMES:
                    self._resumes += 1
                    self._resumer = asyncio.create_task(self._resume(), name="nova-sonic-resume")
                    return
                self._out.put(error_event(exc.code, exc.message))
                self._closed = True
                if self._watcher is not None:
                    self._watcher.cancel()
                self._out.end()
                return

    async def _resume(self) -> None:
        try:
            await self._switch()
        except Exception as exc:
            self._out.put(error_event("ServiceUnavailableException", f"could not resume Nova Sonic: {exc}"))
            self._closed = True
            self._out.end()

    def _deliver(self, event: dict[str, Any]) -> None:
        for turn in self._tracker.feed(event):
            if isinstance(turn, UserTranscript) and turn.stage == "FINAL":
                self._replay.clear()
                self._replay_bytes = 0
                self._resumes = 0  # the new stream works
        self._out.put(event)

    def _remember_audio(self, pcm: bytes) -> None:
        self._replay.append(pcm)
        self._replay_bytes += len(pcm)
        while self._replay_bytes > self._replay_cap and self._replay:
            self._replay_bytes -= len(self._replay.popleft())

    async def _watch(self) -> None:
        while not self._closed:
            await asyncio.sleep(min(KEEPALIVE_SECONDS / 2, max(0.01, self._rollover / 20)))
            await self._keep_alive()
            age = self._clock() - self._opened_at
            quiet = not self._tracker.busy and not self._validator.open_blocks
            if age >= self._hard_rollover or (age >= self._rollover and quiet):
                await self._switch()

    async def _keep_alive(self) -> None:
        # Bedrock ends a stream that gets no input for a while ("Timed out waiting for input events"), e.g. while the
        # candidate reconnects: send silence, as a live microphone would, until their audio flows again.
        if not self._validator.audio_open or self._clock() - self._last_audio_at < KEEPALIVE_SECONDS:
            return
        silence = bytes(int(self.config.input_sample_rate * KEEPALIVE_CHUNK_SECONDS) * 2)
        event = {
            "event": {
                "audioInput": {
                    "promptName": self.prompt_name,
                    "contentName": self._audio_name,
                    "content": base64.b64encode(silence).decode("ascii"),
                }
            }
        }
        async with self._lock:
            if self._stream is not None:
                with contextlib.suppress(Exception):
                    await self._stream.send(json.dumps(event).encode("utf-8"))
