"""The local gateway's WebSocket API: API Gateway events, upgrade refusal, route selection, limits, @connections."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request

from ieltsprep.edges.connections import ConnectionGone
from ieltsprep.edges.gateway.server import BackgroundServer
from ieltsprep.edges.gateway.websocket import (
    LiveConnection,
    connect_event,
    disconnect_event,
    message_event,
    new_connection_id,
    select_route,
)
from ieltsprep.edges.ws import relay

PASSWORD = "correct horse battery staple"


def session_token(server: BackgroundServer, email: str = "ws@example.com") -> str:
    accounts = server.container.accounts
    accounts.register(email, PASSWORD, terms=True, age_16_plus=True)
    return accounts.login(email, PASSWORD).token


def run(scenario: Callable[[aiohttp.ClientSession], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with aiohttp.ClientSession() as session:
            return await scenario(session)

    return asyncio.run(main())


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# --- event shapes (../reference/nova_sonic.md section 13) ---------------------------------------------------


def test_connect_event_carries_the_token_headers_and_a_connect_context() -> None:
    request = make_mocked_request(
        "GET",
        "/ws?token=abc&x=1&x=2",
        headers={"Host": "127.0.0.1:8000", "User-Agent": "t", "X-Forwarded-For": "10.0.0.9"},
    )
    event = connect_event(request, "conn-1=")
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"], context["connectionId"]) == ("$connect", "CONNECT", "conn-1=")
    assert context["messageDirection"] == "IN"
    assert context["identity"]["userAgent"] == "t"
    assert context["domainName"] == "127.0.0.1:8000"
    for key in ("stage", "apiId", "requestId", "extendedRequestId", "requestTime", "requestTimeEpoch", "connectedAt"):
        assert key in context
    assert event["queryStringParameters"] == {"token": "abc", "x": "2"}
    assert event["multiValueQueryStringParameters"]["x"] == ["1", "2"]
    assert event["headers"]["User-Agent"] == "t"
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["headers"]["X-Forwarded-For"].startswith("10.0.0.9, ")
    assert event["multiValueHeaders"]["X-Forwarded-For"] == [event["headers"]["X-Forwarded-For"]]
    assert event["multiValueHeaders"]["User-Agent"] == ["t"]
    assert "messageId" not in context


def test_message_and_disconnect_events_have_their_event_types() -> None:
    request = make_mocked_request("GET", "/ws")
    connection = LiveConnection("c=", socket=None, source_ip="127.0.0.1", user_agent="t")  # type: ignore[arg-type]
    message = message_event(request, connection, '{"action":"nova-sonic-stream","type":"stop"}', binary=False)
    assert message["requestContext"]["routeKey"] == "nova-sonic-stream"
    assert message["requestContext"]["eventType"] == "MESSAGE"
    assert message["requestContext"]["messageId"]
    assert message["body"] == '{"action":"nova-sonic-stream","type":"stop"}'
    assert message["isBase64Encoded"] is False
    gone = disconnect_event(request, connection, 1001, "Going away")
    assert gone["requestContext"]["eventType"] == "DISCONNECT"
    assert (gone["requestContext"]["disconnectStatusCode"], gone["requestContext"]["disconnectReason"]) == (
        1001,
        "Going away",
    )


@pytest.mark.parametrize(
    ("body", "route"),
    [
        ('{"action":"nova-sonic-stream"}', "nova-sonic-stream"),
        ('{"action":"other"}', "$default"),
        ('{"type":"start"}', "$default"),
        ('{"action": 5}', "$default"),
        ("not json", "$default"),
        ("[]", "$default"),
    ],
)
def test_route_selection_on_the_body_action(body: str, route: str) -> None:
    assert select_route(body) == route


def test_connection_ids_are_url_safe_and_shaped_like_api_gateways() -> None:
    ids = {new_connection_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 12 and i.endswith("=") and "/" not in i and "+" not in i for i in ids)


# --- over a real socket --------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?token=", "?token=not-a-token", "?token=a.b.c"])
def test_a_websocket_without_a_valid_token_is_refused(live_server: BackgroundServer, query: str) -> None:
    async def scenario(session: aiohttp.ClientSession) -> int:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(live_server.ws_url + query)
        return refused.value.status

    assert run(scenario) == 401
    assert live_server.gateway.connections == {}


def test_the_web_app_served_on_any_port_opens_the_websocket_with_its_cookie_from_its_own_origin(
    live_server: BackgroundServer,
) -> None:
    """The gateway listens on a free port (never the configured 8000): its own origin is allowed, a stranger's not."""
    token = session_token(live_server, "cookie@example.com")
    own = live_server.base_url.replace("127.0.0.1", "localhost")
    assert live_server.base_url not in ("http://127.0.0.1:8000", "http://localhost:8000")

    async def open_from(session: aiohttp.ClientSession, origin: str) -> int:
        headers = {"Origin": origin, "Cookie": f"ieltsprep_session={token}"}
        try:
            async with session.ws_connect(live_server.ws_url, headers=headers) as socket:
                await socket.close()
                return 101
        except aiohttp.WSServerHandshakeError as refused:
            return refused.status

    async def scenario(session: aiohttp.ClientSession) -> list[int]:
        return [await open_from(session, origin) for origin in (live_server.base_url, own, "http://evil.example")]

    assert run(scenario) == [101, 101, 403]


