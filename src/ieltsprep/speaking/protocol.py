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
- The local engine opens the USER FINAL block as soon as its endpointer has ended the turn, with
  ``{"generationStage": "FINAL", "turn": {"startMs", "endMs", "voicedMs"}}`` on ``contentStart``, and closes it when
  the recogniser has the words (``textOutput``, then ``contentEnd`` whose own ``additionalModelFields`` carries
  ``asr``). The controller can so pick the examiner's next line while the words are still being recognised. A block
  that closes without text was noise. Nova Sonic sends no ``turn``: its USER FINAL blocks arrive whole.
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


# Appended by the Nova Sonic engine to the controller's system prompt, so the model speaks our script verbatim.
EXAMINER_RULES = (
    "You are the voice of an IELTS Speaking examiner. Use British English as your language for your responses. "
    "You never decide what to say yourself. When you receive a message of the form "
    f"'{_SAY_PREFIX}<<...>>', speak exactly the words between << and >>, word for word, and nothing else. "
    "When the candidate speaks, listen and do not reply until you receive the next such message."
)


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


# --- input validation (what Bedrock enforces; the local engine enforces the same) -----------------------------


@dataclass
class InputValidator:
    """Checks input events after the opening sequence: right promptName, known contentName, no late history.

    ``check`` returns the name of the event; blocks are tracked so that text and tool triples are well formed.
    """

    prompt_name: str
    audio_content_name: str
    open_blocks: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    audio_open: bool = True
    closed: bool = False

    def check(self, event: Mapping[str, Any]) -> str:
        """Validate one input event; raises ProtocolError."""
        name = event_name(event)
        body = event_body(event)
        if name not in INPUT_EVENTS:
            raise ProtocolError(f"unknown input event {name!r}")
        if self.closed:
            raise ProtocolError(f"{name} after sessionEnd")
        if name in ("sessionStart", "promptStart"):
            raise ProtocolError(f"{name} may only be sent once, when the session opens")
        if name == "sessionEnd":
            self.closed = True
            return name
        if body.get("promptName") != self.prompt_name:
            raise ProtocolError(f"{name} carries an unknown promptName")
        if name == "promptEnd":
            return name
        content_name = body.get("contentName")
        if not isinstance(content_name, str) or not content_name:
            raise ProtocolError(f"{name} needs a contentName")
        if name == "contentStart":
            self._check_start(content_name, body)
        elif name == "audioInput":
            if content_name != self.audio_content_name or not self.audio_open:
                raise ProtocolError("audioInput for a content block that is not the open audio block")
            if not isinstance(body.get("content"), str):
                raise ProtocolError("audioInput content must be base64 text")
        elif name in ("textInput", "toolResult"):
            block = self.open_blocks.get(content_name)
            expected = "TEXT" if name == "textInput" else "TOOL"
            if block is None or block.get("type") != expected:
                raise ProtocolError(f"{name} for a content block that is not an open {expected} block")
            if not isinstance(body.get("content"), str):
                raise ProtocolError(f"{name} content must be a string")
        elif name == "contentEnd":
            if content_name == self.audio_content_name and self.audio_open:
                self.audio_open = False
            elif self.open_blocks.pop(content_name, None) is None:
                raise ProtocolError("contentEnd for a content block that is not open")
        return name

    def _check_start(self, content_name: str, body: Mapping[str, Any]) -> None:
        if content_name in self.open_blocks or content_name == self.audio_content_name:
            raise ProtocolError("contentStart reuses an open contentName")
        kind, role = body.get("type"), body.get("role")
        if kind == "TEXT":
            if role != "USER" or body.get("interactive") is not True:
                # History and the system prompt go before audio, once (sent by the engine's open()).
                raise ProtocolError("after audio starts, only cross-modal USER text with interactive=true is allowed")
        elif kind == "TOOL":
            config = body.get("toolResultInputConfiguration")
            if role != "TOOL" or not isinstance(config, Mapping) or not config.get("toolUseId"):
                raise ProtocolError("a TOOL block needs role TOOL and toolResultInputConfiguration.toolUseId")
        else:
            raise ProtocolError("only one AUDIO block per session; later blocks must be TEXT or TOOL")
        self.open_blocks[content_name] = body


# --- output events --------------------------------------------------------------------------------------------

Stage = Literal["FINAL", "SPECULATIVE"]
# Errors after which a new stream with the final-text history continues the conversation (speech-errors docs).
RESUMABLE_ERRORS: frozenset[str] = frozenset(
    {
        "ModelTimeoutException",
        "ModelStreamErrorException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ThrottlingException",
        "StreamRollover",
    }
)


