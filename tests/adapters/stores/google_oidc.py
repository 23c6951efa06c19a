"""Google OIDC stand-in for offline tests: signs Pub/Sub push tokens and serves their certificates on loopback."""

from __future__ import annotations

import datetime
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

AUDIENCE = "https://api.example.com/api/purchases/google/notifications"
PUSH_ACCOUNT = "pubsub-push@example-project.iam.gserviceaccount.com"


@dataclass
class GoogleOidc:
    """Signs tokens like Google does for Pub/Sub push and serves the matching certificates."""

    key: rsa.RSAPrivateKey
    certs_url: str

    def token(self, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "email": PUSH_ACCOUNT,
            "email_verified": True,
            "sub": "1234567890",
            "iat": now,
            "exp": now + 3600,
        }
        claims.update(overrides)
        return jwt.encode({k: v for k, v in claims.items() if v is not None}, self.key, "RS256", headers={"kid": "k1"})


@contextmanager
def serve_google_oidc() -> Iterator[GoogleOidc]:
    """A key, a self-signed certificate for it, and a loopback server publishing the certificate as Google does."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-google-oidc")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2)).sign(key, hashes.SHA256())
    )  # fmt: skip
    certs = json.dumps({"k1": cert.public_bytes(serialization.Encoding.PEM).decode()}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(certs)))
            self.end_headers()
            self.wfile.write(certs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    host, port = server.server_address[:2]
    try:
        yield GoogleOidc(key, f"http://{host!s}:{port}/certs")
    finally:
        server.shutdown()
        server.server_close()
