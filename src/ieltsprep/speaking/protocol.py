"""The Nova Sonic bidirectional event protocol, as plain data: input event builders, output event parsing, history.

Both speech engines (``adapters/speech/local.py`` and ``adapters/speech/nova_sonic.py``) speak exactly these events,
so the speaking controller cannot tell them apart. Shapes follow ../reference/nova_sonic.md sections 2-3:
every event is ``{"event": {<name>: {...}}}``; ``additionalModelFields`` is a JSON *string*.

Two additions of ours, used identically by both engines:
- ``say_instruction(line)``: the cross-modal USER text (``interactive: true``) with which our controller tells Maya
  the exact examiner line to speak next. The local engine speaks the quoted line verbatim; Nova Sonic is told by the
  system prompt to do the same. The words therefore always come from our question bank and controller.
- ``{"event": {"error": {"code", "message"}}}``: the SDK delivers stream errors as exception members of the output
  union (ValidationException, ModelTimeoutException, ...); engines turn them into this event so errors travel in
  the same stream as everything else.
- The local engine adds recogniser details to the USER FINAL ``additionalModelFields``:
  ``{"generationStage": "FINAL", "asr": {"startMs", "endMs", "avgLogprob", "words": [{"word", "startMs", "endMs",
  "probability"}]}}`` (times in audio sample time since the audio block opened). Nova Sonic sends no ``asr``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Event = dict[str, Any]
Role = Literal["SYSTEM", "USER", "ASSISTANT", "TOOL", "SYSTEM_SPEECH"]
HistoryRole = Literal["USER", "ASSISTANT"]
Sensitivity = Literal["HIGH", "MEDIUM", "LOW"]

# Voice ids are case-sensitive; a wrong one fails the session at promptStart (nova_sonic.md section 5, Nova 2).
VOICES: frozenset[str] = frozenset(
    {
        "tiffany",
        "matthew",
        "amy",
        "olivia",
        "kiara",
        "arjun",
        "ambre",
        "florian",
        "beatrice",
        "lorenzo",
        "tina",
        "greta",
        "lennart",
        "lupe",
        "carlos",
        "carolina",
        "leo",
    }
)
SAMPLE_RATES: frozenset[int] = frozenset({8000, 16000, 24000})
INPUT_EVENTS: frozenset[str] = frozenset(
    {
        "sessionStart",
        "promptStart",
        "contentStart",
        "textInput",
        "audioInput",
        "toolResult",
        "contentEnd",
        "promptEnd",
        "sessionEnd",
    }
)
# The interruption notice Nova Sonic puts in a textOutput on barge-in (NSS samples match on this exact text).
INTERRUPTED_TEXT = '{ "interrupted" : true }'
# Nova Sonic streams live 8 minutes; roll over to a new stream with history before that.
STREAM_LIFETIME_SECONDS = 8 * 60
DEFAULT_HISTORY_BYTES = 40_000

_SAY_PREFIX = "Say exactly the following words, word for word, and nothing else: "
_SAY_RE = re.compile(r"^Say exactly the following words, word for word, and nothing else: <<(?P<line>.*)>>$", re.S)


class ProtocolError(ValueError):
    """An input event that breaks the Nova Sonic protocol (what Bedrock answers with a ValidationException)."""


@dataclass(frozen=True)
class HistoryMessage:
    """One message of conversation history (final text only), replayed when a stream is resumed."""

    role: HistoryRole
    text: str


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call; ``input_schema`` is a JSON schema dict (sent as a string)."""

    name: str
    description: str
    input_schema: Mapping[str, Any]


@dataclass(frozen=True)
class SessionConfig:
    """Everything needed to open (or re-open) a speech session: inference settings, voice, prompt, history."""

    system_prompt: str
    history: tuple[HistoryMessage, ...] = ()
    voice_id: str = "amy"
    input_sample_rate: int = 16000
    output_sample_rate: int = 24000
    endpointing: Sensitivity = "MEDIUM"
    max_tokens: int = 1024
    top_p: float = 0.9
    temperature: float = 0.7
    tools: tuple[ToolSpec, ...] = ()
    prompt_name: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        if self.voice_id not in VOICES:
            raise ProtocolError(f"Received invalid id: {self.voice_id!r} (voice ids are lower-case)")
        if self.input_sample_rate not in SAMPLE_RATES or self.output_sample_rate not in SAMPLE_RATES:
            raise ProtocolError("sample rates must be 8000, 16000 or 24000 Hz")
        if not self.system_prompt.strip():
            raise ProtocolError("the system prompt is empty")