def test_a_websocket_with_a_session_token_connects_and_is_recorded_until_it_closes(
    live_server: BackgroundServer,
) -> None:
    token = session_token(live_server)

    async def scenario(session: aiohttp.ClientSession) -> str:
        async with session.ws_connect(f"{live_server.ws_url}?token={token}") as socket:
            (connection_id,) = live_server.gateway.connections
            record = relay.load_connection(live_server.container, connection_id)
            assert record is not None and record.role == "candidate"
            await socket.close()
        return connection_id

    connection_id = run(scenario)
    wait_for(lambda: relay.load_connection(live_server.container, connection_id) is None)


def test_bad_frames_get_error_messages_and_the_route_answer_is_not_echoed(live_server: BackgroundServer) -> None:
    token = session_token(live_server)

    async def scenario(session: aiohttp.ClientSession) -> list[dict[str, Any]]:
        received = []
        async with session.ws_connect(f"{live_server.ws_url}?token={token}") as socket:
            for frame in (
                "not json",
                '{"action":"dance"}',
                '{"action":"nova-sonic-stream","type":"audio","seq":0,"data":"!"}',
            ):
                await socket.send_str(frame)
                received.append(json.loads((await socket.receive(timeout=5)).data))
            # Nothing else arrives: the handler's return value is not a reply.
            with pytest.raises(asyncio.TimeoutError):
                await socket.receive(timeout=0.3)
        return received

    received = run(scenario)
    assert [(m["type"], m["code"]) for m in received] == [
        ("error", "bad_message"),
        ("error", "unknown_action"),
        ("error", "bad_message"),
    ]


def test_a_frame_over_32_kb_closes_the_socket_with_1009_and_disconnects(live_server: BackgroundServer) -> None:
    token = session_token(live_server)

    async def scenario(session: aiohttp.ClientSession) -> tuple[str, Any]:
        async with session.ws_connect(f"{live_server.ws_url}?token={token}") as socket:
            (connection_id,) = live_server.gateway.connections
            await socket.send_str(json.dumps({"action": "nova-sonic-stream", "pad": "x" * 33 * 1024}))
            frame = await socket.receive(timeout=5)
            return connection_id, frame

    connection_id, frame = run(scenario)
    assert frame.type == aiohttp.WSMsgType.CLOSE and frame.data == 1009
    wait_for(lambda: relay.load_connection(live_server.container, connection_id) is None)


def test_connections_post_through_boto3_reaches_the_socket(live_server: BackgroundServer) -> None:
    token = session_token(live_server)
    connections = live_server.container.connections

    async def scenario(session: aiohttp.ClientSession) -> dict[str, Any]:
        async with session.ws_connect(f"{live_server.ws_url}?token={token}") as socket:
            (connection_id,) = live_server.gateway.connections
            assert await asyncio.to_thread(connections.is_connected, connection_id)
            await asyncio.to_thread(connections.post, connection_id, {"type": "ready", "assessment_id": "a1"})
            frame = await socket.receive(timeout=5)
            assert frame.type == aiohttp.WSMsgType.TEXT
            return dict(json.loads(frame.data))

    assert run(scenario) == {"type": "ready", "assessment_id": "a1"}


def test_posting_to_an_unknown_connection_raises_connection_gone(live_server: BackgroundServer) -> None:
    with pytest.raises(ConnectionGone):
        live_server.container.connections.post("AAAAAAAAAAA=", {"type": "ready", "assessment_id": "a"})
    assert live_server.container.connections.is_connected("AAAAAAAAAAA=") is False


