"""The WebSocket handler on API Gateway events: authentication, connection records, validation and the relay."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from ws_doubles import Candidate, RecordingConnections, RecordingInvoker

from ieltsprep.accounts.privacy import erase_user
from ieltsprep.adapters.storage.port import Key, Table
from ieltsprep.container import Container
from ieltsprep.edges.ws import relay, tokens
from ieltsprep.edges.ws.handler import handle_event
from ieltsprep.speaking.sessions import SpeakingSession, SpeakingStore

SILENCE = "AAAAAA=="  # two 16-bit samples of silence, base64


def connect(container: Container, connection_id: str, token: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "headers": {"Host": "127.0.0.1"},
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": connection_id},
        "isBase64Encoded": False,
    }
    if token is not None:
        event["queryStringParameters"] = {"token": token}
    return handle_event(container, event)


def send(container: Container, connection_id: str, message: dict[str, Any] | str) -> dict[str, Any]:
    body = message if isinstance(message, str) else json.dumps(message)
    route = (
        "nova-sonic-stream"
        if isinstance(message, dict) and message.get("action") == "nova-sonic-stream"
        else "$default"
    )
    event = {
        "requestContext": {"routeKey": route, "eventType": "MESSAGE", "connectionId": connection_id, "messageId": "m"},
        "body": body,
        "isBase64Encoded": False,
    }
    return handle_event(container, event)


def disconnect(container: Container, connection_id: str) -> dict[str, Any]:
    event = {"requestContext": {"routeKey": "$disconnect", "eventType": "DISCONNECT", "connectionId": connection_id}}
    return handle_event(container, event)


def start(assessment_id: str) -> dict[str, Any]:
    return {"action": "nova-sonic-stream", "type": "start", "assessment_id": assessment_id}


def audio(seq: int = 0) -> dict[str, Any]:
    return {"action": "nova-sonic-stream", "type": "audio", "seq": seq, "data": SILENCE}


def errors(posted: RecordingConnections, connection_id: str) -> list[str]:
    return [m["code"] for m in posted.to(connection_id) if m.get("type") == "error"]


def connect_worker(container: Container, invoked: RecordingInvoker, connection_id: str = "worker-1") -> str:
    token = invoked.calls[-1][1]["worker_token"]
    assert connect(container, connection_id, token)["statusCode"] == 200
    return connection_id


# --- $connect / $disconnect ---------------------------------------------------------------------------------


def test_connect_without_token_is_refused_with_401(container: Container) -> None:
    response = connect(container, "c1", None)
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"]["code"] == "missing_token"
    assert relay.load_connection(container, "c1") is None


def test_connect_with_unknown_session_token_is_refused_with_401(container: Container) -> None:
    assert connect(container, "c1", "not-a-session-token")["statusCode"] == 401
    assert relay.load_connection(container, "c1") is None


def test_connect_with_revoked_session_token_is_refused(container: Container, candidate: Candidate) -> None:
    container.accounts.logout(candidate.token)
    assert connect(container, "c1", candidate.token)["statusCode"] == 401


def test_connect_with_session_token_records_a_candidate_connection_with_ttl(
    container: Container, candidate: Candidate
) -> None:
    assert connect(container, "c1", candidate.token)["statusCode"] == 200
    item = container.store.get(Table.SESSIONS, Key("CONN#c1", "CONN"))
    assert item is not None
    assert item["user_id"] == candidate.user_id and item["role"] == "candidate"
    assert 7000 < item["expires_at"] - tokens.now_epoch() <= 7200


def test_deleting_the_account_erases_its_connection_records(container: Container, candidate: Candidate) -> None:
    assert connect(container, "c1", candidate.token)["statusCode"] == 200
    erase_user(container, container.accounts.get_user(candidate.user_id))
    assert container.store.get(Table.SESSIONS, Key("CONN#c1", "CONN")) is None


def connect_with_cookie(container: Container, connection_id: str, token: str, origin: str | None) -> dict[str, Any]:
    headers = {"Host": "127.0.0.1:8000", "Cookie": f"theme=dark; ieltsprep_session={token}"}
    if origin:
        headers["Origin"] = origin
    event = {
        "headers": headers,
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": connection_id},
    }
    return handle_event(container, event)


def test_the_web_session_cookie_from_an_allowed_origin_connects(container: Container, candidate: Candidate) -> None:
    origin = container.settings.cors_origins[0]
    assert connect_with_cookie(container, "c1", candidate.token, origin)["statusCode"] == 200
    record = relay.load_connection(container, "c1")
    assert record is not None and record.user_id == candidate.user_id


@pytest.mark.parametrize("origin", ["https://evil.example", None])
def test_the_session_cookie_from_another_or_no_origin_is_refused(
    container: Container, candidate: Candidate, origin: str | None
) -> None:
    # Browsers attach cookies to cross-site WebSocket handshakes: only our own pages may use them.
    assert connect_with_cookie(container, "c1", candidate.token, origin)["statusCode"] == 403
    assert relay.load_connection(container, "c1") is None


def test_disconnect_deletes_the_connection_record(container: Container, candidate: Candidate) -> None:
    connect(container, "c1", candidate.token)
    assert disconnect(container, "c1")["statusCode"] == 200
    assert relay.load_connection(container, "c1") is None


def test_worker_token_without_a_speaking_session_is_refused(
    container: Container, candidate: Candidate, new_assessment: Callable[..., str]
) -> None:
    token = tokens.issue_worker_token(
        container.settings, assessment_id=new_assessment(candidate.user_id), user_id=candidate.user_id
    )
    # No start was sent, so there is no session this worker could serve.
    assert connect(container, "w1", token)["statusCode"] == 403


def test_forged_worker_token_is_refused(container: Container, candidate: Candidate) -> None:
    forged = tokens.jwt.encode(
        {"aud": "ieltsprep:ws-worker", "sub": candidate.user_id, "aid": "x", "exp": 2**40},
        "a-guessed-secret-that-is-long-enough-for-hs256",
        algorithm="HS256",
    )
    assert connect(container, "w1", forged)["statusCode"] == 401


# --- message validation -------------------------------------------------------------------------------------


def test_non_json_message_gets_a_bad_message_error(
    container: Container, candidate: Candidate, posted: RecordingConnections
) -> None:
    connect(container, "c1", candidate.token)
    send(container, "c1", "{not json")
    assert errors(posted, "c1") == ["bad_message"]


def test_message_without_known_action_gets_an_unknown_action_error(
    container: Container, candidate: Candidate, posted: RecordingConnections
) -> None:
    connect(container, "c1", candidate.token)
    send(container, "c1", {"action": "chat", "type": "start"})
    assert errors(posted, "c1") == ["unknown_action"]


@pytest.mark.parametrize(
    "message",
    [
        {"action": "nova-sonic-stream", "type": "dance"},
        {"action": "nova-sonic-stream", "type": "audio", "seq": -1, "data": SILENCE},
        {"action": "nova-sonic-stream", "type": "audio", "seq": 1, "data": "***"},
        {"action": "nova-sonic-stream", "type": "start"},
    ],
)
def test_invalid_stream_message_gets_a_bad_message_error_and_changes_nothing(
    container: Container,
    candidate: Candidate,
    posted: RecordingConnections,
    invoked: RecordingInvoker,
    message: dict[str, Any],
) -> None:
    connect(container, "c1", candidate.token)
    response = send(container, "c1", message)
    assert response["statusCode"] == 422
    assert errors(posted, "c1") == ["bad_message"]
    assert invoked.calls == []


# --- start and the relay --------------------------------------------------------------------------------------


def test_start_opens_a_session_and_invokes_the_worker_with_a_bound_token(
    container: Container,
    candidate: Candidate,
    posted: RecordingConnections,
    invoked: RecordingInvoker,
    new_assessment: Callable[..., str],
) -> None:
    assessment_id = new_assessment(candidate.user_id)
    connect(container, "c1", candidate.token)
    assert send(container, "c1", start(assessment_id))["statusCode"] == 200

    assert [target for target, _ in invoked.calls] == ["speaking_worker"]
    payload = invoked.calls[0][1]
    assert payload["assessment_id"] == assessment_id
    assert payload["user_id"] == candidate.user_id
    assert payload["candidate_connection_id"] == "c1"
    claims = tokens.verify_worker_token(container.settings, payload["worker_token"])
    assert (claims.assessment_id, claims.user_id) == (assessment_id, candidate.user_id)
    session = SpeakingStore(container.store).get(assessment_id)
    assert session is not None and session.candidate_connection_id == "c1"
    assert errors(posted, "c1") == []


def test_start_on_another_users_assessment_is_not_found_and_starts_nothing(
    container: Container,
    candidate: Candidate,
    other_candidate: Candidate,
    posted: RecordingConnections,
    invoked: RecordingInvoker,
    new_assessment: Callable[..., str],
) -> None:
    theirs = new_assessment(other_candidate.user_id)
    connect(container, "c1", candidate.token)
    send(container, "c1", start(theirs))
    assert errors(posted, "c1") == ["assessment_not_found"]
    assert invoked.calls == []
    assert SpeakingStore(container.store).get(theirs) is None


@pytest.mark.parametrize(
    ("module", "status", "code"),
    [("academic_writing", "in_progress", "not_speaking"), ("general_speaking", "scored", "not_in_progress")],
)
def test_start_refuses_assessments_that_are_not_open_speaking_tests(
    container: Container,
    candidate: Candidate,
    posted: RecordingConnections,
    invoked: RecordingInvoker,
    new_assessment: Callable[..., str],
    module: str,
    status: str,
    code: str,
) -> None:
    connect(container, "c1", candidate.token)
    send(container, "c1", start(new_assessment(candidate.user_id, module=module, status=status)))
    assert errors(posted, "c1") == [code]
    assert invoked.calls == []


@pytest.fixture
def started(
    container: Container,
    candidate: Candidate,
    posted: RecordingConnections,
    invoked: RecordingInvoker,
    new_assessment: Callable[..., str],
) -> str:
    """A speaking test the candidate started on connection c1 (worker invoked, not connected yet)."""
    assessment_id = new_assessment(candidate.user_id)
    connect(container, "c1", candidate.token)
    send(container, "c1", start(assessment_id))
    return assessment_id


@pytest.fixture
def running(container: Container, invoked: RecordingInvoker, started: str) -> str:
    """A started test whose worker has connected as w1."""
    connect_worker(container, invoked, "w1")
    return started


def session_of(container: Container, assessment_id: str) -> SpeakingSession:
    session = SpeakingStore(container.store).get(assessment_id)
    assert session is not None
    return session


def test_worker_connects_with_its_token_and_is_attached_to_the_session(container: Container, running: str) -> None:
    worker = relay.load_connection(container, "w1")
    assert worker is not None and worker.role == "worker" and worker.assessment_id == running
    assert session_of(container, running).worker_connection_id == "w1"


def test_audio_and_stop_are_forwarded_to_the_worker_connection(
    container: Container, posted: RecordingConnections, running: str
) -> None:
    send(container, "c1", audio(7))
    send(container, "c1", {"action": "nova-sonic-stream", "type": "stop"})
    assert posted.to("w1") == [
        {"action": "nova-sonic-stream", "type": "audio", "seq": 7, "data": SILENCE},
        {"action": "nova-sonic-stream", "type": "stop"},
    ]


def test_audio_before_the_worker_connects_is_dropped_without_error(
    container: Container, posted: RecordingConnections, started: str
) -> None:
    assert send(container, "c1", audio())["statusCode"] == 200
    assert posted.sent == []


def test_stop_before_the_worker_connects_says_the_examiner_is_unavailable(
    container: Container, posted: RecordingConnections, started: str
) -> None:
    send(container, "c1", {"action": "nova-sonic-stream", "type": "stop"})
    assert errors(posted, "c1") == ["worker_unavailable"]


def test_audio_before_start_gets_not_started(
    container: Container, candidate: Candidate, posted: RecordingConnections
) -> None:
    connect(container, "c1", candidate.token)
    send(container, "c1", audio())
    assert errors(posted, "c1") == ["not_started"]


def test_reconnect_repoints_the_session_and_tells_the_live_worker(
    container: Container, candidate: Candidate, posted: RecordingConnections, invoked: RecordingInvoker, running: str
) -> None:
    disconnect(container, "c1")
    connect(container, "c2", candidate.token)
    send(container, "c2", start(running))
    assert len(invoked.calls) == 1  # no second worker
    assert posted.to("w1") == [
        {"type": "candidate_disconnected", "connection_id": "c1"},
        {"type": "candidate_reconnected", "connection_id": "c2"},
    ]
    assert session_of(container, running).candidate_connection_id == "c2"


def test_old_connection_cannot_keep_sending_after_a_reconnect(
    container: Container, candidate: Candidate, posted: RecordingConnections, running: str
) -> None:
    connect(container, "c2", candidate.token)
    send(container, "c2", start(running))
    send(container, "c1", audio())
    assert errors(posted, "c1") == ["superseded"]
    assert [m["type"] for m in posted.to("w1")] == ["candidate_reconnected"]


def test_second_start_while_the_worker_is_still_starting_launches_no_twin(
    container: Container, invoked: RecordingInvoker, started: str
) -> None:
    send(container, "c1", start(started))
    assert len(invoked.calls) == 1


def test_start_after_the_worker_vanished_launches_a_new_worker(
    container: Container, candidate: Candidate, posted: RecordingConnections, invoked: RecordingInvoker, running: str
) -> None:
    posted.gone.add("w1")  # the worker died without a $disconnect
    connect(container, "c2", candidate.token)
    send(container, "c2", start(running))
    assert len(invoked.calls) == 2
    assert invoked.calls[1][1]["candidate_connection_id"] == "c2"
    assert relay.load_connection(container, "w1") is None
    assert errors(posted, "c2") == []


def test_audio_to_a_vanished_worker_tells_the_candidate_to_start_again(
    container: Container, posted: RecordingConnections, running: str
) -> None:
    posted.gone.add("w1")
    send(container, "c1", audio())
    assert errors(posted, "c1") == ["worker_unavailable"]
    assert session_of(container, running).worker_connection_id is None


def test_worker_disconnect_detaches_it_from_the_session(container: Container, running: str) -> None:
    disconnect(container, "w1")
    assert session_of(container, running).worker_connection_id is None


def test_worker_cannot_send_stream_messages_for_the_candidate(
    container: Container, posted: RecordingConnections, running: str
) -> None:
    send(container, "w1", audio())
    assert errors(posted, "w1") == ["forbidden"]
    assert posted.to("c1") == []


def test_message_on_an_unknown_connection_is_rejected_without_reply(
    container: Container, posted: RecordingConnections
) -> None:
    assert send(container, "ghost", audio())["statusCode"] == 401
    assert posted.sent == []
