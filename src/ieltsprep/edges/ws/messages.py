"""The WebSocket messages of docs/API.md as pydantic models: validated at the edge, serialised by the worker.

Client → server messages are parsed with ``parse_client_message``; server → client messages are built with the
models below and sent with ``message.dump()`` so their shape cannot drift from the contract.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from ieltsprep.errors import ValidationFailed

ACTION: Literal["nova-sonic-stream"] = "nova-sonic-stream"
# One message carries at most 32 KB of audio (API.md), which is also API Gateway's frame limit.
MAX_AUDIO_BYTES = 32 * 1024


def _check_audio(data: str) -> str:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("data must be base64") from exc
    if len(raw) > MAX_AUDIO_BYTES:
        raise ValueError(f"audio chunk of {len(raw)} bytes exceeds {MAX_AUDIO_BYTES}")
    if len(raw) % 2:
        raise ValueError("audio must be whole 16-bit samples")
    return data


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def dump(self) -> dict[str, Any]:
        """The JSON object sent on the wire (optional fields left out when unset)."""
        return self.model_dump(exclude_none=True)


class _ClientMessage(_Message):
    # Clients may add fields of their own (ids, timestamps); ignore them rather than refuse the message.
    model_config = ConfigDict(extra="ignore", frozen=True)
    action: Literal["nova-sonic-stream"] = ACTION


class StartMessage(_ClientMessage):
    """Begin or resume the speaking test of an assessment the caller owns."""

    type: Literal["start"]
    assessment_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")


class AudioMessage(_ClientMessage):
    """Microphone audio: base64 of 16 kHz little-endian 16-bit mono PCM."""

    type: Literal["audio"]
    seq: int = Field(ge=0)
    data: str

    _data = field_validator("data")(_check_audio)


class StopMessage(_ClientMessage):
    """End the test early; what was said so far is scored."""

    type: Literal["stop"]


ClientMessage = Annotated[StartMessage | AudioMessage | StopMessage, Field(discriminator="type")]
_client_adapter: TypeAdapter[StartMessage | AudioMessage | StopMessage] = TypeAdapter(ClientMessage)


def parse_client_message(body: str | None) -> StartMessage | AudioMessage | StopMessage:
    """Validate one client frame; raises ``ValidationFailed`` with a message naming what is wrong."""
    try:
        payload = json.loads(body or "")
    except json.JSONDecodeError as exc:
        raise ValidationFailed("message is not JSON", code="bad_message") from exc
    if not isinstance(payload, dict):
        raise ValidationFailed("message must be a JSON object", code="bad_message")
    try:
        return _client_adapter.validate_python(payload)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'message'}: {err['msg']}" for err in exc.errors()
        )
        raise ValidationFailed(details, code="bad_message") from exc


# --- server → client --------------------------------------------------------------------------------------


class ReadyMessage(_Message):
    """The examiner is connected and listening."""

    type: Literal["ready"] = "ready"
    assessment_id: str


class StateMessage(_Message):
    """Where the test is: part, phase and (when timed) seconds left."""

    type: Literal["state"] = "state"
    part: Literal[1, 2, 3]
    phase: Literal["intro", "question", "prep", "talk", "discussion", "closing"]
    seconds_left: float | None = None


class TranscriptMessage(_Message):
    """Text of what the examiner or the candidate said (interim or final)."""

    type: Literal["transcript"] = "transcript"
    role: Literal["examiner", "candidate"]
    text: str
    final: bool


class ServerAudioMessage(_Message):
    """The examiner's voice: base64 of 24 kHz little-endian 16-bit mono PCM."""

    type: Literal["audio"] = "audio"
    seq: int = Field(ge=0)
    data: str

    _data = field_validator("data")(_check_audio)


class InterruptedMessage(_Message):
    """The candidate spoke over the examiner: the client flushes its playback queue."""

    type: Literal["interrupted"] = "interrupted"


class CompleteMessage(_Message):
    """The test ended; the result follows on GET /api/assessments/{id}."""

    type: Literal["complete"] = "complete"
    assessment_id: str


class ErrorMessage(_Message):
    """Something the client did or needs to know went wrong."""

    type: Literal["error"] = "error"
    code: str
    message: str


class CandidateReconnected(_Message):
    """To the worker: the candidate is back on a new connection; post there from now on."""

    type: Literal["candidate_reconnected"] = "candidate_reconnected"
    connection_id: str


class CandidateDisconnected(_Message):
    """To the worker: the candidate's connection closed; a reconnect may follow."""

    type: Literal["candidate_disconnected"] = "candidate_disconnected"
    connection_id: str
