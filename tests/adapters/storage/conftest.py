"""DynamoDB over real HTTP: a moto server on loopback for the whole session, and a client for it."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server


class AtomicMotoServer(ThreadedMotoServer):
    """moto's threaded server, with each request handled whole before the next.

    DynamoDB evaluates a condition and applies the write atomically per item; moto's backend does not lock, so under
    a threaded server two conditional decrements can both pass their check. Serialising requests restores the
    guarantee DynamoDB gives (clients still race over real HTTP), so concurrency tests test our adapter, not moto.
    """

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def serialised(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            with lock:
                return list(app(environ, start_response))

        self._server = make_server(self._ip_address, self._port, serialised, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server on a free loopback port, shared by the session (tables are made fresh per test)."""
    server = AtomicMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def dynamodb_client(moto_endpoint: str) -> Iterator[Any]:
    """A boto3 DynamoDB client for the moto server, with dummy credentials."""
    import boto3

    from ieltsprep.adapters.storage.dynamodb import BOTO_CONFIG

    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=BOTO_CONFIG,
    )
    yield client
    client.close()
