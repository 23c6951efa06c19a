"""The WebSocket messages of API.md: what the edge accepts from clients and what the server sends."""

from __future__ import annotations

import base64

import pytest

from ieltsprep.edges.ws.messages import (
    MAX_AUDIO_BYTES,
    AudioMessage,
    ServerAudioMessage,
    StartMessage,
    StateMessage,
    StopMessage,
    TranscriptMessage,
    parse_client_message,
)
from ieltsprep.errors import ValidationFailed


def pcm(n_bytes: int) -> str:
    return base64.b64encode(b"\x00" * n_bytes).decode()


def test_start_audio_and_stop_parse_into_their_models() -> None:
    start = parse_client_message('{"action":"nova-sonic-stream","type":"start","assessment_id":"01abc"}')
    audio = parse_client_message(f'{{"action":"nova-sonic-stream","type":"audio","seq":3,"data":"{pcm(640)}"}}')
    stop = parse_client_message('{"action":"nova-sonic-stream","type":"stop"}')
    assert isinstance(start, StartMessage) and start.assessment_id == "01abc"
    assert isinstance(audio, AudioMessage) and audio.seq == 3
    assert isinstance(stop, StopMessage)


def test_audio_of_exactly_32_kb_is_accepted() -> None:
    message = parse_client_message(
        f'{{"action":"nova-sonic-stream","type":"audio","seq":0,"data":"{pcm(MAX_AUDIO_BYTES)}"}}'
    )
    assert isinstance(message, AudioMessage)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"action":"nova-sonic-stream","type":"hello"}', "type"),
        ('{"action":"nova-sonic-stream","type":"start","assessment_id":"../x"}', "assessment_id"),
        ('{"action":"nova-sonic-stream","type":"audio","seq":0,"data":"%%%"}', "base64"),
        ('{"action":"nova-sonic-stream","type":"audio","seq":0,"data":"AA=="}', "16-bit"),
        (f'{{"action":"nova-sonic-stream","type":"audio","seq":0,"data":"{pcm(MAX_AUDIO_BYTES + 2)}"}}', "exceeds"),
        ('{"action":"nova-sonic-stream","type":"audio","seq":"x","data":"AAAA"}', "seq"),
    ],
)
def test_malformed_client_messages_are_refused_with_a_reason(body: str, fragment: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        parse_client_message(body)
    assert raised.value.code == "bad_message"
    assert fragment in raised.value.message


def test_extra_client_fields_are_ignored_rather_than_refused() -> None:
    message = parse_client_message('{"action":"nova-sonic-stream","type":"stop","client_time":123}')
    assert message.dump() == {"action": "nova-sonic-stream", "type": "stop"}


def test_server_messages_dump_the_api_shape_without_unset_fields() -> None:
    assert StateMessage(part=2, phase="prep").dump() == {"type": "state", "part": 2, "phase": "prep"}
    assert StateMessage(part=2, phase="talk", seconds_left=60).dump()["seconds_left"] == 60
    assert TranscriptMessage(role="examiner", text="Hello", final=True).dump() == {
        "type": "transcript",
        "role": "examiner",
        "text": "Hello",
        "final": True,
    }


def test_server_audio_obeys_the_same_32_kb_limit() -> None:
    with pytest.raises(ValueError):
        ServerAudioMessage(seq=0, data=pcm(MAX_AUDIO_BYTES + 2))
