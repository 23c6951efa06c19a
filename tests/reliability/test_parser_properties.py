"""Property tests of the parsers that face hostile input: WebSocket frames, the purchase validator body and the
store notification bodies. Whatever arrives, each answers with its typed refusal and changes nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from apiclient import Api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ieltsprep.adapters.stores import StoreRejected
from ieltsprep.billing import ledger
from ieltsprep.billing.notifications import Handled
from ieltsprep.container import Container
from ieltsprep.edges.ws.messages import (
    MAX_AUDIO_BYTES,
    AudioMessage,
    StartMessage,
    StopMessage,
    parse_client_message,
)
from ieltsprep.errors import ValidationFailed

FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
KEYS = ["action", "type", "assessment_id", "seq", "data", "transaction", "id", "jwsRepresentation", "signedPayload",
        "message", "messageId", "purchaseToken", "appStoreReceipt", "additionalData"]  # fmt: skip
# Objects shaped like the real ones (the keys the parsers look for) with hostile values.
shaped = st.dictionaries(st.sampled_from(KEYS), json_values | st.sampled_from(["start", "audio", "stop", "apple-sk2",
                         "ios-appstore", "android-playstore", "nova-sonic-stream", "e30.e30.e30", "AAAA"]),
                         max_size=6)  # fmt: skip
nested = st.builds(lambda outer, inner, key: {**outer, key: inner}, shaped, shaped,
                   st.sampled_from(["transaction", "message", "additionalData"]))  # fmt: skip
hostile = json_values | shaped | nested


@FAST
@given(frame=st.one_of(st.text(max_size=200), hostile.map(json.dumps), st.none()))
def test_any_websocket_frame_parses_to_a_contract_message_or_a_bad_message_refusal(frame: str | None) -> None:
    try:
        message = parse_client_message(frame)
    except ValidationFailed as exc:
        assert exc.code == "bad_message" and str(exc)
    else:
        assert isinstance(message, StartMessage | AudioMessage | StopMessage)
        assert message.action == "nova-sonic-stream"


@FAST
@given(
    assessment_id=st.from_regex(r"[0-9A-Za-z_-]{1,64}", fullmatch=True),
    samples=st.binary(max_size=MAX_AUDIO_BYTES).map(lambda b: b[: len(b) // 2 * 2]),
    seq=st.integers(min_value=0, max_value=2**31),
    extra=st.dictionaries(st.sampled_from(["client_ts", "id", "note"]), json_values, max_size=2),
)
def test_valid_frames_round_trip_and_client_extras_are_ignored(
    assessment_id: str, samples: bytes, seq: int, extra: dict[str, Any]
) -> None:
    data = base64.b64encode(samples).decode()
    start = parse_client_message(json.dumps({**extra, "action": "nova-sonic-stream", "type": "start",
                                             "assessment_id": assessment_id}))  # fmt: skip
    assert isinstance(start, StartMessage) and start.assessment_id == assessment_id
    audio = parse_client_message(json.dumps({**extra, "action": "nova-sonic-stream", "type": "audio", "seq": seq,
                                             "data": data}))  # fmt: skip
    assert isinstance(audio, AudioMessage) and base64.b64decode(audio.data) == samples and audio.seq == seq
    assert isinstance(parse_client_message('{"action":"nova-sonic-stream","type":"stop"}'), StopMessage)


@FAST
@given(size=st.integers(min_value=1, max_value=MAX_AUDIO_BYTES + 64))
def test_audio_larger_than_32_kb_or_of_half_samples_is_refused(size: int) -> None:
    frame = json.dumps({"action": "nova-sonic-stream", "type": "audio", "seq": 0,
                        "data": base64.b64encode(b"\x01" * size).decode()})  # fmt: skip
    if size > MAX_AUDIO_BYTES or size % 2:
        with pytest.raises(ValidationFailed):
            parse_client_message(frame)
    else:
        assert isinstance(parse_client_message(frame), AudioMessage)


def test_validator_body_parser_answers_every_hostile_body_with_ok_false_and_grants_nothing(
    api: Api, container: Container
) -> None:
    token = api.signed_up("hostile@example.com")
    user = container.accounts.authenticate(token)

    @FAST
    @given(body=hostile)
    def run(body: Any) -> None:
        answer = container.purchases.verify(user, body)
        assert answer["ok"] is False and answer["code"] == 6777017 and isinstance(answer["message"], str)

    run()

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(raw=st.text(max_size=300) | hostile.map(json.dumps))
    def over_http(raw: str) -> None:
        reply = api.call("POST", "/api/purchases/verify", raw=raw, token=token)
        assert reply.status == 200 and reply.json["ok"] is False

    over_http()
    assert set(ledger.balances(container.store, user.id).values()) == {0}
    assert ledger.entries(container.store, user.id) == []


def test_notification_parsers_refuse_every_hostile_body_with_store_rejected(container: Container) -> None:
    service = container.store_notifications

    @FAST
    @given(body=hostile, pubsub_data=hostile.map(lambda v: base64.b64encode(json.dumps(v).encode()).decode()))
    def run(body: Any, pubsub_data: str) -> None:
        for call, arg in ((service.apple_notification, body), (service.google_notification, body),
                          (service.google_notification, {"message": {"data": pubsub_data, "messageId": "m1"}})):  # fmt: skip
            try:
                handled = call(arg)
            except StoreRejected as exc:
                assert str(exc)
            else:  # a well-formed Pub/Sub envelope of something we do not act on (a test ping, say) is acknowledged
                assert isinstance(handled, Handled)

    run()