def _new_name() -> str:
    return str(uuid.uuid4())


def _wrap(name: str, body: Mapping[str, Any]) -> Event:
    return {"event": {name: dict(body)}}


@dataclass(frozen=True)
class InputEvents:
    """Builds the input events of one prompt (every event repeats ``promptName``)."""

    prompt_name: str

    def session_start(self, config: SessionConfig) -> Event:
        """``sessionStart`` with inference and (Nova 2) turn-detection settings."""
        return _wrap(
            "sessionStart",
            {
                "inferenceConfiguration": {
                    "maxTokens": config.max_tokens,
                    "topP": config.top_p,
                    "temperature": config.temperature,
                },
                "turnDetectionConfiguration": {"endpointingSensitivity": config.endpointing},
            },
        )

    def prompt_start(self, config: SessionConfig) -> Event:
        """``promptStart``: output formats, the voice and the tools."""
        body: dict[str, Any] = {
            "promptName": self.prompt_name,
            "textOutputConfiguration": {"mediaType": "text/plain"},
            "audioOutputConfiguration": {
                "mediaType": "audio/lpcm",
                "sampleRateHertz": config.output_sample_rate,
                "sampleSizeBits": 16,
                "channelCount": 1,
                "voiceId": config.voice_id,
                "encoding": "base64",
                "audioType": "SPEECH",
            },
        }
        if config.tools:
            body["toolUseOutputConfiguration"] = {"mediaType": "application/json"}
            body["toolConfiguration"] = {
                "tools": [
                    {
                        "toolSpec": {
                            "name": tool.name,
                            "description": tool.description,
                            "inputSchema": {"json": json.dumps(tool.input_schema)},
                        }
                    }
                    for tool in config.tools
                ]
            }
        return _wrap("promptStart", body)

    def text(self, role: Role, text: str, *, interactive: bool = False) -> list[Event]:
        """A TEXT content triple (contentStart, textInput, contentEnd): system prompt, history or cross-modal."""
        name = _new_name()
        return [
            _wrap(
                "contentStart",
                {
                    "promptName": self.prompt_name,
                    "contentName": name,
                    "type": "TEXT",
                    "interactive": interactive,
                    "role": role,
                    "textInputConfiguration": {"mediaType": "text/plain"},
                },
            ),
            _wrap("textInput", {"promptName": self.prompt_name, "contentName": name, "content": text}),
            self.content_end(name),
        ]

    def audio_start(self, content_name: str, sample_rate: int = 16000) -> Event:
        """Opens the one USER audio block that stays open for the whole conversation."""
        return _wrap(
            "contentStart",
            {
                "promptName": self.prompt_name,
                "contentName": content_name,
                "type": "AUDIO",
                "interactive": True,
                "role": "USER",
                "audioInputConfiguration": {
                    "mediaType": "audio/lpcm",
                    "sampleRateHertz": sample_rate,
                    "sampleSizeBits": 16,
                    "channelCount": 1,
                    "audioType": "SPEECH",
                    "encoding": "base64",
                },
            },
        )

    def audio_input(self, content_name: str, pcm: bytes) -> Event:
        """One chunk of 16-bit little-endian mono PCM (about 32 ms is typical)."""
        return _wrap(
            "audioInput",
            {
                "promptName": self.prompt_name,
                "contentName": content_name,
                "content": base64.b64encode(pcm).decode("ascii"),
            },
        )

    def content_end(self, content_name: str) -> Event:
        """Closes a content block."""
        return _wrap("contentEnd", {"promptName": self.prompt_name, "contentName": content_name})

    def tool_result(self, tool_use_id: str, result: Any) -> list[Event]:
        """The TOOL content triple answering a model ``toolUse``."""
        name = _new_name()
        return [
            _wrap(
                "contentStart",
                {
                    "promptName": self.prompt_name,
                    "contentName": name,
                    "interactive": False,
                    "type": "TOOL",
                    "role": "TOOL",
                    "toolResultInputConfiguration": {
                        "toolUseId": tool_use_id,
                        "type": "TEXT",
                        "textInputConfiguration": {"mediaType": "text/plain"},
                    },
                },
            ),
            _wrap(
                "toolResult",
                {"promptName": self.prompt_name, "contentName": name, "content": json.dumps(result)},
            ),
            self.content_end(name),
        ]

    def say(self, line: str) -> list[Event]:
        """The cross-modal instruction telling Maya to speak ``line`` verbatim next."""
        return self.text("USER", say_instruction(line), interactive=True)

    def prompt_end(self) -> Event:
        """``promptEnd``: only when closing (sent mid-conversation it suppresses output)."""
        return _wrap("promptEnd", {"promptName": self.prompt_name})

    def session_end(self) -> Event:
        """``sessionEnd``: the last event before closing the input stream."""
        return _wrap("sessionEnd", {})