@dataclass(frozen=True)
class CompletionStart:
    """``completionStart``."""

    completion_id: str


@dataclass(frozen=True)
class ContentStart:
    """``contentStart`` of a TEXT, AUDIO or TOOL output block."""

    content_id: str
    type: str
    role: str
    stage: Stage | None = None
    sample_rate: int | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TextOutput:
    """``textOutput``; ``interrupted`` when it is the barge-in notice."""

    content_id: str
    role: str | None
    content: str
    interrupted: bool


@dataclass(frozen=True)
class AudioOutput:
    """``audioOutput``: decoded 16-bit mono PCM."""

    content_id: str
    pcm: bytes


@dataclass(frozen=True)
class ToolUse:
    """``toolUse``: the model asks us to run a tool."""

    content_id: str
    tool_use_id: str
    tool_name: str
    arguments: Any


@dataclass(frozen=True)
class ContentEnd:
    """``contentEnd`` with its stop reason (PARTIAL_TURN, END_TURN, INTERRUPTED, TOOL_USE)."""

    content_id: str
    type: str | None
    stop_reason: str | None
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    """``usageEvent``: cumulative token counts."""

    total_input_tokens: int
    total_output_tokens: int
    total_tokens: int
    details: Mapping[str, Any]


@dataclass(frozen=True)
class CompletionEnd:
    """``completionEnd``."""

    stop_reason: str | None


@dataclass(frozen=True)
class StreamError:
    """A stream error (the SDK's exception union members, or the local engine's equivalent)."""

    code: str
    message: str

    @property
    def resumable(self) -> bool:
        """True when a new stream with the history can carry on."""
        return self.code in RESUMABLE_ERRORS


@dataclass(frozen=True)
class UnknownEvent:
    """An output event this version does not know; ignored rather than fatal."""

    name: str
    body: Mapping[str, Any]


OutputEvent = (
    CompletionStart
    | ContentStart
    | TextOutput
    | AudioOutput
    | ToolUse
    | ContentEnd
    | Usage
    | CompletionEnd
    | StreamError
    | UnknownEvent
)


def _str(body: Mapping[str, Any], key: str, name: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"{name} lacks {key}")
    return value


def _fields(raw: Any) -> dict[str, Any]:
    # additionalModelFields is a JSON string inside the JSON event: parse it a second time.
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        parsed = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise ProtocolError("additionalModelFields is not JSON") from exc
    if not isinstance(parsed, dict):
        raise ProtocolError("additionalModelFields is not a JSON object")
    return parsed


def parse_output_event(event: Mapping[str, Any]) -> OutputEvent:
    """One output event as a typed object; raises ProtocolError when a known event is malformed."""
    name = event_name(event)
    body = event_body(event)
    if name == "completionStart":
        return CompletionStart(str(body.get("completionId", "")))
    if name == "contentStart":
        fields = _fields(body.get("additionalModelFields"))
        stage = fields.get("generationStage")
        audio = body.get("audioOutputConfiguration")
        rate = audio.get("sampleRateHertz") if isinstance(audio, Mapping) else None
        return ContentStart(
            content_id=_str(body, "contentId", name),
            type=_str(body, "type", name),
            role=str(body.get("role", "")),
            stage=stage if stage in ("FINAL", "SPECULATIVE") else None,
            sample_rate=int(rate) if rate is not None else None,
            fields=fields,
        )
    if name == "textOutput":
        content = _str(body, "content", name)
        return TextOutput(
            content_id=_str(body, "contentId", name),
            role=body.get("role"),
            content=content,
            interrupted=_is_interruption(content),
        )
    if name == "audioOutput":
        try:
            pcm = base64.b64decode(_str(body, "content", name), validate=True)
        except ValueError as exc:
            raise ProtocolError("audioOutput content is not base64") from exc
        return AudioOutput(_str(body, "contentId", name), pcm)
    if name == "toolUse":
        raw_args = body.get("content", "")
        try:
            arguments = json.loads(raw_args) if isinstance(raw_args, str) and raw_args else raw_args
        except ValueError:
            arguments = raw_args
        return ToolUse(
            content_id=_str(body, "contentId", name),
            tool_use_id=_str(body, "toolUseId", name),
            tool_name=_str(body, "toolName", name),
            arguments=arguments,
        )
    if name == "contentEnd":
        return ContentEnd(
            _str(body, "contentId", name),
            body.get("type"),
            body.get("stopReason"),
            _fields(body.get("additionalModelFields")),
        )
    if name == "usageEvent":
        return Usage(
            total_input_tokens=int(body.get("totalInputTokens", 0)),
            total_output_tokens=int(body.get("totalOutputTokens", 0)),
            total_tokens=int(body.get("totalTokens", 0)),
            details=dict(body.get("details") or {}),
        )
    if name == "completionEnd":
        return CompletionEnd(body.get("stopReason"))
    if name == "error":
        return StreamError(str(body.get("code", "InternalServerException")), str(body.get("message", "")))
    return UnknownEvent(name, body)


