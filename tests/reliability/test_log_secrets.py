"""Passwords, tokens, store receipts/JWS and audio never reach the logs, even at DEBUG.

The whole platform runs as ``ieltsprep serve`` (every logger it has, including the gateway's access log) with its
output captured to a file; the flows that carry secrets run over HTTP and WebSocket; then the log is searched.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Sup3r-Secret-Passphrase-4-logs"
WRONG_PASSWORD = "Wr0ng-Guess-Passphrase-4-logs"
PRODUCT = "com.ieltsgenaiprep.academic_writing"

pytestmark = pytest.mark.timeout(120)


def _serve(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IELTSPREP_")}
    env.update(IELTSPREP_LOG_LEVEL="DEBUG", IELTSPREP_TEST_STORE="true", IELTSPREP_COOKIE_SECURE="false",
               IELTSPREP_PASSWORD_TIME_COST="1", IELTSPREP_PASSWORD_MEMORY_KIB="8192",
               PYTHONPATH=str(ROOT / "src"))  # fmt: skip
    out = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ieltsprep.cli", "serve", "--port", "0", "--data-dir", str(data_dir)],
        stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
    )  # fmt: skip
    for _ in range(600):
        match = re.search(r"http://127\.0\.0\.1:\d+", log.read_text(errors="replace"))
        if match:
            return process, match.group(0)
        if process.poll() is not None:
            break
        asyncio.run(asyncio.sleep(0.05))
    process.kill()
    raise AssertionError(f"server did not start: {log.read_text(errors='replace')}")


async def _flows(base: str) -> dict[str, str]:
    """Every flow that carries a secret; returns the secrets that were sent or received."""
    secrets: dict[str, str] = {"password": PASSWORD, "wrong password": WRONG_PASSWORD}
    consent = {"terms": True, "age_16_plus": True}
    async with aiohttp.ClientSession() as http:

        async def call(method: str, path: str, body: Any = None, token: str = "", status: int = 200) -> Any:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with http.request(method, base + path, json=body, headers=headers) as response:
                text = await response.text()
                assert response.status == status, (path, response.status, text)
                return json.loads(text) if text else None

        await call("POST", "/api/auth/register", {"email": "logs@example.com", "password": PASSWORD,
                                                   "consent": consent}, status=201)  # fmt: skip
        await call("POST", "/api/auth/login", {"email": "logs@example.com", "password": WRONG_PASSWORD}, status=401)
        token = (await call("POST", "/api/auth/login", {"email": "logs@example.com", "password": PASSWORD}))["token"]
        secrets["session token"] = token
        apple = (await call("POST", "/api/dev/test-store/transactions", {"product_id": PRODUCT, "platform": "apple"},
                            status=201))["transaction"]  # fmt: skip
        secrets["StoreKit JWS"] = apple["jwsRepresentation"]
        secrets["StoreKit JWS signature"] = apple["jwsRepresentation"].rsplit(".", 1)[1]
        verified = await call("POST", "/api/purchases/verify", {"id": PRODUCT, "transaction": apple}, token=token)
        assert verified["ok"] is True, verified
        google = (await call("POST", "/api/dev/test-store/transactions", {"product_id": PRODUCT,
                                                                           "platform": "google"}, status=201))  # fmt: skip
        transaction = google["transaction"]
        secrets["Play purchase token"] = transaction["purchaseToken"]
        verified = await call("POST", "/api/purchases/verify", {"id": PRODUCT, "transaction": transaction}, token=token)
        assert verified["ok"] is True, verified
        refund = await call("POST", "/api/dev/test-store/notifications", {"platform": "apple",
                            "notification_type": "REFUND", "transaction_id": _transaction_id(apple)},
                            status=201)  # fmt: skip
        secrets["notification JWS"] = refund["body"]["signedPayload"]
        await call("POST", "/api/purchases/apple/notifications", refund["body"])
        receipt = {"type": "ios-appstore", "id": "1", "appStoreReceipt": "MIIRECEIPT" + "Q" * 120}
        secrets["app receipt"] = receipt["appStoreReceipt"]
        await call("POST", "/api/purchases/verify", {"id": PRODUCT, "transaction": receipt}, token=token)
        audio = base64.b64encode(random.Random(7).randbytes(3200)).decode()
        secrets["audio"] = audio
        ws = base.replace("http://", "ws://") + f"/ws?token={token}"
        async with http.ws_connect(ws) as socket:
            await socket.send_str(json.dumps({"action": "nova-sonic-stream", "type": "audio", "seq": 0,
                                              "data": audio}))  # fmt: skip
            reply = await socket.receive(timeout=30)
            assert reply.type == aiohttp.WSMsgType.TEXT and audio not in reply.data
        await call("DELETE", "/api/me", {"password": PASSWORD}, token=token, status=204)
    return secrets


def _transaction_id(apple: dict[str, Any]) -> str:
    payload = apple["jwsRepresentation"].split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["transactionId"])


def test_no_password_token_receipt_jws_or_audio_reaches_the_logs_at_debug(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    process, base = _serve(tmp_path / "var", log)
    try:
        secrets = asyncio.run(_flows(base))
    finally:
        process.terminate()
        process.wait(timeout=20)
    text = log.read_text(errors="replace")
    assert '"message":"request"' in text.replace(" ", ""), "the access log was not captured"
    leaked = {name: value for name, value in secrets.items() if value[:32] in text or value[-32:] in text}
    assert leaked == {}, f"secrets in the log: {sorted(leaked)}"
