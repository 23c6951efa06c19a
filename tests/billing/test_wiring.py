"""How billing's adapters are built from settings: secrets from SSM, trust roots per stage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from moto import mock_aws

from ieltsprep.adapters.stores import StoreRejected
from ieltsprep.adapters.stores.google import PURCHASED
from ieltsprep.adapters.stores.local_store import FakePlayApi, LocalTestStore
from ieltsprep.container import Container
from ieltsprep.settings import Settings


def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    _aws_env(monkeypatch)
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def test_google_service_account_comes_from_ssm_and_authenticates_to_the_play_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _aws_env(monkeypatch)
    play = FakePlayApi("com.ieltsgenaiprep.app")
    try:
        settings = Settings(stage="local", data_dir=tmp_path, google_service_account_parameter="/ielts/google-sa",
                            google_play_api_root=play.root)  # fmt: skip
        container = Container(settings)
        with mock_aws():  # only around the SSM read: moto also intercepts plain HTTP, which the Play call needs
            boto3.client("ssm", region_name="us-east-1").put_parameter(
                Name="/ielts/google-sa", Value=json.dumps(play.service_account_info()), Type="SecureString"
            )
            client = container.google_play
        assert client is not None
        token = play.add_purchase("com.ieltsgenaiprep.general_writing")["purchaseToken"]
        assert client.get_purchase("com.ieltsgenaiprep.general_writing", token).purchase_state == PURCHASED
        assert container.fake_play_api is None  # the configured API root is used, not the test store's fake
    finally:
        play.close()


def test_apple_server_api_signs_its_requests_with_the_key_from_ssm(tmp_path: Path, ssm: object) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    ssm.put_parameter(Name="/ielts/apple-key", Value=pem.decode(), Type="SecureString")  # type: ignore[attr-defined]
    settings = Settings(stage="local", data_dir=tmp_path, apple_private_key_parameter="/ielts/apple-key",
                        apple_key_id="KEY1", apple_issuer_id="issuer-1")  # fmt: skip
    api = Container(settings).apple_server_api
    assert api is not None
    token = api._clients["Production"]._generate_token()
    assert jwt.get_unverified_header(token)["kid"] == "KEY1"
    claims = jwt.decode(token, key.public_key(), algorithms=["ES256"], audience="appstoreconnect-v1")
    assert claims["iss"] == "issuer-1" and claims["bid"] == "com.ieltsgenaiprep.app"


def test_unconfigured_store_clients_are_absent(tmp_path: Path) -> None:
    container = Container(Settings(stage="local", data_dir=tmp_path, test_store_enabled=False))
    assert container.apple_server_api is None and container.google_play is None and container.pubsub_verifier is None
    assert container.local_test_store is None and not (tmp_path / "test-store").exists()


def test_outside_the_local_stage_the_test_store_root_is_not_trusted(tmp_path: Path) -> None:
    local = LocalTestStore(tmp_path / "test-store", bundle_id="com.ieltsgenaiprep.app", app_apple_id=1)
    jws, _ = local.apple_transaction("com.ieltsgenaiprep.general_writing")
    prod = Settings(stage="prod", store="dynamodb", data_dir=tmp_path, cookie_secure=True, apple_app_id=1)
    with pytest.raises(StoreRejected, match="verification failed"):
        Container(prod).apple_verifier.verify_transaction(jws)
    assert Container(prod).local_test_store is None
