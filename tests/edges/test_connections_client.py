"""Posting to WebSocket connections with boto3's apigatewaymanagementapi client (Stubber: no AWS)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ieltsprep.edges.connections import MAX_POST_BYTES, ConnectionGone, Connections
from ieltsprep.errors import AppError, ServiceUnavailable
from ieltsprep.settings import Settings


def client() -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url="https://abc.execute-api.eu-west-1.amazonaws.com/prod",
        region_name="eu-west-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def test_post_sends_compact_json_to_the_connection(settings: Settings) -> None:
    api = client()
    with Stubber(api) as stub:
        stub.add_response(
            "post_to_connection", {}, {"ConnectionId": "c1=", "Data": b'{"type":"ready","assessment_id":"a"}'}
        )
        Connections(settings, api).post("c1=", {"type": "ready", "assessment_id": "a"})
        stub.assert_no_pending_responses()


def test_gone_exception_becomes_connection_gone(settings: Settings) -> None:
    api = client()
    with Stubber(api) as stub:
        stub.add_client_error("post_to_connection", service_error_code="GoneException", http_status_code=410)
        with pytest.raises(ConnectionGone) as gone:
            Connections(settings, api).post("c1=", {"type": "complete", "assessment_id": "a"})
    assert gone.value.connection_id == "c1="


def test_other_service_errors_are_not_mistaken_for_a_gone_connection(settings: Settings) -> None:
    api = client()
    with Stubber(api) as stub:
        stub.add_client_error("post_to_connection", service_error_code="LimitExceededException", http_status_code=429)
        with pytest.raises(Exception, match="LimitExceeded") as raised:
            Connections(settings, api).post("c1=", {"type": "interrupted"})
    assert not isinstance(raised.value, ConnectionGone)


def test_a_message_over_128_kb_is_refused_before_sending(settings: Settings) -> None:
    api = client()
    with Stubber(api), pytest.raises(AppError) as refused:
        Connections(settings, api).post("c1=", {"type": "transcript", "text": "x" * MAX_POST_BYTES})
    assert refused.value.status == 413


def test_without_a_management_endpoint_posting_is_a_configuration_error(settings: Settings) -> None:
    with pytest.raises(ServiceUnavailable):
        Connections(settings).post("c1=", {"type": "interrupted"})


def test_disconnect_of_a_gone_connection_is_not_an_error(settings: Settings) -> None:
    api = client()
    with Stubber(api) as stub:
        stub.add_client_error("delete_connection", service_error_code="GoneException", http_status_code=410)
        Connections(settings, api).disconnect("c1=")
        stub.assert_no_pending_responses()
