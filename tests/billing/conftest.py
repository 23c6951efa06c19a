"""Billing fixtures: buyers, and the local test store's chain and Play fake as the stores' stand-ins."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ieltsprep.adapters.stores.apple import AppleServerApi
from ieltsprep.adapters.stores.local_store import FakePlayApi, LocalTestStore
from ieltsprep.container import Container
from ieltsprep.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Local settings with the test store on and a cheap argon2 cost (registration is not under test here)."""
    return Settings(
        stage="local",
        data_dir=tmp_path / "var",
        cookie_secure=False,
        test_store_enabled=True,
        password_time_cost=1,
        password_memory_kib=8 * 1024,
    )


@dataclass(frozen=True)
class Buyer:
    """The fields of ``accounts.models.User`` billing reads."""

    id: str
    is_tester: bool = False
    app_account_token: str = ""


@pytest.fixture
def alice() -> Buyer:
    return Buyer("alice", app_account_token="0b6f6c8e-2c55-4d8e-9d4f-6d9b0a4c1e11")


@pytest.fixture
def bob() -> Buyer:
    return Buyer("bob", app_account_token="5f0e7f44-6a6e-4f0e-8a3b-2f1b5c7d9e22")


@pytest.fixture
def tester() -> Buyer:
    return Buyer("tess", is_tester=True, app_account_token="7a1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c44")


@pytest.fixture
def apple_store(container: Container) -> LocalTestStore:
    store = container.local_test_store
    assert store is not None
    return store


@pytest.fixture
def play(container: Container) -> FakePlayApi:
    fake = container.fake_play_api
    assert fake is not None
    return fake


class FakeAppStoreServerApi:
    """A loopback App Store Server API: transaction history V2 and consumption information."""

    def __init__(self) -> None:
        self.history: dict[str, list[str]] = {}  # any transaction id -> signed transactions of that customer
        self.consumption: list[tuple[str, dict[str, Any]]] = []
        self.authorizations: list[str] = []
        self.fail_puts = 0  # how many consumption PUTs to answer with 500 first
        self.notifications: list[str] = []  # what Get Notification History returns
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: object | None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                fake.authorizations.append(self.headers.get("Authorization", ""))
                path = self.path.split("?")[0]
                tid = path.rsplit("/", 1)[-1]
                if path.startswith("/inApps/v2/history/") and tid in fake.history:
                    self._send(200, {"signedTransactions": fake.history[tid], "hasMore": False, "revision": "r1",
                                     "bundleId": "com.ieltsgenaiprep.app", "environment": "Production"})  # fmt: skip
                else:
                    self._send(404, {"errorCode": 4040010, "errorMessage": "Transaction id not found."})

            def do_POST(self) -> None:
                fake.authorizations.append(self.headers.get("Authorization", ""))
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.split("?")[0] == "/inApps/v1/notifications/history":
                    items = [{"signedPayload": p, "sendAttempts": []} for p in fake.notifications]
                    self._send(200, {"notificationHistory": items, "hasMore": False})
                else:
                    self._send(404, {"errorCode": 4040000, "errorMessage": "not found"})

            def do_PUT(self) -> None:
                fake.authorizations.append(self.headers.get("Authorization", ""))
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if fake.fail_puts > 0:
                    fake.fail_puts -= 1
                    self._send(500, {"errorCode": 5000000, "errorMessage": "An unknown error occurred."})
                    return
                fake.consumption.append((self.path.rsplit("/", 1)[-1], body))
                self._send(202, None)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def client(self) -> AppleServerApi:
        key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return AppleServerApi(
            signing_key=key, key_id="KEY123", issuer_id="issuer", bundle_id="com.ieltsgenaiprep.app",
            base_urls={"Production": self.url, "Sandbox": self.url},
        )  # fmt: skip


@pytest.fixture
def app_store_api(container: Container) -> Iterator[FakeAppStoreServerApi]:
    """A fake App Store Server API installed in the container (before billing's services are built)."""
    fake = FakeAppStoreServerApi()
    container.__dict__["apple_server_api"] = fake.client()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture(scope="session")
def dynamodb_client() -> Iterator[Any]:
    """A boto3 DynamoDB client for a moto server on loopback, shared by the session (tables are per test)."""
    import boto3
    from moto.server import ThreadedMotoServer

    from ieltsprep.adapters.storage.dynamodb import BOTO_CONFIG

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client(
        "dynamodb", region_name="us-east-1", endpoint_url=f"http://{host}:{port}", aws_access_key_id="testing",
        aws_secret_access_key="testing", config=BOTO_CONFIG,
    )  # fmt: skip
    yield client
    client.close()
    server.stop()
