"""The local test store (stage ``local`` only): a certificate chain that signs StoreKit 2 data like Apple does, and a
loopback fake of the Google Play Developer API.

Nothing here is trusted outside the local stage: settings refuse ``IELTSPREP_TEST_STORE`` elsewhere, and only the
local stage adds this chain's root to the Apple verifier's roots. Every purchase made here is then verified by the
production code paths (``AppleVerifier``, ``GooglePlay``), so buying locally exercises the real checks.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import logging
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)

APPLE_INTERMEDIATE_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.2.1")
APPLE_LEAF_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.11.1")
LOCAL_APPLE_APP_ID = 1_000_000_001  # the app id the local store signs notifications with when none is configured
_VALID_DAYS = 3650


@dataclass(frozen=True)
class _Chain:
    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate
    leaf_key: ec.EllipticCurvePrivateKey

    @property
    def x5c(self) -> list[str]:
        return [
            base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
            for cert in (self.leaf, self.intermediate, self.root)
        ]


def _certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    apple_oid: x509.ObjectIdentifier | None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "IELTS GenAI Prep local test store"),
        ]
    )
    usage = x509.KeyUsage(
        digital_signature=not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    if apple_oid is not None:
        builder = builder.add_extension(x509.UnrecognizedExtension(apple_oid, b"\x05\x00"), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class LocalTestStore:
    """Signs StoreKit 2 transactions and V2 notifications with a chain kept under ``<data_dir>/test-store``."""

    def __init__(self, directory: Path, *, bundle_id: str, app_apple_id: int | None) -> None:
        self.directory = directory
        self.bundle_id = bundle_id
        self.app_apple_id = app_apple_id or LOCAL_APPLE_APP_ID
        self._lock = threading.Lock()
        self._chain = self._load_or_create()

    # --- certificate chain -------------------------------------------------------------------------------------
    def _load_or_create(self) -> _Chain:
        paths = {name: self.directory / f"{name}.pem" for name in ("root", "intermediate", "leaf", "leaf-key")}
        with self._lock:
            if not all(path.exists() for path in paths.values()):
                self.directory.mkdir(parents=True, exist_ok=True)
                root_key, intermediate_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
                root = _certificate("Local Test Root CA", root_key, None, root_key, ca=True, apple_oid=None)
                intermediate = _certificate(
                    "Local Test WWDR Intermediate", intermediate_key, root, root_key, ca=True,
                    apple_oid=APPLE_INTERMEDIATE_OID,
                )  # fmt: skip
                leaf = _certificate(
                    "Local Test StoreKit Signing", leaf_key, intermediate, intermediate_key, ca=False,
                    apple_oid=APPLE_LEAF_OID,
                )  # fmt: skip
                for name, cert in (("root", root), ("intermediate", intermediate), ("leaf", leaf)):
                    paths[name].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
                paths["leaf-key"].write_bytes(_pem_key(leaf_key))
                paths["leaf-key"].chmod(0o600)
                # The root and intermediate keys are not kept: nothing else is ever signed by them.
            key = serialization.load_pem_private_key(paths["leaf-key"].read_bytes(), password=None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            return _Chain(
                root=x509.load_pem_x509_certificate(paths["root"].read_bytes()),
                intermediate=x509.load_pem_x509_certificate(paths["intermediate"].read_bytes()),
                leaf=x509.load_pem_x509_certificate(paths["leaf"].read_bytes()),
                leaf_key=key,
            )

    @property
    def root_der(self) -> bytes:
        """The root certificate (DER) the local stage trusts."""
        return self._chain.root.public_bytes(serialization.Encoding.DER)

    def _sign(self, payload: dict[str, Any]) -> str:
        return jwt.encode(payload, self._chain.leaf_key, algorithm="ES256", headers={"x5c": self._chain.x5c})

    # --- issued transactions (kept so that notifications can refer to them) -----------------------------------
    @property
    def _ledger_path(self) -> Path:
        return self.directory / "apple-transactions.json"

    def _issued(self) -> dict[str, dict[str, Any]]:
        if not self._ledger_path.exists():
            return {}
        data = json.loads(self._ledger_path.read_text())
        return data if isinstance(data, dict) else {}

    def _remember(self, payload: dict[str, Any]) -> None:
        with self._lock:
            issued = self._issued()
            issued[str(payload["transactionId"])] = payload
            self._ledger_path.write_text(json.dumps(issued, indent=1))

    def apple_transaction(
        self, product_id: str, *, app_account_token: str | None = None, environment: str = "Production"
    ) -> tuple[str, dict[str, Any]]:
        """A StoreKit 2 consumable transaction signed like the App Store does: (JWS, payload)."""
        now_ms = int(time.time() * 1000)
        transaction_id = str(2_000_000_000_000_000 + uuid.uuid4().int % 10**15)  # Apple ids: 16 digits
        payload: dict[str, Any] = {
            "transactionId": transaction_id,
            "originalTransactionId": transaction_id,
            "bundleId": self.bundle_id,
            "productId": product_id,
            "type": "Consumable",
            "quantity": 1,
            "purchaseDate": now_ms,
            "originalPurchaseDate": now_ms,
            "signedDate": now_ms,
            "environment": environment,
            "inAppOwnershipType": "PURCHASED",
            "transactionReason": "PURCHASE",
            "storefront": "USA",
            "storefrontId": "143441",
            "price": 35990,
            "currency": "USD",
        }
        if app_account_token:
            payload["appAccountToken"] = app_account_token
        self._remember(payload)
        return self._sign(payload), payload

    def apple_notification(self, notification_type: str, transaction_id: str, *, subtype: str | None = None) -> str:
        """A signed V2 notification about a transaction this store issued (REFUND adds the revocation fields)."""
        transaction = self._issued().get(transaction_id)
        if transaction is None:
            raise KeyError(transaction_id)
        now_ms = int(time.time() * 1000)
        transaction = dict(transaction, signedDate=now_ms)
        if notification_type == "REFUND":
            transaction.update(revocationDate=now_ms, revocationReason=0, revocationType="REFUND_FULL")
        payload: dict[str, Any] = {
            "notificationType": notification_type,
            "notificationUUID": str(uuid.uuid4()),
            "version": "2.0",
            "signedDate": now_ms,
            "data": {
                "appAppleId": self.app_apple_id,
                "bundleId": self.bundle_id,
                "bundleVersion": "1",
                "environment": transaction["environment"],
                "signedTransactionInfo": self._sign(transaction),
            },
        }
        if subtype:
            payload["subtype"] = subtype
        if notification_type == "CONSUMPTION_REQUEST":
            payload["data"]["consumptionRequestReason"] = "UNSATISFIED_WITH_PURCHASE"
        return self._sign(payload)


# --- the loopback fake of the Google Play Developer API ------------------------------------------------------------
@functools.cache
def _service_account_pem() -> str:
    # One key per process: RSA generation is slow, and the fake's token endpoint does not check the signature.
    return _pem_key(rsa.generate_private_key(public_exponent=65537, key_size=2048)).decode()


class FakePlayApi:
    """A loopback HTTP server speaking the androidpublisher v3 endpoints billing uses, plus an OAuth token endpoint.

    The local test store "sells" by adding purchases here; the real ``GooglePlay`` adapter then reads and consumes
    them over HTTP with a service-account token, exactly as it would talk to Google.
    """

    def __init__(self, package_name: str) -> None:
        self.package_name = package_name
        self.purchases: dict[str, dict[str, Any]] = {}  # purchase token -> ProductPurchase JSON
        self.voided: list[dict[str, Any]] = []
        self.fail_consume: int = 0  # tests: how many consume calls to answer with 503 before succeeding
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-play-api", daemon=True
        )
        self._thread.start()

    @property
    def root(self) -> str:
        """Base URL to use as ``google_play_api_root``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def service_account_info(self) -> dict[str, str]:
        """Service-account JSON whose token endpoint is this server (the real google-auth flow runs against it)."""
        return {
            "type": "service_account",
            "project_id": "local-test-store",
            "private_key_id": "local",
            "private_key": _service_account_pem(),
            "client_email": "billing@local-test-store.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": self.root + "token",
        }

    def add_purchase(
        self, product_id: str, *, obfuscated_account_id: str | None = None, state: int = 0, test: bool = False
    ) -> dict[str, Any]:
        """Record a purchase as Google would after a checkout; returns the validator transaction object."""
        token = "local." + uuid.uuid4().hex + uuid.uuid4().hex
        order_id = f"GPA.{uuid.uuid4().int % 10**4:04d}-{uuid.uuid4().int % 10**4:04d}-{uuid.uuid4().int % 10**4:04d}"
        purchase: dict[str, Any] = {
            "kind": "androidpublisher#productPurchase",
            "purchaseTimeMillis": str(int(time.time() * 1000)),
            "purchaseState": state,
            "consumptionState": 0,
            "orderId": order_id,
            "acknowledgementState": 0,
            "quantity": 1,
            "regionCode": "US",
            "productId": product_id,
        }
        if obfuscated_account_id:
            purchase["obfuscatedExternalAccountId"] = obfuscated_account_id
        if test:
            purchase["purchaseType"] = 0
        with self._lock:
            self.purchases[token] = purchase
        receipt = json.dumps({"orderId": order_id, "packageName": self.package_name, "productId": product_id,
                              "purchaseToken": token, "purchaseState": state})  # fmt: skip
        return {
            "type": "android-playstore",
            "id": order_id,
            "purchaseToken": token,
            "receipt": receipt,
            "signature": "",
        }

    def void(self, token: str) -> None:
        """Refund a purchase: it becomes cancelled and appears in the voided purchases list."""
        with self._lock:
            purchase = self.purchases[token]
            purchase["purchaseState"] = 1
            self.voided.append(
                {
                    "kind": "androidpublisher#voidedPurchase",
                    "purchaseToken": token,
                    "orderId": purchase["orderId"],
                    "voidedTimeMillis": str(int(time.time() * 1000)),
                    "voidedSource": 0,
                    "voidedReason": 1,
                }
            )

    def close(self) -> None:
        """Stop the server."""
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: object | None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                url = urllib.parse.urlsplit(self.path)
                fake.requests.append((method, url.path))
                if method == "POST" and url.path == "/token":
                    self._send(200, {"access_token": "local-" + uuid.uuid4().hex, "expires_in": 3600,
                                     "token_type": "Bearer"})  # fmt: skip
                    return
                if not (self.headers.get("Authorization") or "").startswith("Bearer local-"):
                    self._send(401, {"error": {"code": 401, "message": "missing credentials"}})
                    return
                prefix = f"/androidpublisher/v3/applications/{fake.package_name}/purchases/"
                if not url.path.startswith(prefix):
                    self._send(404, {"error": {"code": 404, "message": "not found"}})
                    return
                rest = urllib.parse.unquote(url.path[len(prefix) :])
                if method == "GET" and rest == "voidedpurchases":
                    with fake._lock:
                        self._send(200, {"voidedPurchases": list(fake.voided)})
                    return
                parts = rest.split("/")
                if len(parts) == 4 and parts[0] == "products" and parts[2] == "tokens":
                    product_id, token = parts[1], parts[3]
                    action = None
                    if ":" in token:
                        token, action = token.split(":", 1)
                    with fake._lock:
                        purchase = fake.purchases.get(token)
                        if purchase is None or purchase.get("productId") != product_id:
                            self._send(400, {"error": {"code": 400, "message": "Invalid Value"}})
                            return
                        if method == "GET" and action is None:
                            self._send(200, {k: v for k, v in purchase.items() if k != "productId"})
                            return
                        if method == "POST" and action == "consume":
                            if fake.fail_consume > 0:
                                fake.fail_consume -= 1
                                self._send(503, {"error": {"code": 503, "message": "Backend error"}})
                                return
                            purchase["consumptionState"] = 1
                            purchase["acknowledgementState"] = 1
                            self._send(204, None)
                            return
                self._send(404, {"error": {"code": 404, "message": "not found"}})

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def log_message(self, format: str, *args: Any) -> None:
                # The request line holds the purchase token: log the method and status only.
                log.debug("fake play api: %s %s", self.command, args[1] if len(args) > 1 else "")

        return Handler