def say_instruction(line: str) -> str:
    """The text of the instruction that makes the examiner say ``line`` word for word."""
    cleaned = " ".join(line.split())
    if not cleaned:
        raise ProtocolError("an examiner line is empty")
    return f"{_SAY_PREFIX}<<{cleaned}>>"


def parse_say_instruction(text: str) -> str | None:
    """The examiner line inside a ``say_instruction`` text, or None for any other text."""
    match = _SAY_RE.match(text.strip())
    return match.group("line") if match else None


def trim_history(messages: Iterable[HistoryMessage], max_bytes: int = DEFAULT_HISTORY_BYTES) -> list[HistoryMessage]:
    """History as Nova Sonic accepts it: consecutive same-role messages merged, most recent kept within
    ``max_bytes`` (UTF-8), and starting with a USER message (leading ASSISTANT messages dropped)."""
    merged: list[HistoryMessage] = []
    for message in messages:
        text = message.text.strip()
        if not text:
            continue
        if merged and merged[-1].role == message.role:
            merged[-1] = HistoryMessage(message.role, f"{merged[-1].text} {text}")
        else:
            merged.append(HistoryMessage(message.role, text))
    kept: list[HistoryMessage] = []
    used = 0
    for message in reversed(merged):
        size = len(message.text.encode("utf-8"))
        if used + size > max_bytes:
            break
        kept.append(message)
        used += size
    kept.reverse()
    while kept and kept[0].role != "USER":
        kept.pop(0)
    return kept


def opening_events(config: SessionConfig, audio_content_name: str) -> list[Event]:
    """Everything sent before audio: sessionStart, promptStart, system prompt, history (once), audio contentStart."""
    build = InputEvents(config.prompt_name)
    events = [build.session_start(config), build.prompt_start(config)]
    events += build.text("SYSTEM", config.system_prompt)
    for message in trim_history(config.history):
        events += build.text(message.role, message.text)
    events.append(build.audio_start(audio_content_name, config.input_sample_rate))
    return events


def closing_events(prompt_name: str, audio_content_name: str | None) -> list[Event]:
    """The documented closing order: audio contentEnd (if audio started), promptEnd, sessionEnd."""
    build = InputEvents(prompt_name)
    events = [build.content_end(audio_content_name)] if audio_content_name else []
    return [*events, build.prompt_end(), build.session_end()]


def event_name(event: Mapping[str, Any]) -> str:
    """The name of an event (``{"event": {name: body}}``); raises ProtocolError for any other shape."""
    inner = event.get("event") if isinstance(event, Mapping) else None
    if not isinstance(inner, Mapping) or len(inner) != 1:
        raise ProtocolError('an event must be {"event": {<name>: {...}}}')
    (name,) = inner.keys()
    if not isinstance(inner[name], Mapping):
        raise ProtocolError(f"the body of {name} must be an object")
    return str(name)


def event_body(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The body of an event."""
    body: Mapping[str, Any] = event["event"][event_name(event)]
    return body


def messages_to_history(turns: Sequence[tuple[HistoryRole, str]]) -> tuple[HistoryMessage, ...]:
    """History messages from (role, text) pairs, e.g. a stored transcript."""
    return tuple(HistoryMessage(role, text) for role, text in turns)