def _is_interruption(content: str) -> bool:
    stripped = content.strip()
    if not stripped.startswith("{"):
        return False
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("interrupted") is True


def error_event(code: str, message: str) -> Event:
    """The in-stream error event (see the module docstring)."""
    return _wrap("error", {"code": code, "message": message})


# --- turn-level view -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    """A recognised word with its timing (ms of audio sample time) and recogniser probability."""

    word: str
    start_ms: int
    end_ms: int
    probability: float


@dataclass(frozen=True)
class AsrDetails:
    """Recogniser details of a candidate utterance (local engine only)."""

    start_ms: int
    end_ms: int
    avg_logprob: float
    words: tuple[Word, ...]

    def to_fields(self) -> dict[str, Any]:
        """The ``asr`` object of additionalModelFields."""
        return {
            "startMs": self.start_ms,
            "endMs": self.end_ms,
            "avgLogprob": round(self.avg_logprob, 4),
            "words": [
                {"word": w.word, "startMs": w.start_ms, "endMs": w.end_ms, "probability": round(w.probability, 4)}
                for w in self.words
            ],
        }

    @classmethod
    def from_fields(cls, raw: Any) -> AsrDetails | None:
        """Parse the ``asr`` object; None when absent or malformed (Nova Sonic sends none)."""
        if not isinstance(raw, Mapping):
            return None
        try:
            return cls(
                start_ms=int(raw["startMs"]),
                end_ms=int(raw["endMs"]),
                avg_logprob=float(raw["avgLogprob"]),
                words=tuple(
                    Word(str(w["word"]), int(w["startMs"]), int(w["endMs"]), float(w["probability"]))
                    for w in raw.get("words", [])
                ),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class UserTranscript:
    """What the candidate said: FINAL at the end of a turn, SPECULATIVE while they speak (local engine).

    After a ``UserTurnEnded`` the FINAL one always follows, with empty text when the turn was noise."""

    text: str
    stage: Stage
    asr: AsrDetails | None = None


@dataclass(frozen=True)
class UserTurnEnded:
    """The endpointer ended the candidate's turn; its words follow in a ``UserTranscript`` (local engine)."""

    start_ms: int
    end_ms: int
    voiced_ms: int

    @classmethod
    def from_fields(cls, raw: Any) -> UserTurnEnded | None:
        """Parse the ``turn`` object; None when absent or malformed."""
        if not isinstance(raw, Mapping):
            return None
        try:
            return cls(int(raw["startMs"]), int(raw["endMs"]), int(raw["voicedMs"]))
        except (KeyError, TypeError, ValueError):
            return None

    def to_fields(self) -> dict[str, int]:
        """The ``turn`` object of additionalModelFields."""
        return {"startMs": self.start_ms, "endMs": self.end_ms, "voicedMs": self.voiced_ms}


@dataclass(frozen=True)
class AssistantText:
    """What the examiner will say (SPECULATIVE) or did say (FINAL)."""

    text: str
    stage: Stage


@dataclass(frozen=True)
class AssistantAudio:
    """A chunk of examiner voice."""

    pcm: bytes
    sample_rate: int


@dataclass(frozen=True)
class AssistantAudioEnd:
    """The examiner's audio block ended (END_TURN, PARTIAL_TURN or INTERRUPTED)."""

    stop_reason: str | None


@dataclass(frozen=True)
class Interrupted:
    """The candidate spoke over the examiner: flush queued examiner audio."""


@dataclass(frozen=True)
class ToolRequest:
    """The model called a tool; answer with ``InputEvents.tool_result``."""

    tool_use_id: str
    name: str
    arguments: Any


@dataclass(frozen=True)
class Failed:
    """The stream failed; ``resumable`` when a new stream with the history can continue."""

    code: str
    message: str
    resumable: bool


@dataclass(frozen=True)
class CompletionEnded:
    """The model ended the completion."""

    stop_reason: str | None


TurnEvent = (
    UserTranscript
    | UserTurnEnded
    | AssistantText
    | AssistantAudio
    | AssistantAudioEnd
    | Interrupted
    | ToolRequest
    | Usage
    | Failed
    | CompletionEnded
)


@dataclass
class _Block:
    start: ContentStart
    text: list[str] = field(default_factory=list)
    interrupted: bool = False


class OutputTracker:
    """Turns output events into turn events and keeps the FINAL-text history for resumption.

    Text is delivered when its block ends (a block may carry several textOutput events). Only FINAL text enters
    the history; the interruption notice never does. One ``Interrupted`` is reported per interruption, whether
    the stream signals it with the notice text, with ``stopReason`` INTERRUPTED, or both.
    """

    def __init__(self, history: Iterable[HistoryMessage] = ()) -> None:
        self.history: list[HistoryMessage] = list(history)
        self.usage: Usage | None = None
        self._blocks: dict[str, _Block] = {}
        self._sample_rate = 24000
        self._interruption_reported = False

    @property
    def busy(self) -> bool:
        """True while an output block is open (the model is mid-transcript, mid-speech or mid-tool call)."""
        return bool(self._blocks)

    def abandon_open_blocks(self) -> None:
        """Forget blocks a failed stream left open (a new stream never closes them)."""
        self._blocks.clear()

    def feed(self, event: Mapping[str, Any]) -> list[TurnEvent]:
        """Process one raw output event."""
        return self.feed_parsed(parse_output_event(event))

    def feed_parsed(self, parsed: OutputEvent) -> list[TurnEvent]:
        """Process one parsed output event."""
        if isinstance(parsed, ContentStart):
            self._blocks[parsed.content_id] = _Block(parsed)
            if parsed.type == "AUDIO":
                self._sample_rate = parsed.sample_rate or self._sample_rate
                self._interruption_reported = False
            if parsed.type == "TEXT" and parsed.role == "USER" and parsed.stage == "FINAL":
                ended = UserTurnEnded.from_fields(parsed.fields.get("turn"))
                return [ended] if ended is not None else []
            return []
        if isinstance(parsed, TextOutput):
            block = self._blocks.get(parsed.content_id)
            if parsed.interrupted:
                if block is not None:
                    block.interrupted = True
                return self._interrupted()
            if block is not None:
                block.text.append(parsed.content)
            return []
        if isinstance(parsed, AudioOutput):
            return [AssistantAudio(parsed.pcm, self._sample_rate)]
        if isinstance(parsed, ContentEnd):
            return self._end(parsed)
        if isinstance(parsed, ToolUse):
            return [ToolRequest(parsed.tool_use_id, parsed.tool_name, parsed.arguments)]
        if isinstance(parsed, Usage):
            self.usage = parsed
            return [parsed]
        if isinstance(parsed, CompletionEnd):
            return [CompletionEnded(parsed.stop_reason)]
        if isinstance(parsed, StreamError):
            return [Failed(parsed.code, parsed.message, parsed.resumable)]
        return []

    def _interrupted(self) -> list[TurnEvent]:
        if self._interruption_reported:
            return []
        self._interruption_reported = True
        return [Interrupted()]

    def _end(self, end: ContentEnd) -> list[TurnEvent]:
        block = self._blocks.pop(end.content_id, None)
        out: list[TurnEvent] = []
        if block is None:
            return out
        start = block.start
        if start.type == "AUDIO":
            out.append(AssistantAudioEnd(end.stop_reason))
        elif start.type == "TEXT" and start.role in ("USER", "ASSISTANT"):
            text = " ".join(part.strip() for part in block.text if part.strip())
            stage: Stage = start.stage or "FINAL"
            if start.role == "USER" and parse_say_instruction(text) is not None:
                text = ""  # our own instruction echoed back: not something the candidate said
            announced = start.role == "USER" and UserTurnEnded.from_fields(start.fields.get("turn")) is not None
            if text or (announced and stage == "FINAL"):
                if start.role == "USER":
                    asr = AsrDetails.from_fields(end.fields.get("asr", start.fields.get("asr")))
                    out.append(UserTranscript(text, stage, asr))
                else:
                    out.append(AssistantText(text, stage))
                if stage == "FINAL" and text:
                    self._remember(start.role, text)
        if end.stop_reason == "INTERRUPTED" or block.interrupted:
            out += self._interrupted()
        return out

    def _remember(self, role: str, text: str) -> None:
        self.history.append(HistoryMessage("USER" if role == "USER" else "ASSISTANT", text))