def test_get_connection_describes_the_socket(live_server: BackgroundServer) -> None:
    token = session_token(live_server)

    async def scenario(session: aiohttp.ClientSession) -> dict[str, Any]:
        async with session.ws_connect(f"{live_server.ws_url}?token={token}", headers={"User-Agent": "probe"}):
            (connection_id,) = live_server.gateway.connections
            client = live_server.container.connections.client
            return dict(await asyncio.to_thread(client.get_connection, ConnectionId=connection_id))

    described = run(scenario)
    assert described["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "probe"}
    assert described["ConnectedAt"] <= described["LastActiveAt"]


def test_deleting_a_connection_closes_the_socket_and_runs_disconnect(live_server: BackgroundServer) -> None:
    token = session_token(live_server)

    async def scenario(session: aiohttp.ClientSession) -> tuple[str, Any]:
        async with session.ws_connect(f"{live_server.ws_url}?token={token}") as socket:
            (connection_id,) = live_server.gateway.connections
            await asyncio.to_thread(live_server.container.connections.disconnect, connection_id)
            return connection_id, await socket.receive(timeout=5)

    connection_id, frame = run(scenario)
    assert frame.type == aiohttp.WSMsgType.CLOSE
    wait_for(lambda: relay.load_connection(live_server.container, connection_id) is None)


def test_management_api_refuses_unsigned_and_oversized_requests(live_server: BackgroundServer) -> None:
    token = session_token(live_server)

    async def scenario(session: aiohttp.ClientSession) -> tuple[int, int, str]:
        async with session.ws_connect(f"{live_server.ws_url}?token={token}"):
            (connection_id,) = live_server.gateway.connections
            url = f"{live_server.base_url}/@connections/{connection_id}"
            async with session.post(url, data=b"{}") as unsigned:
                unsigned_status = unsigned.status
            signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=local/..."}
            async with session.post(url, data=b"x" * (128 * 1024 + 1), headers=signed) as big:
                return unsigned_status, big.status, big.headers["x-amzn-ErrorType"]

    assert run(scenario) == (403, 413, "PayloadTooLargeException")


def test_the_relay_over_real_sockets_candidate_audio_reaches_the_worker_peer_and_its_posts_reach_the_candidate(
    live_server: BackgroundServer,
) -> None:
    from ieltsprep.adapters.storage.port import Put, Table

    container = live_server.container
    token = session_token(live_server)
    user_id = container.accounts.authenticate(token).id
    item = {"pk": f"USER#{user_id}", "sk": "ASSESSMENT#a1", "module": "general_speaking", "status": "in_progress"}
    container.store.put(Put(Table.ASSESSMENTS, item))
    invocations: list[dict[str, Any]] = []

    class Capture:
        """Keeps the worker invocation instead of running a speaking worker."""

        def invoke_async(self, target: str, payload: dict[str, Any]) -> None:
            invocations.append(payload)

        def close(self) -> None:
            return None

    container.__dict__["invoker"] = Capture()

    async def scenario(session: aiohttp.ClientSession) -> tuple[dict[str, Any], dict[str, Any]]:
        async with session.ws_connect(f"{live_server.ws_url}?token={token}") as candidate:
            await candidate.send_str(
                json.dumps({"action": "nova-sonic-stream", "type": "start", "assessment_id": "a1"})
            )
            await asyncio.to_thread(wait_for, lambda: len(invocations) == 1)
            payload = invocations[0]
            async with session.ws_connect(f"{live_server.ws_url}?token={payload['worker_token']}") as worker:
                audio = {"action": "nova-sonic-stream", "type": "audio", "seq": 0, "data": "AAAAAA=="}
                await candidate.send_str(json.dumps(audio))
                forwarded = json.loads((await worker.receive(timeout=5)).data)
                await asyncio.to_thread(
                    container.connections.post,
                    payload["candidate_connection_id"],
                    {"type": "ready", "assessment_id": "a1"},
                )
                received = json.loads((await candidate.receive(timeout=5)).data)
        return forwarded, received

    forwarded, received = run(scenario)
    assert forwarded == {"action": "nova-sonic-stream", "type": "audio", "seq": 0, "data": "AAAAAA=="}
    assert received == {"type": "ready", "assessment_id": "a1"}


@pytest.mark.parametrize(
    ("limit", "reason"), [("idle_seconds", "Going away"), ("connection_seconds", "Connection duration limit reached")]
)
def test_idle_and_overlong_connections_are_closed_with_1001_and_disconnected(
    live_server: BackgroundServer, monkeypatch: pytest.MonkeyPatch, limit: str, reason: str
) -> None:
    from ieltsprep.edges.ws import handler

    setattr(live_server.gateway.limits, limit, 0.3)
    token = session_token(live_server)
    seen: list[dict[str, Any]] = []
    handle_event = handler.handle_event

    def spy(container: Any, event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        return handle_event(container, event)

    monkeypatch.setattr(handler, "handle_event", spy)

    async def scenario(session: aiohttp.ClientSession) -> Any:
        async with session.ws_connect(f"{live_server.ws_url}?token={token}") as socket:
            return await socket.receive(timeout=5)

    frame = run(scenario)
    assert frame.type == aiohttp.WSMsgType.CLOSE and frame.data == 1001
    wait_for(lambda: any(e["requestContext"]["routeKey"] == "$disconnect" for e in seen))
    (gone,) = [e for e in seen if e["requestContext"]["routeKey"] == "$disconnect"]
    assert gone["requestContext"]["disconnectStatusCode"] == 1001
    assert gone["requestContext"]["disconnectReason"] == reason
